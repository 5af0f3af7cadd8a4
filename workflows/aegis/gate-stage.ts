import { CancellationScope, patched } from '@temporalio/workflow';
import { gateCompared, gateConcurrency, gateInRankingOrder, gateSeeds, VerdictApplied } from '../../aegis/gate-waves';
import { evolutionAllowance } from '../../aegis/run-budget';
import { sequentialFirstChunk } from '../../aegis/sequential-gate';
import { addSpend } from '../../aegis/run-state';
import { gateAction, reputationAfterGate, unseenGainRequired, scoreAfterShip, triedAfterGate, triedAfterReviewerRejection } from '../../aegis/round-decisions';
import type { GateResult } from '../../aegis/types';
import { ActivityResult, cancellableRollouts, rollouts } from './activities';
import { awaitApproval } from './approval';
import { AegisRun, finalBesideGate, startFinalEvaluation } from './run';
import type { Shortlist } from './stages';
import { adoptCandidate, forkCandidate, RoundFocus } from './strategies';

/**
 * A gate activity's result; results recorded by workers older than the gate's spend report carry none.
 * evaluatedTasks and budgetStopped come from sequential gating (aegis/sequential-gate.ts).
 */
type GateVerdict = GateResult & { spend?: { tokens: number; costUsd: number | null }; evaluatedTasks?: number; budgetStopped?: boolean; prepaidUsed?: boolean };

/** A gate's spend and coverage for its audit record: what the gate cost per candidate, and over how many of its tasks the candidate ran. */
const gateSpendRecord = (gate: GateVerdict) => ({ ...(gate.spend ? { tokens: gate.spend.tokens, costUsd: gate.spend.costUsd } : {}), ...(gate.evaluatedTasks !== undefined ? { evaluatedTasks: gate.evaluatedTasks } : {}) });

/**
 * The gate stage: the critic's ranked candidates go through the deterministic gate in ranking order; the
 * first that ships (or forks a variant) ends the round. Each verdict updates the tried edits and the bucket
 * reputations before the next candidate, so verdicts are applied in ranking order. Where one candidate's
 * episodes cannot keep the endpoint busy, the candidates after the first are evaluated several at once
 * (gateConcurrency, gateWaves) and their verdicts still applied in ranking order (gateInRankingOrder): what ships is the same as one at
 * a time; candidates evaluated after the one that decided are recorded as not needed, their spend counted.
 * Returns true when the round shipped.
 */
export async function gateStage(run: AegisRun, round: number, focus: RoundFocus, shortlist: Shortlist): Promise<boolean> {
  const { input, state: s, controls } = run;
  const { pool } = shortlist;
  const candidateOf = (candidateId: string) => pool.candidates.find((c) => c.candidateId === candidateId)!;
  const wanted = gateConcurrency({
    requested: input.gateConcurrency,
    limits: s.endpointLimits,
    model: input.model,
    // The candidate's episodes only: after the first gate the incumbent's outcomes are cached.
    episodesPerCandidate: focus.gateTaskIds.length * input.k * gateSeeds(input.seed, input.gating).length,
    candidates: shortlist.ranking.length,
  });
  // patched only where it changes something: runs that gate one at a time record the same commands as before.
  const concurrency = wanted > 1 && patched('concurrent-gate') ? wanted : 1;
  if (concurrency > 1) controls.lastEvent = `round ${round}: gating ${shortlist.ranking.length} candidates, the first alone, then ${concurrency} at once`;
  const gateInput = gateInputs(run, focus, pool.candidatesRef);

  // The incumbent's validation outcomes, when overlap had them measured or rolled out early, are in the
  // cache before the first gate reads them: a gate never runs the same episodes beside them. The early
  // baseline's spend is the first comparing gate's (prepaid), where it was before overlap.
  await run.overlap.measured(focus.base);
  const early = run.overlap.takeBaseline(focus.base);
  let prepaid = early ? (await early).spend : undefined;
  // The run's last round: candidates' final evaluations beside their gates, when they fit the endpoint's
  // slack (aegis/overlap.ts); runs recorded before 'final-with-every-gate' started the first candidate's only.
  const finalBeside = finalBesideGate(run, round) ? (patched('final-with-every-gate') ? () => true : (candidateId: string) => candidateId === shortlist.ranking[0]) : () => false;
  // The next candidate gated beside the current one, at background priority (aegis/overlap.ts gateLookahead).
  const lookahead = run.overlap.plan.gateLookahead && shortlist.ranking.length > 1 && patched('gate-lookahead');
  /** How to cancel a gate started ahead, by candidate (the gates started ahead, or begun during the critique, are its keys). */
  const cancelAhead = new Map<string, () => void>();
  const started = takeGateBegunDuringCritique(run, shortlist, cancelAhead);
  for (const candidateId of started.keys()) if (finalBeside(candidateId)) startFinalEvaluation(run, candidateOf(candidateId).harnessId, 'background');

  const gated = await gateInRankingOrder<string, GateVerdict>({
    ranking: shortlist.ranking,
    concurrency,
    mayContinue: () => run.budgetLeft(),
    ...(lookahead ? { lookahead: { discard: (candidateId: string, verdict: Promise<GateVerdict>) => run.overlap.discardWork(`gate of ${candidateId} started ahead`, verdict, cancelAhead.get(candidateId)) } } : {}),
    ...(started.size ? { started: { evaluations: started, discard: (candidateId: string, verdict: Promise<GateVerdict>) => run.overlap.discardWork(`gate of ${candidateId} begun during the critique`, verdict, cancelAhead.get(candidateId)) } } : {}),
    evaluate: async (candidateId, ahead) => {
      if (finalBeside(candidateId)) startFinalEvaluation(run, candidateOf(candidateId).harnessId, ahead ? 'background' : undefined);
      // A gate started ahead carries no baseline spend: when it is applied, the verdict takes what is still unpaid (apply, below).
      const paid = ahead ? undefined : prepaid;
      if (!ahead) prepaid = undefined;
      const gate = gateInput(candidateId, { prepaid: paid, background: ahead });
      // A gate started ahead runs in its own cancellation scope: dropped, it is cancelled rather than awaited.
      const scope = ahead ? new CancellationScope() : null;
      if (scope) cancelAhead.set(candidateId, () => scope.cancel());
      const verdict = await (scope ? scope.run(() => cancellableRollouts.gate(gate)) : rollouts.gate(gate));
      // A gate that stopped at its static checks compared nothing: the next gate pays for the baseline.
      if (paid && !verdict.prepaidUsed) prepaid = paid;
      return verdict;
    },
    apply: (candidateId, gate) => {
      // A gate started ahead pays the baseline when it is the first to compare, as it would have in its turn.
      if (cancelAhead.has(candidateId) && prepaid && gateCompared(gate)) {
        gate = { ...gate, spend: addSpend(gate.spend ?? { tokens: 0, costUsd: 0 }, prepaid), prepaidUsed: true };
        prepaid = undefined;
      }
      return applyVerdict(run, round, focus, shortlist, candidateOf(candidateId), gate);
    },
    notNeeded: async (candidateId, gate) => {
      run.account(gate.spend);
      const candidate = candidateOf(candidateId);
      await run.audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'info', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, notNeeded: true, passed: gate.passed, reason: gate.reason, ...gateSpendRecord(gate) } });
    },
  });
  // No gate compared (every candidate stopped at its static checks): the baseline waits for the next gate of this harness.
  if (prepaid) run.overlap.returnBaseline(focus.base, prepaid);
  if (gated.end === 'stopped') return run.noop(round, 'budget exhausted before the gate');
  return gated.end === 'decided' && gated.shipped;
}

/**
 * The gate activity's input for a candidate of this round. Sequential gating (same verdicts, fewer candidate
 * episodes) and the gate's budget allowance apply to the global strategy's seesaw only: an ensemble fork
 * needs every unlocked task of a rejected candidate, and statistical gating compares whole repeats. Runs
 * recorded before it replay gating every task.
 */
function gateInputs(run: AegisRun, focus: RoundFocus, candidatesRef: string) {
  const { input, state: s } = run;
  const sequential = input.strategy !== 'ensemble' && input.gating?.mode !== 'statistical' && patched('sequential-gate');
  const validation = new Set(s.validationIds);
  const firstChunk = sequentialFirstChunk({ requested: input.gateChunk, limits: s.endpointLimits, model: input.model, episodesPerTask: input.k });
  // The rule on unseen tasks (aegis/gate.ts withUnseenGain): the gain must show on the validation tasks, which
  // the candidate's author never saw. Runs recorded before it replay with the comparison alone.
  const unseen = patched('gate-unseen-gain') ? { unseenTaskIds: focus.gateTaskIds.filter((id) => validation.has(id)), minUnseenGain: unseenGainRequired(input) } : {};
  return (candidateId: string, o: { prepaid?: ActivityResult<'evaluate'>['spend']; background?: boolean; cancellable?: boolean } = {}) => ({
    benchmark: input.benchmark,
    candidatesRef,
    candidateId,
    incumbentId: focus.base,
    gateTaskIds: focus.gateTaskIds,
    k: input.k,
    seed: input.seed,
    minGain: input.minGain,
    gating: input.gating,
    endpointLimits: input.endpointLimits,
    ...unseen,
    // The allowance is read when the gate starts: the budget left after every verdict applied before it.
    ...(sequential ? { sequential: { firstTaskIds: focus.gateTaskIds.filter((id) => validation.has(id)), firstChunk }, allowance: evolutionAllowance(input, s) } : {}),
    ...(o.prepaid ? { prepaid: o.prepaid } : {}),
    ...(o.background ? { priority: 'background' as const } : {}),
    ...(o.cancellable ? { cancellable: true } : {}),
  });
}

/**
 * How long the Evolver must have taken (workflow time, so replays decide alike) for the critique to be worth
 * filling: a meta-agent that answers at once (the rule-based one) leaves nothing to fill, and a gate begun
 * then only competes with the first-ranked candidate's when the Critic reorders (measured at 1 s per call:
 * that gate took 50 s instead of 30).
 */
const META_STAGE_WORTH_FILLING_MS = 1000;

/**
 * While the Critic ranks, the Evolver's first candidate is gated (aegis/overlap.ts gateDuringCritique),
 * cancellable (its rollouts watch the cancellation, at foreground priority too), once the incumbent's validation outcomes are in the cache (a pending measurement or early
 * baseline of them settled), as for a gate in its turn. It carries no baseline spend: the gate stage adds it
 * when this verdict is the first to compare, as for a gate started ahead. It runs at foreground priority,
 * unlike other speculation: it is used whenever the Critic ranks its candidate and the round gets that far
 * (usually: it is usually the first or second in the ranking), and then it is the stage the round waits on;
 * at background priority it shared the endpoint with the final evaluations run beside the gates and the
 * 200 ms round slowed from 33.6 to 36.1 s.
 */
export function beginGateDuringCritique(run: AegisRun, focus: RoundFocus, evolved: Shortlist['pool'], evolveMs: number): void {
  const first = evolved.candidates[0];
  if (!run.overlap.plan.gateDuringCritique || !first || evolveMs < META_STAGE_WORTH_FILLING_MS || run.controls.stopping || !patched('gate-during-critique')) return;
  const gate = gateInputs(run, focus, evolved.candidatesRef)(first.candidateId, { cancellable: true });
  const scope = new CancellationScope();
  const verdict = scope.run(async () => {
    await run.overlap.measured(focus.base);
    await run.overlap.baselineSettled(focus.base);
    return cancellableRollouts.gate(gate);
  });
  run.overlap.startEarlyGate({ candidateId: first.candidateId, harnessId: first.harnessId, candidatesRef: evolved.candidatesRef, verdict, cancel: () => scope.cancel() });
}

/**
 * The gate begun during the critique, for the gate stage: used in its candidate's turn when the Critic kept
 * the candidates as the Evolver made them and ranked it; cancelled otherwise. Not cancelled merely for being
 * ranked later: its finished rollouts' outcomes are in the run's outcome cache, so that candidate's gate in
 * its turn would reuse them free, and the round's evolution spend would differ from a run without overlap.
 */
function takeGateBegunDuringCritique(run: AegisRun, shortlist: Shortlist, cancelAhead: Map<string, () => void>): Map<string, Promise<GateVerdict>> {
  const begun = run.overlap.takeEarlyGate();
  if (!begun) return new Map();
  if (begun.candidatesRef !== shortlist.pool.candidatesRef || !shortlist.ranking.includes(begun.candidateId)) {
    run.overlap.discardEarlyGate(begun);
    return new Map();
  }
  cancelAhead.set(begun.candidateId, begun.cancel);
  return new Map([[begun.candidateId, begun.verdict]]);
}

/** One candidate's verdict, applied: spend, tried edits, reputation, audit; then reject, fork, or (after approval) ship. */
async function applyVerdict(run: AegisRun, round: number, focus: RoundFocus, shortlist: Shortlist, candidate: Shortlist['pool']['candidates'][number], gate: GateVerdict): Promise<VerdictApplied> {
  const { input, state: s, controls } = run;
  const { pool } = shortlist;
  const { candidateId } = candidate;
  run.account(gate.spend);
  if (gate.budgetStopped) {
    // Undecided, not rejected: the budget ran out mid-gate. Nothing is learned about the edit, so neither
    // the tried edits nor the reputations move; the round ends without a ship.
    controls.lastEvent = `round ${round}: gate of ${candidate.editKey} stopped undecided (evolution budget spent)`;
    await run.audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'info', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, budgetStopped: true, reason: gate.reason, checks: gate.checks, ...gateSpendRecord(gate) } });
    return { done: true, shipped: false };
  }
  const edit = { key: candidate.editKey, bucket: candidate.bucket, harnessId: focus.base };
  s.tried = triedAfterGate(s.tried, edit, gate);
  s.reputation = reputationAfterGate(s.reputation, candidate.bucket, gate.passed);
  const action = gateAction(gate, { ensemble: focus.variant !== null, minGain: input.minGain });
  if (action !== 'ship') {
    s.rejected++;
    controls.lastEvent = `round ${round}: rejected ${candidate.editKey} (${gate.reason})`;
    await run.audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'rollback', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, reason: gate.reason, checks: gate.checks, ...gateSpendRecord(gate) } });
    if (action === 'fork') {
      await forkCandidate(run, round, focus, candidate, gate, pool.candidatesRef);
      return { done: true, shipped: true };
    }
    return { done: false };
  }
  await run.audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'info', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, checks: gate.checks, ...gateSpendRecord(gate) } });
  if (input.approval === 'human') {
    const verdict = await awaitApproval(run, round, candidate, gate);
    if (!verdict.approve) {
      s.rejected++;
      s.tried = triedAfterReviewerRejection(s.tried, edit, verdict.reason);
      if (controls.stopping) return { done: true, shipped: false };
      return { done: false };
    }
  }
  await run.audit({
    key: `${round}:ship`,
    round,
    stage: 'ship',
    kind: 'commit',
    candidateId,
    harnessId: candidate.harnessId,
    payload: { ...(focus.variant ? { variant: focus.variant } : {}), from: focus.base, to: candidate.harnessId, editKey: candidate.editKey, bucket: candidate.bucket, gate: { incumbentPassed: gate.incumbentPassed, candidatePassed: gate.candidatePassed, gateTasks: gate.gateTasks, unlocked: gate.unlocked } },
    evidenceRefs: [pool.candidatesRef],
  });
  adoptCandidate(run, focus, candidate.harnessId);
  s.shipped++;
  s.bestScore = scoreAfterShip(gate);
  controls.lastEvent = `round ${round}: shipped ${candidate.editKey} (${gate.incumbentPassed} → ${gate.candidatePassed} of ${gate.gateTasks})`;
  return { done: true, shipped: true };
}

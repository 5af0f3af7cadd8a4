import { continueAsNew, log, patched, workflowInfo } from '@temporalio/workflow';
import { MAX_ROUND_RECOMPUTES, unavailableArtifact } from '../aegis/recompute';
import { regressionGuardDue } from '../aegis/round-decisions';
import type { AuditRecord } from '../aegis/types';
import { heldOutAfterRound, measurementSpend, stateAfterRound } from '../aegis/run-state';
import type { RunSummary } from '../aegis/run-summary';
import { labelActivitiesWith } from './aegis/activities';
import { installControls, RunControls } from './aegis/controls';
import { finishRun } from './aegis/final-evaluation';
import { gateStage } from './aegis/gate-stage';
import { trackHeldOut } from './aegis/held-out';
import { guardAgainstDrift } from './aegis/regression-guard';
import { AegisRun, openRun, parseEvolveInput } from './aegis/run';
import { critiqueStage, digestStage, evolveStage, planStage, rolloutStage, roundBatch } from './aegis/stages';
import { rollouts } from './aegis/activities';
import { speculationWorthwhile } from '../aegis/overlap';

// What cli/, workers and tests import from here: the run's types and its query, signal and update definitions.
export type { PendingApproval, RunState, RunStatus, Stage } from '../aegis/run-state';
export type { RunSummary } from '../aegis/run-summary';
export { decideUpdate, pauseSignal, resumeSignal, setBudgetUpdate, statusQuery, stopSignal } from './aegis/controls';

/**
 * AEGIS (Algorithm 1): after setup, each round runs rollout → digest → plan → evolve → critique →
 * deterministic gate, then accounts for itself; every N rounds the regression guard checks for drift. The
 * loop ends on a stop request, spent budget, the round budget or patience; a final evaluation follows.
 * Each step lives in workflows/aegis/ (Temporal side) and its decisions in aegis/ (pure, unit-tested).
 */
export async function evolveHarness(rawInput: unknown): Promise<RunSummary> {
  const input = parseEvolveInput(rawInput);
  const controls = new RunControls(workflowInfo().workflowId, input);
  installControls(controls);
  labelActivitiesWith(() => ({ round: controls.state?.round ?? 0, stage: controls.stage }));
  const run = await openRun(input, controls);
  const s = run.state;
  controls.publish('running');
  let stopReason: string | null;
  while (!(stopReason = run.stopReason())) {
    const round = ++s.round;
    const shipped = await roundRecomputingArtifacts(run, round);
    await accountRound(run, round, shipped);
    // patched: histories recorded before the guard existed replay without it.
    if (regressionGuardDue(input.regressionGuard, round) && run.budgetLeft() && patched('regression-guard')) await guardAgainstDrift(run, round);
    controls.publish(controls.stopping ? 'stopped' : run.budgetLeft() ? 'running' : 'budget_exhausted');
    if (workflowInfo().continueAsNewSuggested && !controls.stopping) {
      log.info('continuing as new', { round });
      await settleOverlap(run);
      await continueAsNew<typeof evolveHarness>({ ...input, rounds: s.budget.rounds, patience: s.budget.patience, resume: s });
    }
  }
  await run.overlap.drain();
  await controls.enter('final');
  return finishRun(run, stopReason);
}

/**
 * Before continue-as-new: every background step settled and accounted (a new history cannot await this
 * one's activities). The seed's final evaluation, when it ran early, is accounted now; the final
 * evaluation then finds its outcomes in the run's cache, paid.
 */
async function settleOverlap(run: AegisRun): Promise<void> {
  await run.overlap.drain();
  const early = run.overlap.seedFinal;
  if (!early) return;
  run.overlap.seedFinal = null;
  for (const r of [await early.train, early.test && (await early.test)]) if (r) run.accountMeasurement(r.spend);
}

/**
 * One round, run again from its rollout when an activity found an artifact of the round missing or damaged
 * (aegis/recompute.ts): the activity that wrote it runs again, instead of the run failing. After
 * MAX_ROUND_RECOMPUTES more runs the round ends as a no-op naming the artifact. Each recompute is in the audit
 * log. Histories recorded before this (no 'recompute-unavailable-artifacts' marker) replay without it.
 */
async function roundRecomputingArtifacts(run: AegisRun, round: number): Promise<boolean> {
  if (!patched('recompute-unavailable-artifacts')) return aegisRound(run, round);
  // What a round's stages read from the state and change: restored before running it again, so the second
  // run starts where the first did (its spend stays accounted: it was spent).
  const start = { previousDigestRef: run.state.previousDigestRef, ...(run.state.variants ? { variants: run.state.variants } : {}) };
  try {
    for (let redo = 1; ; redo++) {
      try {
        return await aegisRound(run, round);
      } catch (e) {
        const lost = unavailableArtifact(e);
        if (!lost) throw e;
        const giveUp = redo > MAX_ROUND_RECOMPUTES;
        run.redo = 0;
        await run.audit({
          key: `${round}:recompute-${redo}`,
          round,
          stage: run.controls.stage as AuditRecord['stage'],
          kind: 'info',
          harnessId: run.state.incumbentId,
          payload: { artifact: lost.ref, reason: lost.reason, action: giveUp ? 'round ends as a no-op' : 'the round runs again from its rollout, which writes its artifacts again' },
        });
        if (giveUp) return await run.noop(round, `artifact ${lost.ref} was ${lost.reason === 'missing' ? 'not in the store' : 'damaged'} after the round ran ${redo} times`);
        run.controls.lastEvent = `round ${round}: artifact ${lost.ref} ${lost.reason}; running the round again`;
        run.redo = redo;
        Object.assign(run.state, start);
        run.overlap.drop('all');
      }
    }
  } finally {
    run.redo = 0;
  }
}

/** One round; true when a candidate shipped (or forked a variant). Each stage may end the round as a no-op. */
async function aegisRound(run: AegisRun, round: number): Promise<boolean> {
  await run.controls.enter('rollout');
  const focus = await rolloutStage(run, round);
  if ('noop' in focus) return run.noop(round, focus.noop);
  speculateNextBatch(run, round);
  await run.controls.enter('digest');
  const digest = await digestStage(run, round, focus);
  if ('noop' in digest) return run.noop(round, digest.noop);
  await run.controls.enter('plan');
  const plan = await planStage(run, round, focus, digest);
  if ('noop' in plan) return run.noop(round, plan.noop);
  await run.controls.enter('evolve');
  const evolved = await evolveStage(run, round, focus, digest, plan);
  if ('noop' in evolved) return run.noop(round, evolved.noop);
  await run.controls.enter('critique');
  const shortlist = await critiqueStage(run, round, focus, digest, evolved);
  if ('noop' in shortlist) return run.noop(round, shortlist.noop);
  await run.controls.enter('gate');
  return gateStage(run, round, focus, shortlist);
}

/**
 * Round end: patience and the pass-rate history, held-out tracking (with the evolution tokens spent so far,
 * for tokens-to-target), and the round's audit record with both spends.
 */
async function accountRound(run: AegisRun, round: number, shipped: boolean): Promise<void> {
  const s = run.state;
  Object.assign(s, stateAfterRound(s, round, shipped));
  // What the round ended with, before the next round (or a background measurement) moves anything.
  const end = { harnessId: s.incumbentId, passRate: s.lastPassRate, tokens: s.tokens, costUsd: s.costUsd };
  const measure = async () => {
    const heldOut = await trackHeldOut(run, end.harnessId);
    s.heldOut = heldOutAfterRound(s.heldOut, { round, evolutionTokens: end.tokens, ...heldOut });
    const spend = { tokens: end.tokens, costUsd: end.costUsd, measurementTokens: measurementSpend(s).tokens, measurementUsd: measurementSpend(s).costUsd };
    await run.audit({ key: `${round}:round_end`, round, stage: 'round_end', kind: 'info', harnessId: end.harnessId, payload: { shipped, passRate: end.passRate, ...heldOut, ...spend } });
  };
  // Measurement decides nothing evolution does: with overlap it runs while the next round works.
  if (run.overlap.plan.measureInBackground) run.overlap.measureLater(end.harnessId, measure);
  else await measure();
}

/**
 * While the meta-agent works on this round, the next round's batch rollout of the incumbent (aegis/overlap.ts):
 * the next round uses it when the incumbent is still the same, and drops it otherwise.
 */
function speculateNextBatch(run: AegisRun, round: number): void {
  const { input, state: s, controls } = run;
  if (!run.overlap.plan.speculateNextBatch) return;
  if (!speculationWorthwhile({ round, rounds: s.budget.rounds, guardDueAfterRound: regressionGuardDue(input.regressionGuard, round), stopping: controls.stopping })) return;
  const next = round + 1;
  run.overlap.startSpeculation(s.incumbentId, next, () => rollouts.rollout({ benchmark: input.benchmark, harnessId: s.incumbentId, taskIds: roundBatch(run, next), k: input.k, seed: input.seed, endpointLimits: input.endpointLimits }));
}

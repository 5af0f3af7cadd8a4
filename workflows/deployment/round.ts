import { condition, workflowInfo } from '@temporalio/workflow';
import { CanaryRules } from '../../aegis/live/canary';
import { accountSpend, LiveRun, roundEvidence, startCanary } from '../../aegis/live/deployment-state';
import { onlyWeakEvidence, weightedRate } from '../../aegis/live/outcomes';
import { digestNoOpReason, reputationAfterGate, triedAfterGate } from '../../aegis/round-decisions';
import type { AuditRecord } from '../../aegis/types';
import { ledger, live, meta, rollouts } from './activities';
import type { DeploymentControls } from './controls';

/**
 * A live AEGIS round, when a window fills: the Digester reads the window's traces (with their outcome
 * sources), Planner, Evolver and Critic work as in evolveHarness, then each ranked candidate is checked
 * offline — replay of the window's live tasks the suite can rebuild, the deployment's regression set and
 * held-out tasks — through the existing gate; the first that passes goes out as the canary. Every step is
 * audited; evolution spend counts against the day's budget.
 */
export async function liveRound(d: DeploymentControls, windowRuns: LiveRun[]): Promise<void> {
  const { input, state: s } = d;
  const round = ++s.round;
  s.counts.rounds++;
  const base = s.championId;
  const audit = (entry: Omit<AuditRecord, 'ts' | 'runId' | 'evidenceRefs' | 'round'> & { evidenceRefs?: string[] }) =>
    ledger.recordAudit({ runId: workflowInfo().workflowId, round, evidenceRefs: [], ...entry });
  const noop = async (reason: string) => {
    s.lastEvent = `round ${round}: no change (${reason})`;
    await audit({ key: `${round}:noop`, stage: 'round_end', kind: 'info', harnessId: base, payload: { noop: reason } });
  };
  const spend = (x: { tokens: number; costUsd: number | null } | undefined) => accountSpend(s, x, Date.now());
  const stage = { metaAgent: input.metaAgent, evolver: 'aegis' as const, seed: input.seed };

  const evidence = roundEvidence(windowRuns, base);
  const rate = weightedRate(evidence);
  const weakOnly = onlyWeakEvidence(rate.bySource);
  if (!evidence.length) return noop(input.keepOnlyDigests ? 'the deployment keeps no traces to digest' : 'no run of the window ran under the champion with a trace');
  const window = await live.liveWindowEvidence({ runs: evidence.map((r) => ({ taskId: r.taskId, traceRef: r.traceRef!, score: r.score, source: r.source })) });

  const digest = await meta.digest({ round, harnessId: base, tracesRef: window.tracesRef, outcomesRef: window.outcomesRef, previousDigestRef: s.previousDigestRef, ...stage });
  spend(digest.spend);
  if (digest.failed !== undefined) return noop(`digest failed: ${digest.failed}`);
  s.previousDigestRef = digest.digestRef;
  await audit({
    key: `${round}:digest`,
    stage: 'digest',
    kind: 'info',
    harnessId: base,
    // A round resting only on execution signals and judge scores says so: its evidence is weak.
    payload: { live: true, runs: evidence.length, passRate: rate.rate, bySource: rate.bySource, weakEvidenceOnly: weakOnly, failing: digest.failing, actionability: digest.actionability },
    evidenceRefs: [window.tracesRef, window.outcomesRef, digest.digestRef],
  });
  const idle = digestNoOpReason(digest, 0);
  if (idle) return noop(idle);

  const plan = await meta.plan({ digestRef: digest.digestRef, harnessId: base, tried: s.tried, ...stage });
  spend(plan.spend);
  if (plan.failed !== undefined) return noop(`plan failed: ${plan.failed}`);
  if (plan.options === 0) return noop('empty landscape');
  const evolved = await meta.evolve({ landscapeRef: plan.landscapeRef, digestRef: digest.digestRef, harnessId: base, maxCandidates: input.candidatesPerRound, round, tracesRef: window.tracesRef, benchmark: input.benchmark, ...stage });
  spend(evolved.spend);
  if (evolved.failed !== undefined) return noop(`evolve failed: ${evolved.failed}`);
  if (!evolved.candidates.length) return noop('no candidates');
  await audit({ key: `${round}:evolve`, stage: 'evolve', kind: 'info', harnessId: base, payload: { candidates: evolved.candidates }, evidenceRefs: [evolved.candidatesRef] });
  const critique = await meta.critique({ candidatesRef: evolved.candidatesRef, digestRef: digest.digestRef, reputation: s.reputation, harnessId: base, round, tried: s.tried, ...stage });
  spend(critique.spend);
  if (critique.failed !== undefined) return noop(`critique failed: ${critique.failed}`);
  if (critique.decision === 'no_op') return noop(`critic: ${critique.reason}`);
  const pool = critique.candidatesRef && critique.candidates ? { candidatesRef: critique.candidatesRef, candidates: critique.candidates } : evolved;

  // The offline check: live tasks the suite can rebuild, the regression set, held-out tasks.
  const tasks = await live.liveGateTasks({ benchmark: input.benchmark, liveTaskIds: windowRuns.map((r) => r.taskId), regressionSet: s.regressionSet, heldOut: input.gate.heldOutTasks, seed: input.seed });
  const gateTaskIds = [...tasks.replay, ...tasks.regression, ...tasks.heldOut];
  if (!gateTaskIds.length) return noop(`no task of the window, the regression set or the held-out tasks can be replayed offline in ${input.benchmark}`);
  for (const candidateId of critique.ranking) {
    const candidate = pool.candidates.find((c) => c.candidateId === candidateId);
    if (!candidate) continue;
    const gate = await rollouts.gate({ benchmark: input.benchmark, candidatesRef: pool.candidatesRef, candidateId, incumbentId: base, gateTaskIds, k: input.gate.k, seed: `${input.seed}|live`, minGain: input.gate.minGain });
    spend(gate.spend);
    s.tried = triedAfterGate(s.tried, { key: candidate.editKey, bucket: candidate.bucket, harnessId: base }, gate);
    s.reputation = reputationAfterGate(s.reputation, candidate.bucket, gate.passed);
    const checked = { editKey: candidate.editKey, reason: gate.reason, incumbentPassed: gate.incumbentPassed, candidatePassed: gate.candidatePassed, gateTasks: gate.gateTasks, replayTasks: tasks.replay.length, regressionTasks: tasks.regression.length, heldOutTasks: tasks.heldOut.length };
    await audit({ key: `${round}:gate:${candidateId}`, stage: 'gate', kind: gate.passed ? 'info' : 'rollback', candidateId, harnessId: candidate.harnessId, payload: checked });
    if (!gate.passed) continue;
    if (input.approval === 'human' && !(await approved(d, candidate.harnessId, round))) continue;
    const configs = await live.harnessConfigs({ harnessIds: [candidate.harnessId] });
    // An operator's canary (deploy canary) went out while this round worked: it keeps the traffic's slice.
    if (s.canary) return noop(`an operator's canary ${s.canary.harnessId} is deciding; ${candidate.harnessId} passed the offline check and waits for a later round`);
    startCanary(s, { harnessId: candidate.harnessId, config: configs[candidate.harnessId] as unknown as Record<string, unknown> }, round, input.canary.share, Date.now());
    await audit({ key: `${round}:canary`, stage: 'ship', kind: 'info', candidateId, harnessId: candidate.harnessId, payload: { canary: true, from: base, to: candidate.harnessId, share: input.canary.share, weakEvidenceOnly: weakOnly, ...checked } });
    return;
  }
  return noop('no candidate passed the offline check');
}

/** Approval mode 'human': the candidate waits for the decide update (a stop rejects it). */
async function approved(d: DeploymentControls, harnessId: string, round: number): Promise<boolean> {
  d.pendingApproval = { harnessId, round };
  d.decision = null;
  d.state.lastEvent = `round ${round}: ${harnessId} passed the offline check and awaits approval`;
  await condition(() => d.decision !== null || d.stopping);
  // The decide update's handler sets the decision while this waits.
  const ok = (d.decision as { approve: boolean } | null)?.approve ?? false;
  d.pendingApproval = null;
  return ok;
}

/** The canary rules from the input; after maxHours the run cap is the runs seen, so the cap rule decides now. */
export function canaryRules(d: DeploymentControls, now: number): CanaryRules {
  const { canary } = d.input;
  const c = d.state.canary!;
  const overTime = canary.maxHours !== undefined && now - c.startedAt >= canary.maxHours * 3_600_000;
  // The relative margin holds a candidate no offline check vouched for (an operator's) to the champion's own level.
  return { ...canary, relativeMargin: c.offlineChecked === false ? canary.relativeMargin : undefined, maxRuns: overTime ? Math.max(1, Math.min(canary.maxRuns, c.runs.length)) : canary.maxRuns, minRuns: overTime ? Math.min(canary.minRuns, Math.max(1, c.runs.length)) : canary.minRuns };
}

import type { DeploymentInput } from '../../aegis/live/deployment-input';
import { DeploymentState, LiveRun, roundEvidence } from '../../aegis/live/deployment-state';
import { onlyWeakEvidence, weightedRate } from '../../aegis/live/outcomes';
import { digestNoOpReason, reputationAfterGate, triedAfterGate } from '../../aegis/round-decisions';
import type { AuditRecord } from '../../aegis/types';
import { live, meta, rollouts } from './activities';

/** What a round may read and change of its deployment: the in-workflow round and the child-workflow round each provide it. */
export interface RoundHost {
  input: DeploymentInput;
  round: number;
  /** The champion the round evolves from. */
  base: string;
  /** The meta-agent's memory across rounds, read and updated by the round (the deployment's state, or a copy). */
  memory: Pick<DeploymentState, 'tried' | 'reputation' | 'previousDigestRef' | 'regressionSet'>;
  /** Writes an audit record into the deployment's log. */
  audit(entry: Omit<AuditRecord, 'ts' | 'runId' | 'evidenceRefs' | 'round'> & { evidenceRefs?: string[] }): Promise<boolean>;
  spend(x: { tokens: number; costUsd: number | null } | undefined): void;
  /** The round ends without a canary: said in the status and audited. */
  noop(reason: string): Promise<void>;
  /** Approval mode 'human': resolves true when an operator approves the candidate. */
  approved(harnessId: string): Promise<boolean>;
  /** Why the candidate that passed cannot go out now (the deployment has a canary already), or null. */
  canaryBlocked(canary: PassedCandidate): string | null;
  /** The candidate out as the canary; true when that happened here and its canary audit is due now. */
  startCanary(canary: PassedCandidate): boolean;
}

/** A candidate that passed the offline check, with what its canary audit records. */
export interface PassedCandidate {
  candidateId: string;
  harnessId: string;
  config: Record<string, unknown>;
  weakEvidenceOnly: boolean;
  checked: Record<string, unknown>;
}

/**
 * A live AEGIS round, when a window fills: the Digester reads the window's traces (with their outcome
 * sources), Planner, Evolver and Critic work as in evolveHarness, then each ranked candidate is checked
 * offline — replay of the window's live tasks the suite can rebuild, the deployment's regression set and
 * held-out tasks — through the existing gate; the first that passes goes out as the canary. Every step is
 * audited; evolution spend counts against the day's budget.
 */
export async function runRound(host: RoundHost, windowRuns: ReadonlyArray<Pick<LiveRun, 'taskId' | 'harnessId' | 'traceRef' | 'score' | 'source'>>): Promise<void> {
  const { input, round, base, memory: m, audit, noop } = host;
  const spend = (x: { tokens: number; costUsd: number | null } | undefined) => host.spend(x);
  const stage = { metaAgent: input.metaAgent, evolver: 'aegis' as const, seed: input.seed };

  const evidence = roundEvidence(windowRuns as LiveRun[], base);
  const rate = weightedRate(evidence);
  const weakOnly = onlyWeakEvidence(rate.bySource);
  if (!evidence.length) return noop(input.keepOnlyDigests ? 'the deployment keeps no traces to digest' : 'no run of the window ran under the champion with a trace');
  const window = await live.liveWindowEvidence({ runs: evidence.map((r) => ({ taskId: r.taskId, traceRef: r.traceRef!, score: r.score, source: r.source })) });

  const digest = await meta.digest({ round, harnessId: base, tracesRef: window.tracesRef, outcomesRef: window.outcomesRef, previousDigestRef: m.previousDigestRef, ...stage });
  spend(digest.spend);
  if (digest.failed !== undefined) return noop(`digest failed: ${digest.failed}`);
  m.previousDigestRef = digest.digestRef;
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

  const plan = await meta.plan({ digestRef: digest.digestRef, harnessId: base, tried: m.tried, ...stage });
  spend(plan.spend);
  if (plan.failed !== undefined) return noop(`plan failed: ${plan.failed}`);
  if (plan.options === 0) return noop('empty landscape');
  const evolved = await meta.evolve({ landscapeRef: plan.landscapeRef, digestRef: digest.digestRef, harnessId: base, maxCandidates: input.candidatesPerRound, round, tracesRef: window.tracesRef, benchmark: input.benchmark, ...stage });
  spend(evolved.spend);
  if (evolved.failed !== undefined) return noop(`evolve failed: ${evolved.failed}`);
  if (!evolved.candidates.length) return noop('no candidates');
  await audit({ key: `${round}:evolve`, stage: 'evolve', kind: 'info', harnessId: base, payload: { candidates: evolved.candidates }, evidenceRefs: [evolved.candidatesRef] });
  const critique = await meta.critique({ candidatesRef: evolved.candidatesRef, digestRef: digest.digestRef, reputation: m.reputation, harnessId: base, round, tried: m.tried, ...stage });
  spend(critique.spend);
  if (critique.failed !== undefined) return noop(`critique failed: ${critique.failed}`);
  if (critique.decision === 'no_op') return noop(`critic: ${critique.reason}`);
  const pool = critique.candidatesRef && critique.candidates ? { candidatesRef: critique.candidatesRef, candidates: critique.candidates } : evolved;

  // The offline check: live tasks the suite can rebuild, the regression set, held-out tasks.
  const tasks = await live.liveGateTasks({ benchmark: input.benchmark, liveTaskIds: windowRuns.map((r) => r.taskId), regressionSet: m.regressionSet, heldOut: input.gate.heldOutTasks, seed: input.seed });
  const gateTaskIds = [...tasks.replay, ...tasks.regression, ...tasks.heldOut];
  if (!gateTaskIds.length) return noop(`no task of the window, the regression set or the held-out tasks can be replayed offline in ${input.benchmark}`);
  for (const candidateId of critique.ranking) {
    const candidate = pool.candidates.find((c) => c.candidateId === candidateId);
    if (!candidate) continue;
    const gate = await rollouts.gate({ benchmark: input.benchmark, candidatesRef: pool.candidatesRef, candidateId, incumbentId: base, gateTaskIds, k: input.gate.k, seed: `${input.seed}|live`, minGain: input.gate.minGain });
    spend(gate.spend);
    m.tried = triedAfterGate(m.tried, { key: candidate.editKey, bucket: candidate.bucket, harnessId: base }, gate);
    m.reputation = reputationAfterGate(m.reputation, candidate.bucket, gate.passed);
    const checked = { editKey: candidate.editKey, reason: gate.reason, incumbentPassed: gate.incumbentPassed, candidatePassed: gate.candidatePassed, gateTasks: gate.gateTasks, replayTasks: tasks.replay.length, regressionTasks: tasks.regression.length, heldOutTasks: tasks.heldOut.length };
    await audit({ key: `${round}:gate:${candidateId}`, stage: 'gate', kind: gate.passed ? 'info' : 'rollback', candidateId, harnessId: candidate.harnessId, payload: checked });
    if (!gate.passed) continue;
    if (input.approval === 'human' && !(await host.approved(candidate.harnessId))) continue;
    const configs = await live.harnessConfigs({ harnessIds: [candidate.harnessId] });
    const passed: PassedCandidate = { candidateId, harnessId: candidate.harnessId, config: configs[candidate.harnessId] as unknown as Record<string, unknown>, weakEvidenceOnly: weakOnly, checked };
    // (The same awaits as before rounds became child workflows: deployments that started before replay this.)
    const blocked = host.canaryBlocked(passed);
    if (blocked) return noop(blocked);
    if (host.startCanary(passed)) await audit(canaryAudit(round, base, input.canary.share, passed));
    return;
  }
  return noop('no candidate passed the offline check');
}

/** Why a candidate that passed waits: an operator's canary (deploy canary) that went out meanwhile keeps the traffic's slice. */
export function canaryBlockedReason(canary: { harnessId: string } | null, c: PassedCandidate): string | null {
  return canary ? `an operator's canary ${canary.harnessId} is deciding; ${c.harnessId} passed the offline check and waits for a later round` : null;
}

/** The audit record of a round that ends with no change. */
export function noopAudit(round: number, base: string, reason: string): Omit<AuditRecord, 'ts' | 'runId' | 'evidenceRefs' | 'round'> {
  return { key: `${round}:noop`, stage: 'round_end', kind: 'info', harnessId: base, payload: { noop: reason } };
}

/** The audit record of a round's candidate going out as the canary. */
export function canaryAudit(round: number, base: string, share: number, c: PassedCandidate): Omit<AuditRecord, 'ts' | 'runId' | 'evidenceRefs' | 'round'> {
  return { key: `${round}:canary`, stage: 'ship', kind: 'info', candidateId: c.candidateId, harnessId: c.harnessId, payload: { canary: true, from: base, to: c.harnessId, share, weakEvidenceOnly: c.weakEvidenceOnly, ...c.checked } };
}

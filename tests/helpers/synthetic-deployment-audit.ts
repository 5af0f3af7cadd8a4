import type { AuditRecord } from '../../aegis/types';

export const T0 = Date.parse('2026-12-07T02:00:00Z');
export const SEED = 'hx-5eed000000000001';
export const A = 'hx-aaaa111122223333';
export const B = 'hx-bbbb111122223333';
export const C = 'hx-cccc111122223333';
export const ROLLBACK_REASON = 'canary 5.0% vs champion 45.0%: worse by more than 5.0 points (upper bound -30.2)';

/**
 * A deployment's audit log as deployHarness writes it (setup, closed windows of 50 runs a minute apart, live
 * rounds, a canary promoted, a canary rolled back by the sequential test, an operator's canary pulled by an
 * operator's rollback, an operator's rollback of the champion, the final record), for report tests.
 * Window 5's interval is deliberately outside 0–1, to check that the band is clipped.
 */
export function syntheticDeploymentAudit(): AuditRecord[] {
  const rec = (at: number, r: Partial<AuditRecord> & Pick<AuditRecord, 'stage' | 'round'>): AuditRecord => ({ key: `${r.stage}:${at}`, runId: 'deploy-support-prod', kind: 'info', payload: {}, evidenceRefs: [], ts: new Date(T0 + at * 1000).toISOString(), ...r });
  const window = (index: number, harnessId: string, passRate: number, round: number, low = passRate - 0.1, high = passRate + 0.12) =>
    rec(index * 60, { stage: 'rollout', round, harnessId, payload: { live: true, window: { index, runs: 50, passRate, low, high, harnessId, bySource: { verifier: 40, execution: 10 }, startedAt: T0 + (index - 1) * 60_000, endedAt: T0 + index * 60_000 } } });
  const evidence = (canary: number, champion: number) => ({ canary: { runs: 40, rate: canary, low: 0, high: 1, weight: 40, effectiveRuns: 40, bySource: {} }, champion: { runs: 160, rate: champion, low: 0, high: 1, weight: 160, effectiveRuns: 160, bySource: {} }, difference: canary - champion, low: canary - champion - 0.1, high: canary - champion + 0.1, canaryFailures: 0 });
  return [
    rec(0, { stage: 'setup', round: 0, harnessId: SEED, payload: { deployment: true, input: { name: 'support-prod', benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'rules', window: { runs: 50 }, canary: { share: 0.2 } } } }),
    window(1, SEED, 0.1, 0),
    window(2, SEED, 0.12, 0),
    rec(125, { stage: 'digest', round: 1, harnessId: SEED, payload: { live: true, runs: 50, passRate: 0.12, bySource: { verifier: 40 }, weakEvidenceOnly: false } }),
    rec(127, { stage: 'gate', round: 1, kind: 'info', candidateId: 'r1-c1', harnessId: A, payload: { editKey: 'insert:format_repair@after_model', reason: 'passed the gate', incumbentPassed: 4, candidatePassed: 9, gateTasks: 30 } }),
    rec(130, { stage: 'ship', round: 1, candidateId: 'r1-c1', harnessId: A, payload: { canary: true, from: SEED, to: A, share: 0.2, editKey: 'insert:format_repair@after_model', reason: 'passed the gate', incumbentPassed: 4, candidatePassed: 9, gateTasks: 30, replayTasks: 20, regressionTasks: 5, heldOutTasks: 5 } }),
    window(3, SEED, 0.14, 1),
    rec(200, { stage: 'ship', round: 1, kind: 'commit', harnessId: A, payload: { live: true, decision: 'promote', pulled: false, reason: 'canary 40.0% vs champion 14.0%: no worse than 3.5 points (lower bound 12.0)', evidence: evidence(0.4, 0.14), champion: A } }),
    window(4, A, 0.3, 1),
    window(5, A, 0.45, 1, -0.1, 1.2),
    rec(305, { stage: 'digest', round: 2, harnessId: A, payload: { live: true, runs: 50, passRate: 0.45, bySource: { execution: 50 }, weakEvidenceOnly: true } }),
    rec(307, { stage: 'gate', round: 2, kind: 'rollback', candidateId: 'r2-c1', harnessId: 'hx-dddd111122223333', payload: { editKey: 'configure:system_prompt', reason: 'seesaw: no gain' } }),
    rec(308, { stage: 'gate', round: 2, kind: 'info', candidateId: 'r2-c2', harnessId: B, payload: { editKey: 'insert:arg_validation@before_tool', reason: 'passed the gate' } }),
    rec(310, { stage: 'ship', round: 2, candidateId: 'r2-c2', harnessId: B, payload: { canary: true, from: A, to: B, share: 0.2, editKey: 'insert:arg_validation@before_tool', reason: 'passed the gate', incumbentPassed: 10, candidatePassed: 12, gateTasks: 30, weakEvidenceOnly: true } }),
    rec(340, { stage: 'ship', round: 2, kind: 'rollback', harnessId: B, payload: { live: true, decision: 'rollback', pulled: false, reason: ROLLBACK_REASON, evidence: evidence(0.05, 0.45), champion: A } }),
    window(6, A, 0.47, 2),
    rec(370, { stage: 'ship', round: 2, harnessId: C, payload: { canary: true, manual: true, from: A, to: C, share: 0.2, reason: 'try the new prompt' } }),
    rec(380, { stage: 'ship', round: 2, kind: 'rollback', harnessId: A, payload: { manual: true, to: A, reason: 'tickets reopened' } }),
    window(7, A, 0.48, 2),
    rec(425, { stage: 'round_end', round: 3, harnessId: A, payload: { noop: 'nothing actionable in the digest' } }),
    rec(430, { stage: 'ship', round: 3, kind: 'rollback', harnessId: SEED, payload: { manual: true, to: SEED, reason: 'users complain about tone' } }),
    window(8, SEED, 0.11, 3),
    rec(490, { stage: 'final', round: 3, harnessId: SEED, payload: { stopped: true, counts: { reports: 412, rounds: 3, promotions: 1, rollbacks: 3 } } }),
  ];
}

import type { AuditRecord } from '../../aegis/types';

/**
 * A small run's audit log as the workflow writes it (setup, two rounds with rollout, meta stages, gate
 * verdicts, a ship, round ends with cumulative spend, a guard check, the final record), for report tests.
 */
export function syntheticAudit(): AuditRecord[] {
  let t = Date.parse('2026-12-07T02:00:00Z');
  const rec = (r: Partial<AuditRecord> & Pick<AuditRecord, 'stage' | 'round'>): AuditRecord => ({ key: `${r.round}:${r.stage}:${t}`, runId: 'evolve-webshop-demo', kind: 'info', payload: {}, evidenceRefs: [], ts: new Date((t += 7_000)).toISOString(), ...r });
  return [
    rec({ stage: 'setup', round: 0, harnessId: 'hx-seed', payload: { input: { benchmark: 'webshop', model: 'sim:small', metaAgent: 'rules', rounds: 2 } } }),
    rec({ stage: 'rollout', round: 1, payload: { passRate: 0.4, passed: 8, tasks: 20, episodes: 40, tokens: 120_000, costUsd: 0 } }),
    rec({ stage: 'digest', round: 1, payload: { failing: 12, actionability: 0.6, compression: 40 } }),
    rec({ stage: 'gate', round: 1, kind: 'rollback', candidateId: 'r1-c1', payload: { editKey: 'prompt:be-terse', reason: 'seesaw: no gain', tokens: 60_000, costUsd: 0 } }),
    rec({ stage: 'gate', round: 1, candidateId: 'r1-c2', payload: { editKey: 'tools:retry-search', tokens: 55_000, costUsd: 0 } }),
    rec({ stage: 'ship', round: 1, kind: 'commit', candidateId: 'r1-c2', harnessId: 'hx-r1', payload: { editKey: 'tools:retry-search', to: 'hx-r1', gate: { incumbentPassed: 9, candidatePassed: 13, gateTasks: 30, unlocked: ['webshop/a', 'webshop/b'] } } }),
    rec({ stage: 'round_end', round: 1, payload: { passRate: 0.4, validation: 0.5, test: 0.45, tokens: 235_000, costUsd: 0, measurementTokens: 30_000, measurementUsd: 0 } }),
    rec({ stage: 'rollout', round: 2, payload: { passRate: 0.55, passed: 11, tasks: 20, episodes: 40, tokens: 110_000, costUsd: 0 } }),
    rec({ stage: 'critique', round: 2, payload: { noop: 'critic: nothing worth gating' } }),
    rec({ stage: 'round_end', round: 2, payload: { passRate: 0.55, validation: 0.5, test: 0.45, tokens: 345_000, costUsd: 0, measurementTokens: 30_000, measurementUsd: 0 } }),
    rec({ stage: 'regression', round: 2, payload: { solved: 14, bestSolved: 14, suite: 30, tokens: 40_000 } }),
    rec({ stage: 'final', round: 2, harnessId: 'hx-r1', payload: { stopReason: 'budget of 2 rounds used', seedPassRate: 0.38, evolvedPassRate: 0.52, seedTestPassRate: 0.4, evolvedTestPassRate: 0.45, shipped: 1, rejected: 1, tokens: 385_000, costUsd: 0, measurementTokens: 90_000, measurementUsd: 0 } }),
  ];
}

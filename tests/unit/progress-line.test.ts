import { bar, clock, EtaTracker, episodesOf, lineWidth, metaCallsOf, progressLine } from '../../cli/progress-line';
import { historyLines, recordKind, whatHappened } from '../../report/history-text';
import type { AuditRecord } from '../../aegis/types';

describe('live progress line', () => {
  it('sums the episodes of an activity heartbeat over its rollouts', () => {
    expect(episodesOf({ rollouts: { a: { done: 3, total: 10, finished: [] }, b: { done: 5, total: 10, finished: [] } } })).toEqual({ done: 8, total: 20 });
    expect(episodesOf(null)).toBeNull();
    expect(episodesOf({ rollouts: {} })).toBeNull();
  });

  it('estimates the time left from the rate observed on the same work, restarting on new work', () => {
    const t = new EtaTracker();
    expect(t.eta('round 1 · rollout', 0, { done: 10, total: 110, activities: 1 })).toBeNull();
    // 20 episodes in 10 s: 2/s, 80 left → 40 s.
    expect(t.eta('round 1 · rollout', 10_000, { done: 30, total: 110, activities: 1 })).toBeCloseTo(40);
    expect(t.eta('round 1 · gate', 11_000, { done: 0, total: 40, activities: 1 })).toBeNull();
  });

  it('fits 100 columns by default, shrinking then dropping the bar, then the counts, before cutting', () => {
    const state = { elapsedSeconds: 83, where: 'round 2/4 · gate', flight: { done: 24, total: 40, activities: 3 }, etaSeconds: 42, counts: 'shipped 1 · rejected 2' };
    const line = progressLine(state);
    expect(line).toBe(`[1:23] round 2/4 · gate · ${bar(24, 40, 20)} · 24/40 episodes · ETA 0:42 · shipped 1 · rejected 2`);
    expect(progressLine(state, 86)).toBe(`[1:23] round 2/4 · gate · ${bar(24, 40, 6)} · 24/40 episodes · ETA 0:42 · shipped 1 · rejected 2`);
    expect(progressLine(state, 80)).toBe('[1:23] round 2/4 · gate · 24/40 episodes · ETA 0:42 · shipped 1 · rejected 2');
    expect([...line].length).toBeLessThanOrEqual(100);
    for (const width of [100, 80, 60, 40]) expect([...progressLine({ ...state, counts: 'shipped 1 · rejected 2 · 1,029,848 + 120,000 tok' }, width)].length).toBeLessThanOrEqual(width);
    expect(progressLine({ ...state, flight: null, etaSeconds: null })).toBe('[1:23] round 2/4 · gate · shipped 1 · rejected 2');
  });

  it("counts a model meta-agent's calls in the stage from its heartbeat, without an episode bar", () => {
    expect(metaCallsOf({ meta: { calls: 3 } })).toBe(3);
    expect(metaCallsOf({ meta: { calls: -1 } })).toBeNull();
    expect(metaCallsOf({ meta: { calls: '3' } })).toBeNull();
    expect(metaCallsOf({ rollouts: {} })).toBeNull();
    expect(metaCallsOf(null)).toBeNull();
    const state = { elapsedSeconds: 83, where: 'round 2/4 · evolve', flight: { done: 0, total: 0, activities: 1, metaCalls: 3 }, etaSeconds: null, counts: 'shipped 1 · rejected 2' };
    expect(progressLine(state)).toBe('[1:23] round 2/4 · evolve · meta-agent 3 calls · shipped 1 · rejected 2');
    expect(progressLine({ ...state, flight: { ...state.flight, metaCalls: 1 } })).toContain('meta-agent 1 call ·');
    // Episodes and calls at once: both shown, the bar dropped to stay within 100 columns.
    const both = progressLine({ ...state, flight: { done: 5, total: 10, activities: 2, metaCalls: 0 } }, 100);
    expect(both).toBe('[1:23] round 2/4 · evolve · 5/10 episodes · ETA … · meta-agent 0 calls · shipped 1 · rejected 2');
    expect([...both].length).toBeLessThanOrEqual(100);
  });

  it('is wider only on a wider terminal', () => {
    expect(lineWidth({ isTTY: false, columns: 200 })).toBe(100);
    expect(lineWidth({ isTTY: true, columns: 200 })).toBe(199);
    expect(lineWidth({ isTTY: true, columns: 80 })).toBe(79);
    expect(clock(3725)).toBe('1:02:05');
  });
});

describe('history as text', () => {
  const rec = (r: Partial<AuditRecord>): AuditRecord => ({ key: 'k', runId: 'run', round: 1, stage: 'gate', kind: 'info', payload: {}, evidenceRefs: [], ts: '2026-12-07T02:01:03.123Z', ...r });

  it('calls a gate rejection a rejection and only the regression guard a rollback', () => {
    expect(recordKind(rec({ stage: 'gate', kind: 'rollback', payload: { reason: 'seesaw: no gain' } }))).toBe('rejected');
    expect(recordKind(rec({ stage: 'gate', kind: 'rollback', payload: { approval: 'rejected' } }))).toBe('reviewer rejected');
    expect(recordKind(rec({ stage: 'regression', kind: 'rollback' }))).toBe('rollback');
    expect(recordKind(rec({ stage: 'ship', kind: 'commit' }))).toBe('shipped');
    expect(recordKind(rec({ stage: 'critique', payload: { noop: 'critic: nothing' } }))).toBe('no-op');
  });

  it('rounds numbers and groups thousands', () => {
    expect(whatHappened(rec({ stage: 'rollout', payload: { passed: 15, tasks: 31, passRate: 0.4838709677419355, episodes: 62, tokens: 1029848 } }))).toBe('batch pass 15/31 (48.4%) · 62 episodes · 1,029,848 tok');
    expect(whatHappened(rec({ stage: 'round_end', payload: { passRate: 0.5, validation: 0.8088, test: null, tokens: 3578316, measurementTokens: 12000 } }))).toBe('batch 50.0% · validation 80.9% · test n/a · evolution 3,578,316 tok · measurement 12,000 tok');
  });

  it('aligns the columns and cuts to the width with an ellipsis', () => {
    const lines = historyLines([rec({ stage: 'rollout', round: 1, payload: { passed: 1, tasks: 2, passRate: 0.5, episodes: 4 } }), rec({ round: 12, kind: 'rollback', candidateId: 'r12-c1', payload: { editKey: 'prompt:x', reason: 'seesaw: regresses 3 tasks '.repeat(8) } })], 100);
    expect(lines[0]).toMatch(/^time\s+round\s+stage\s+record\s+what happened \(2026-12-07 UTC\)$/);
    expect(lines[1].indexOf('rollout')).toBe(lines[2].indexOf('gate'));
    expect(lines[2]).toMatch(/^02:01:03\s+12\s+gate\s+rejected\s+r12-c1 prompt:x: seesaw/);
    expect([...lines[2]].length).toBe(100);
    expect(lines[2].endsWith('…')).toBe(true);
  });
});

describe('status for a person', () => {
  const { statusLines } = require('../../cli/status-lines') as typeof import('../../cli/status-lines');
  it('is a few lines within 100 columns, with rounded numbers and the link whole', () => {
    const live = { runId: 'r', round: 2, rounds: 4, stage: 'gate', paused: false, stopRequested: false, incumbentHarnessId: 'hx-0123456789abcdef', bestScore: 0.8088, lastPassRate: 0.4838709677419355, shipped: 1, rejected: 3, lastEvent: 'round 2: rejected prompt:x (seesaw: no gain) '.repeat(4), pendingApproval: null, tokens: 1029848, measurementTokens: 120000, endpointLimits: null } as const;
    const lines = statusLines({ workflowId: 'evolve-webshop', workflowStatus: 'RUNNING', startTime: new Date('2026-12-07T02:01:03Z'), elapsedSeconds: 125, summary: 'HarnessX AEGIS · webshop', live: { ...live }, result: null, note: null, webUi: 'http://localhost:8233/namespaces/default/workflows/evolve-webshop' });
    expect(lines[0]).toBe('evolve-webshop · running · started 2026-12-07 02:01:03 UTC · 2:05');
    expect(lines[2]).toBe('round 2/4 · gate · shipped 1 · rejected 3 · last batch 48.4%');
    expect(lines[3]).toBe('spend: evolution 1,029,848 tok · measurement 120,000 tok · incumbent hx-0123456789abcdef');
    expect(lines.length).toBeLessThanOrEqual(7);
    for (const l of lines.slice(0, -1)) expect([...l].length).toBeLessThanOrEqual(100);
    expect(lines[lines.length - 1]).toBe('Web UI: http://localhost:8233/namespaces/default/workflows/evolve-webshop');
  });
});

describe('deploy status for a person', () => {
  const { deploymentStatusLines } = require('../../cli/status-lines') as typeof import('../../cli/status-lines');
  const status = {
    name: 'support-prod',
    status: 'running',
    revision: 7,
    champion: 'hx-0123456789abcdef',
    canary: { harnessId: 'hx-fedcba9876543210', round: 3, share: 0.1, runs: 42, championRuns: 380, canary: { rate: 0.8571428571, low: 0.7, high: 0.95 }, champion: { rate: 0.7236842105, low: 0.68, high: 0.77 } },
    window: { index: 12, runs: 37, of: 50, passRate: 0.7567567567, low: 0.6, high: 0.87 },
    windows: Array.from({ length: 11 }, (_, i) => ({ index: i + 1, runs: 50, passRate: 0.7 + i / 100, low: 0.6, high: 0.8, harnessId: 'hx-0123456789abcdef', bySource: { verifier: 30, feedback: 20 } })),
    regressionSet: 40,
    spend: { today: { day: '2026-12-07', tokens: 1234567, usd: 1.5 }, total: { tokens: 9876543, usd: 12 }, budgetPerDay: { tokens: 5000000 } },
    versions: [],
    counts: { reports: 1000, duplicates: 0, productRunsFailed: 3, feedback: 200, lateFeedback: 0, swaps: 2, midTaskSwaps: 0, promotions: 2, rollbacks: 1, pulls: 0, rounds: 3 },
    round: 3,
    nextRound: 'when window 12 has 50 runs (37 so far)',
    lastEvent: 'round 3: canary hx-fedcba9876543210 started on 10% of run keys after the gate passed it 14 → 17 of 40 '.repeat(3),
  } as unknown as import('../../aegis/live/deployment-state').DeploymentStatus;

  it('is a few lines within 100 columns: progress of the window, canary against champion, the last windows, spend', () => {
    const lines = deploymentStatusLines(status, 'RUNNING', 'http://localhost:8233/namespaces/default/workflows/deployment-support-prod');
    expect(lines[0]).toBe('deployment support-prod · running · revision 7 · round 3');
    expect(lines[2]).toBe('canary hx-fedcba9876543210 (10% of runs): 85.7% over 42 vs 72.4% over 380');
    expect(lines[3]).toBe(`window 12: ${bar(37, 50, 20)} 37/50 runs · pass rate 75.7% [60.0%–87.0%]`);
    expect(lines[4]).toBe('last windows: #9 78.0% (50) · #10 79.0% (50) · #11 80.0% (50)');
    expect(lines[5]).toBe('spend today 1,234,567 tok of 5,000,000 ($1.50) · promotions 2 · rollbacks 1 · failed runs 3');
    expect(lines.length).toBeLessThanOrEqual(9);
    for (const l of lines.slice(0, -1)) expect([...l].length).toBeLessThanOrEqual(100);
    expect(lines[lines.length - 2].endsWith('…')).toBe(true);
    expect(lines[lines.length - 1]).toBe('Web UI: http://localhost:8233/namespaces/default/workflows/deployment-support-prod');
  });

  it('says when the workflow has ended and when there is no canary or closed window yet', () => {
    const lines = deploymentStatusLines({ ...status, canary: null, windows: [] }, 'COMPLETED', 'u', 60);
    expect(lines[0]).toMatch(/^deployment support-prod · running \(completed\) · revision 7/);
    expect(lines).toContain('canary none');
    expect(lines.some((l) => l.startsWith('last windows'))).toBe(false);
    for (const l of lines.slice(0, -1)) expect([...l].length).toBeLessThanOrEqual(60);
  });
});


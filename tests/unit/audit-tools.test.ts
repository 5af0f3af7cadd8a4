import { webUiUrl } from '../../temporal.config';
import { buildLineage, formatLineage } from '../../aegis/lineage';
import type { AuditRecord } from '../../aegis/types';
import { applyEdits } from '../../harness/builder';
import { diffHarnesses, formatDiff } from '../../harness/diff';
import { seedHarness } from '../../harness/seed';
import { buildReport } from '../../report/build-report';

const rec = (r: Partial<AuditRecord> & Pick<AuditRecord, 'key' | 'stage' | 'round'>): AuditRecord => ({ runId: 'run', kind: 'info', payload: {}, evidenceRefs: [], ts: 't', ...r });

const audit: AuditRecord[] = [
  rec({ key: 'setup', stage: 'setup', round: 0, harnessId: 'hx-seed', payload: { input: { benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'rules' } } }),
  rec({ key: '1:rollout', stage: 'rollout', round: 1, payload: { passRate: 0.2, tokens: 1000, costUsd: 0.0125 } }),
  rec({ key: '1:gate:r1-c1', stage: 'gate', round: 1, kind: 'rollback', candidateId: 'r1-c1', payload: { editKey: 'insert:few_shot@task_start', reason: 'seesaw: regresses 1 solved task(s): t1' } }),
  rec({ key: '1:ship', stage: 'ship', round: 1, kind: 'commit', candidateId: 'r1-c2', harnessId: 'hx-one', payload: { from: 'hx-seed', editKey: 'insert:notes@before_model', gate: { unlocked: ['t2'] } } }),
  rec({ key: '1:round_end', stage: 'round_end', round: 1, payload: { validation: 0.3, test: 0.25 } }),
  rec({ key: '2:rollout', stage: 'rollout', round: 2, payload: { passRate: 0.4, tokens: 900 } }),
  rec({ key: '2:noop', stage: 'plan', round: 2, payload: { noop: 'empty landscape' } }),
  rec({ key: '2:round_end', stage: 'round_end', round: 2, payload: { validation: 0.3, test: 0.25 } }),
  rec({ key: 'final', stage: 'final', round: 2, payload: { seedPassRate: 0.2, evolvedPassRate: 0.5, seedTestPassRate: 0.2, evolvedTestPassRate: 0.45, shipped: 1, rejected: 1, stopReason: 'budget of 2 rounds used' } }),
];

describe('lineage', () => {
  it('builds the harness tree from ships, with rejected candidates on the harness they were tried on', () => {
    const tree = buildLineage(audit)!;
    expect(tree.harnessId).toBe('hx-seed');
    expect(tree.rejected).toEqual([expect.objectContaining({ candidateId: 'r1-c1', reason: expect.stringContaining('seesaw') })]);
    expect(tree.children.map((c) => [c.harnessId, c.editKey])).toEqual([['hx-one', 'insert:notes@before_model']]);
    expect(formatLineage(tree)).toBe('hx-seed  (seed)\n  ✗ round 1 r1-c1: insert:few_shot@task_start — seesaw: regresses 1 solved task(s): t1\n  hx-one  ← round 1: insert:notes@before_model');
    expect(buildLineage([])).toBeNull();
  });
});

describe('diff', () => {
  it('names processors added, removed, replaced and reconfigured, with parameters', () => {
    const seed = seedHarness();
    const built = applyEdits(seed, [
      { op: 'insert', hook: 'before_model', processor: { id: 'notes', type: 'notes', params: { maxNotes: 5 } } },
      { op: 'configure', processorId: 'step_budget', params: { maxSteps: 21 } },
      { op: 'remove', processorId: 'tracer' },
      { op: 'insert', hook: 'step_start', processor: { id: 'win', type: 'sliding_window', params: {} } },
    ]);
    if (!built.ok) throw new Error(built.error.message);
    const replaced = applyEdits(built.config, [{ op: 'replace', hook: 'step_start', group: 'history_window', processor: { id: 'sum', type: 'episode_summary', params: {} } }]);
    if (!replaced.ok) throw new Error(replaced.error.message);
    expect(formatDiff(diffHarnesses(seed, built.config)).split('\n')).toEqual([
      '~ step_start: step_budget.maxSteps: 14 → 21',
      '+ step_start: win (sliding_window) {"keepLast":12}',
      '+ before_model: notes (notes) {"maxNotes":5}',
      '- step_end: tracer (tracer) {"excerptChars":240}',
    ]);
    expect(formatDiff(diffHarnesses(built.config, replaced.config))).toBe('± step_start: win (sliding_window) → sum (episode_summary) {"threshold":16,"keepLast":6}');
    expect(formatDiff(diffHarnesses(seed, seed))).toBe('(no differences)');
  });
});

describe('HTML report', () => {
  it('is self-contained and draws every chart from the audit data', () => {
    const html = buildReport({ runId: 'run', audit, digests: new Map([[1, { round: 1, harnessId: 'hx-seed', tasks: [{ taskId: 't1', passed: true, successes: 1, attempts: 1, category: null, categoryCounts: {}, implicated: [], evidence: [], history: [] }, { taskId: 't2', passed: false, successes: 0, attempts: 1, category: 'loop', categoryCounts: { loop: 1 }, implicated: [], evidence: [], history: [] }], actionability: 0.5, traceTokens: 100, digestTokens: 10 }]]), shippedCandidates: new Map() });
    // Self-contained: nothing loaded from the network. The one outside address is the link to the run in the Web UI.
    expect(html).not.toMatch(/<script|<link|src="https?:/);
    expect([...html.matchAll(/https?:\/\/(?!www\.w3)[^"'\s<]+/g)].map((m) => m[0])).toEqual([webUiUrl('run')]);
    for (const chart of ['pass-rate', 'decisions', 'task-heatmap', 'tokens']) expect(html).toContain(`data-chart="${chart}"`);
    // Train batch where measured (seed, after round 1), validation after rounds 1–2, test at the seed (final record) and after rounds 1–2.
    expect(html.match(/<circle class="mark"/g)).toHaveLength(2 + 2 + 3);
    expect(html).toContain('gate → shipped');
    expect(html).toContain('gate → seesaw: regression');
    expect(html).toContain('plan → no-op: empty landscape');
    expect(html).toContain('15.6%'.replace('15.6', '20.0'));
    // The heat map: t2 (failed) is listed before t1 (solved), each cell says what happened on hover.
    expect(html.indexOf('<summary>never solved (1)</summary>')).toBeLessThan(html.indexOf('<summary>always solved (1)</summary>'));
    expect(html).toContain('title="round 1: solved (1/1 attempts)"');
    expect(html).toContain('title="round 1: failed (0/1 attempts) · loop"');
    // Spend by stage: the rollout's tokens over both rounds; its USD is n/a because round 2 was unpriced (a
    // partial sum would understate it); with no total in the final record, the stages' sum is the total.
    expect(html).toContain('<tr><td>rollout</td><td class="num">1,900</td><td class="num">n/a</td></tr>');
    expect(html).toContain('data-total="evolution">1,900</th>');
  });
});

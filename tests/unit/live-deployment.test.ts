import { assignsToCanary, canaryDecision, CanaryRun, DEFAULT_CANARY_RULES } from '../../aegis/live/canary';
import { deploymentInputSchema } from '../../aegis/live/deployment-input';
import {
  acceptReports,
  applyFeedback,
  closeWindow,
  currentHarness,
  endCanary,
  harnessFor,
  initialDeploymentState,
  manualRollback,
  reportProblem,
  roundBlocked,
  RunReport,
  startCanary,
  windowFull,
  accountSpend,
} from '../../aegis/live/deployment-state';
import { executionScore, executionSignals, resolveOutcome, TRUST, weightedRate } from '../../aegis/live/outcomes';
import type { EpisodeTrace } from '../../harness/trace';

const input = deploymentInputSchema().parse({ name: 'support-prod', benchmark: 'blocksworld', window: { runs: 4 }, budgetPerDay: { tokens: 1000 }, gate: { regressionSetSize: 2 } });
const DAY = Date.UTC(2026, 11, 7, 12);
const report = (i: number, over: Partial<RunReport> = {}): RunReport => ({
  runId: `r${i}`,
  runKey: `user-${i}`,
  harnessId: 'hx-a',
  taskId: `t${i}`,
  endReason: 'goal_reached',
  steps: 5,
  signals: { endReason: 'goal_reached', steps: 5, toolErrors: 0, repeatedCalls: 0, formatProblems: 0, userRepeats: 0 },
  ...over,
});
const runs = (n: number, passRate: number, weight = 1): CanaryRun[] =>
  Array.from({ length: n }, (_, i) => ({ score: i < Math.round(n * passRate) ? 1 : 0, weight, source: 'verifier' as const, failed: false }));

describe('outcomes: source and trust', () => {
  it('takes the most trusted source known, with its weight', () => {
    expect(resolveOutcome({ execution: 1, judge: 0.2, feedback: 0 })).toEqual({ score: 0, source: 'feedback', weight: TRUST.feedback });
    expect(resolveOutcome({ execution: 0.9, verifier: 0, feedback: 1 })).toEqual({ score: 0, source: 'verifier', weight: 1 });
    expect(resolveOutcome({ execution: 1 })).toEqual({ score: 1, source: 'execution', weight: TRUST.execution });
    expect(resolveOutcome({})).toBeNull();
    expect(TRUST.verifier).toBeGreaterThan(TRUST.feedback);
    expect(TRUST.feedback).toBeGreaterThan(TRUST.judge);
    expect(TRUST.judge).toBeGreaterThan(TRUST.execution);
  });

  it('counts execution signals from a trace: tool errors, repeated calls, missing actions; a run that did not answer scores 0', () => {
    const call = (ok: boolean) => ({ kind: 'tool_call' as const, step: 1, call: { id: '1', name: 'stack', args: { a: 1 } }, approved: true, result: { ok, output: '' } });
    const trace = { endReason: 'goal_reached' as const, steps: 3, records: [call(true), call(false), { kind: 'error' as const, step: 2, message: 'model reply had no tool call' }] } as Pick<EpisodeTrace, 'records' | 'endReason' | 'steps'>;
    const s = executionSignals(trace);
    expect(s).toMatchObject({ toolErrors: 1, repeatedCalls: 1, formatProblems: 1 });
    expect(executionScore(s)).toBeCloseTo(1 - 0.1 - 0.15 - 0.1);
    expect(executionScore({ ...s, endReason: 'step_budget_exhausted' })).toBe(0);
  });

  it('weights a pass rate by trust and narrows its interval with more runs', () => {
    const r = weightedRate([{ score: 1, weight: 1, source: 'verifier' }, { score: 0, weight: 0.2, source: 'execution' }]);
    expect(r.rate).toBeCloseTo(1 / 1.2);
    expect(r.bySource).toEqual({ verifier: 1, execution: 1 });
    const few = weightedRate(runs(10, 0.5));
    const many = weightedRate(runs(1000, 0.5));
    expect(many.high! - many.low!).toBeLessThan(few.high! - few.low!);
  });
});

describe('canary assignment', () => {
  it('is deterministic by run key, close to the share, and drawn afresh for each canary', () => {
    const keys = Array.from({ length: 4000 }, (_, i) => `user-${i}`);
    const inA = keys.filter((k) => assignsToCanary(k, 'hx-a', 0.2));
    expect(inA.length / keys.length).toBeGreaterThan(0.17);
    expect(inA.length / keys.length).toBeLessThan(0.23);
    expect(keys.filter((k) => assignsToCanary(k, 'hx-a', 0.2))).toEqual(inA);
    const inB = new Set(keys.filter((k) => assignsToCanary(k, 'hx-b', 0.2)));
    expect(inA.filter((k) => inB.has(k)).length).toBeLessThan(inA.length * 0.4);
    expect(assignsToCanary('x', 'hx-a', 0)).toBe(false);
  });

  it('serves a run key the canary or the champion, the same every time', () => {
    const current = { champion: { harnessId: 'hx-a', config: {} }, canary: { harnessId: 'hx-b', config: {}, share: 0.5 } };
    const arms = Array.from({ length: 200 }, (_, i) => harnessFor(current, `k${i}`).arm);
    expect(new Set(arms)).toEqual(new Set(['champion', 'canary']));
    expect(Array.from({ length: 200 }, (_, i) => harnessFor(current, `k${i}`).arm)).toEqual(arms);
    expect(harnessFor({ ...current, canary: null }, 'k1').harnessId).toBe('hx-a');
  });
});

describe('the sequential canary test', () => {
  const rules = { ...DEFAULT_CANARY_RULES, minRuns: 20, maxRuns: 200 };

  it('promotes a canary that is clearly no worse (the right answer)', () => {
    expect(canaryDecision(runs(40, 0.9), runs(160, 0.5), rules)).toMatchObject({ decision: 'promote', pulled: false });
  });

  it('rolls back a canary that is clearly worse, and pulls it before minRuns when it is far worse', () => {
    expect(canaryDecision(runs(60, 0.3), runs(240, 0.6), rules)).toMatchObject({ decision: 'rollback' });
    expect(canaryDecision(runs(10, 0), runs(40, 0.9), rules)).toMatchObject({ decision: 'rollback', pulled: true });
  });

  it('pulls a canary whose runs crash, whatever its pass rate', () => {
    const crashing = runs(10, 1).map((r, i) => ({ ...r, failed: i < 3 }));
    const d = canaryDecision(crashing, runs(40, 0.5), rules);
    expect(d).toMatchObject({ decision: 'rollback', pulled: true });
    expect(d.reason).toMatch(/3 of 10 canary runs failed/);
  });

  it('is not fooled by a few lucky runs or by heavy weak evidence: it waits', () => {
    expect(canaryDecision(runs(5, 1), runs(20, 0.5), rules).decision).toBe('continue');
    // 40 execution-signal runs (weight 0.2) look perfect, but their effective sample is the same as their count
    // and an equal champion keeps the test undecided; weight alone cannot buy a promotion.
    const weak = runs(40, 0.55, TRUST.execution).map((r) => ({ ...r, source: 'execution' as const }));
    expect(canaryDecision(weak, runs(40, 0.6), rules).decision).toBe('continue');
  });

  it('decides at the run cap by the observed difference', () => {
    expect(canaryDecision(runs(200, 0.58), runs(200, 0.6), { ...rules, z: 5 }).decision).toBe('promote');
    expect(canaryDecision(runs(200, 0.5), runs(200, 0.6), { ...rules, z: 5 }).decision).toBe('rollback');
  });
});

describe('deployment state', () => {
  const seed = { harnessId: 'hx-a', config: { name: 'a' } };

  it('fills windows from reports, counts a retried batch once, and remembers verified solved tasks in the regression set', () => {
    const s = initialDeploymentState('support-prod', seed, DAY);
    expect(acceptReports(s, [report(1, { verifier: 1 }), report(2, { verifier: 0 })], input)).toEqual({ accepted: 2, duplicates: 0 });
    expect(acceptReports(s, [report(2), report(3, { verifier: 1 }), report(4, { verifier: 1 })], input)).toEqual({ accepted: 2, duplicates: 1 });
    expect(s.regressionSet).toEqual(['t3', 't4']);
    expect(windowFull(s, input, DAY)).toBe(true);
    const { summary, runs: closed } = closeWindow(s, DAY + 1);
    expect(closed).toHaveLength(4);
    expect(summary).toMatchObject({ index: 1, runs: 4, passRate: 0.75, harnessId: 'hx-a' });
    expect(s.window).toMatchObject({ index: 2, runs: [] });
  });

  it('lets later feedback outrank execution signals in the open window; feedback on a closed window is late', () => {
    const s = initialDeploymentState('support-prod', seed, DAY);
    acceptReports(s, [report(1)], input);
    expect(s.window.runs[0]).toMatchObject({ source: 'execution', score: 1 });
    expect(applyFeedback(s, { runId: 'r1', score: 0, note: 'reopened' }, input)).toBe('applied');
    expect(s.window.runs[0]).toMatchObject({ source: 'feedback', score: 0, weight: TRUST.feedback });
    closeWindow(s, DAY);
    expect(applyFeedback(s, { runId: 'r1', score: 1 }, input)).toBe('late');
    expect(s.counts).toMatchObject({ feedback: 2, lateFeedback: 1 });
  });

  it('scores a run that failed in the product 0 and counts it', () => {
    const s = initialDeploymentState('support-prod', seed, DAY);
    acceptReports(s, [report(1, { endReason: 'crashed', failed: 'model unreachable' })], input);
    expect(s.window.runs[0]).toMatchObject({ failed: true, score: 0 });
    expect(s.counts.productRunsFailed).toBe(1);
  });

  it('stops evolution, never serving, when the day budget is spent, and starts afresh the next day', () => {
    const s = initialDeploymentState('support-prod', seed, DAY);
    accountSpend(s, { tokens: 1000, costUsd: null }, DAY);
    expect(roundBlocked(s, input, DAY)).toMatch(/evolution budget for 2026-12-07 spent/);
    expect(currentHarness(s, input, false).champion.harnessId).toBe('hx-a');
    expect(roundBlocked(s, input, DAY + 86_400_000)).toBeNull();
  });

  it('routes canary-period reports to the test, promotes, and rolls back by hand to the previous champion', () => {
    const s = initialDeploymentState('support-prod', seed, DAY);
    startCanary(s, { harnessId: 'hx-b', config: { name: 'b' } }, 1, 0.2, DAY);
    expect(roundBlocked(s, input, DAY)).toMatch(/canary hx-b/);
    acceptReports(s, [report(1, { harnessId: 'hx-b', verifier: 1 }), report(2, { verifier: 0 }), report(3, { harnessId: 'hx-old' })], input);
    expect(s.canary!.runs).toHaveLength(1);
    expect(s.canary!.championRuns).toHaveLength(1);
    const rev = s.revision;
    endCanary(s, { decision: 'promote', pulled: false, reason: 'better', evidence: undefined as never }, DAY);
    expect(s.championId).toBe('hx-b');
    expect(s.revision).toBe(rev + 1);
    expect(manualRollback(s, DAY, 'complaints')).toEqual({ harnessId: 'hx-a' });
    expect(s.championConfig).toEqual({ name: 'a' });
    expect(s.versions.map((v) => v.status)).toEqual(['seed', 'rolled_back']);
    expect(manualRollback(s, DAY, 'again')).toHaveProperty('problem');
  });

  it('names the field of a bad report', () => {
    expect(reportProblem({ ...report(1), verifier: 3 }, 2)).toBe('reports[2].verifier: expected a score in [0, 1]');
    expect(reportProblem({ ...report(1), runId: '' }, 0)).toBe('reports[0].runId: expected a non-empty string');
    expect(reportProblem(report(1), 0)).toBeNull();
  });

  it('rejects invalid deployment input with the field named', () => {
    const r = deploymentInputSchema().safeParse({ name: 'Bad Name', benchmark: 'blocksworld', canary: { share: 0.9 } });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['name', 'canary.share']));
  });
});

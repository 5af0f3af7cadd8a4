import { episodeSignals } from '../../aegis/digester';
import { initialDeploymentState, manualCanaryProblem, startCanary, DeploymentStatus } from '../../aegis/live/deployment-state';
import { getBenchmark } from '../../benchmarks/registry';
import { liveBenchLines, liveBenchSummary, PlayedRun } from '../../cli/deploy-bench/live-summary';
import { regressingCandidate } from '../../cli/deploy-bench/live-workload';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace, TraceRecord } from '../../harness/trace';
import { DeploymentClient, DeploymentLink } from '../../library/deployment';
import { benchmarkToolProvider } from '../../suites/benchmark-tools';
import { historyLines } from '../../report/history-text';
import type { AuditRecord } from '../../aegis/types';

/**
 * The pieces of `deploy bench` that need no server: a benchmark's tools as a product's tools with the
 * suite's verifier reading the state the run left, the summary's arithmetic, the operator's canary rule,
 * the regressing candidate it injects, and the Digester's reading of an action announced as a final answer.
 */
describe('benchmarkToolProvider', () => {
  const bench = getBenchmark('blocksworld');
  const taskId = bench.tasks().find((t) => t.split === 'train')!.id;

  it("scores the state a run leaves: the reference plan 1, a wrong plan 0, and each session's score is taken once", async () => {
    const tools = benchmarkToolProvider(bench);
    const right = await tools.open({ suite: 'blocksworld', taskId, seed: 'run-1' });
    expect(right.specs.map((s) => s.name).sort()).toEqual(['pick_up', 'put_down', 'stack', 'unstack']);
    for (const call of bench.referenceSolution(taskId)) for (let i = 0; i < 10 && !(await right.call(call)).ok; i++);
    await right.close();
    expect(tools.lastScore('run-1')).toBe(1);
    const wrong = await tools.open({ suite: 'blocksworld', taskId, seed: 'run-2' });
    await wrong.call(bench.referenceSolution(taskId)[0]);
    await wrong.close();
    expect(tools.lastScore('run-2')).toBe(0);
    expect(tools.lastScore('run-2')).toBeNull();
    expect(tools.lastScore('never-opened')).toBeNull();
  });

  it('the reference plan solves the task through the sessions (replayed until no slip), and a fooling call scores nothing', async () => {
    const tools = benchmarkToolProvider(bench);
    const session = await tools.open({ suite: 'blocksworld', taskId, seed: 'run-3' });
    for (const call of bench.referenceSolution(taskId)) {
      // The gripper may slip (a transient fault): the same action again, as the tool says.
      for (let i = 0; i < 10 && !(await session.call(call)).ok; i++);
    }
    // Calls that try to reach the verifier's internals through prototype names are tool errors, not crashes or points.
    for (const name of ['constructor', '__proto__', 'hasOwnProperty', 'score']) expect((await session.call({ id: 'x', name, args: { block: 'constructor' } })).ok).toBe(false);
    expect(await session.state()).toEqual({ score: 1 });
    await session.close();
    await session.close();
    expect(tools.lastScore('run-3')).toBe(1);
  });
});

describe('the live bench summary', () => {
  const status = (over: Partial<DeploymentStatus> = {}): DeploymentStatus =>
    ({
      name: 'bench-x',
      windows: [
        { index: 1, runs: 30, passRate: 0.1, harnessId: 'hx-a' },
        { index: 2, runs: 30, passRate: 0.3, harnessId: 'hx-a' },
        { index: 3, runs: 30, passRate: 0.55, harnessId: 'hx-b' },
      ],
      counts: { reports: 95, duplicates: 0, productRunsFailed: 1, feedback: 0, lateFeedback: 0, swaps: 2, midTaskSwaps: 1, promotions: 1, rollbacks: 1, pulls: 0, rounds: 2 },
      spend: { total: { tokens: 1234, usd: 0 } },
      ...over,
    }) as unknown as DeploymentStatus;
  const played: PlayedRun[] = [
    ...Array.from({ length: 96 }, (_, i): PlayedRun => ({ index: i, ok: true, startHarnessId: i < 50 ? 'hx-a' : 'hx-b', harnessId: i === 40 ? 'hx-b' : i < 50 ? 'hx-a' : 'hx-b', midTaskSwap: i === 40, steps: 5, ms: 1 })),
    { index: 96, ok: false, error: 'model down', ms: 1 },
  ];
  const stats = { revision: 3, harnessId: 'hx-b', reportsQueued: 0, reportsSent: 95, reportsDropped: 0, sendFailures: 0, feedbackSent: 0, tracesTooLarge: 0, failingStatic: false };

  it('gives the windows in order, the gain in points, and counts what the product saw', () => {
    const s = liveBenchSummary({ runs: 97, concurrency: 4, played, status: status(), stats, badCandidate: null, durationMs: 1000, paced: 'rounds' });
    expect(s.windows).toEqual([
      { runs: 30, passRate: 0.1, harnessId: 'hx-a' },
      { runs: 30, passRate: 0.3, harnessId: 'hx-a' },
      { runs: 30, passRate: 0.55, harnessId: 'hx-b' },
    ]);
    expect(s.gainPoints).toBe(45);
    expect(s.midTaskSwaps).toBe(1);
    expect(s.productRunsFailed).toBe(1);
    // 97 runs played (the failed one is reported too), 95 applied by the deployment: 2 lost.
    expect(s.productRunsLost).toBe(2);
    expect(s).toMatchObject({ swaps: 2, promotions: 1, rollbacks: 1, rounds: 2, evolutionTokens: 1234, harnessesServed: 2 });
    expect(liveBenchLines(s).join('\n')).toMatch(/10\.0% → 55\.0% \(\+45 points\)/);
  });

  it('with no answer from the deployment at the end, every run counts as lost and no gain is claimed', () => {
    const s = liveBenchSummary({ runs: 97, concurrency: 4, played, status: null, stats, badCandidate: null, durationMs: 1000, paced: 'none' });
    expect(s.productRunsLost).toBe(97);
    expect(s.gainPoints).toBeNull();
    expect(s.windows).toEqual([]);
  });
});

describe("an operator's canary", () => {
  const seed = seedHarness();
  const seedId = harnessId(seed);
  const fresh = () => initialDeploymentState('desk', { harnessId: seedId, config: seed as unknown as Record<string, unknown> }, Date.UTC(2026, 11, 7));
  const bad = regressingCandidate(seed);
  const request = { harnessId: harnessId(bad), config: bad as unknown as Record<string, unknown>, reason: 'try it' };

  it('is accepted when nothing is deciding, and refused while a canary decides, for the champion itself, and for a malformed request', () => {
    expect(manualCanaryProblem(fresh(), request)).toBeNull();
    const busy = fresh();
    startCanary(busy, { harnessId: request.harnessId, config: request.config }, 1, 0.2, 0);
    expect(manualCanaryProblem(busy, request)).toMatch(/still deciding; roll it back first/);
    expect(manualCanaryProblem(fresh(), { ...request, harnessId: seedId })).toMatch(/already the champion/);
    expect(manualCanaryProblem(fresh(), { ...request, harnessId: '../../etc/passwd' })).toMatch(/harness content id/);
    expect(manualCanaryProblem(fresh(), { ...request, config: 'x' })).toMatch(/config must be the harness config object/);
    expect(manualCanaryProblem(fresh(), { ...request, reason: 'x'.repeat(501) })).toMatch(/at most 500/);
    expect(manualCanaryProblem(undefined, request)).toMatch(/still setting up/);
  });

  it('the injected regression is the champion with a step budget of 2, and nothing else changed', () => {
    const budgets = bad.hooks.step_start!.filter((p) => p.type === 'step_budget');
    expect(budgets).toEqual([{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 2 } }]);
    expect(bad.hooks.before_model).toEqual(seed.hooks.before_model);
    expect(harnessId(bad)).not.toBe(seedId);
  });
});

describe('the Digester on live traces', () => {
  const trace = (answer: string, success: boolean): EpisodeTrace =>
    ({
      taskId: 't',
      harnessId: 'hx-a',
      model: 'sim:small',
      seed: 's',
      attempt: 0,
      systemPrompt: '',
      instruction: '',
      records: [{ kind: 'note', step: 1, note: 'final answer', data: { answer } } as TraceRecord],
      steps: 1,
      endReason: 'goal_reached',
      success,
      reward: success ? 1 : 0,
      usage: { inputTokens: 1, outputTokens: 1 },
      durationMs: 1,
    }) as EpisodeTrace;

  it('counts an action announced as the final answer as a format error, a wrong real answer as a wrong outcome, and a solved run as nothing', () => {
    expect(episodeSignals(trace('I will unstack the yellow block from on top of the orange block.', false)).counts).toEqual({ format_error: 1 });
    expect(episodeSignals(trace("Let me pick up the red block", false)).counts).toEqual({ format_error: 1 });
    expect(episodeSignals(trace('The answer is 42.', false)).counts).toEqual({ wrong_outcome: 1 });
    // A long reply that happens to start with "I will" is an answer, not an announced action.
    expect(episodeSignals(trace(`I will explain.\n${'The plan is done. '.repeat(5)}`, false)).counts).toEqual({ wrong_outcome: 1 });
    expect(episodeSignals(trace('I will unstack the yellow block.', true)).counts).toEqual({});
  });
});

describe("the agent's report batches", () => {
  it('stay under the update size limit, and a trace too large for any update is sent without its trace (counted), never blocking the queue', async () => {
    const sent: Array<{ bytes: number; reports: Array<{ runId: string; trace?: unknown }> }> = [];
    const client: DeploymentClient = {
      workflow: {
        getHandle: () => ({
          query: async <R>() => ({ revision: 1, unchanged: true }) as R,
          executeUpdate: async <R>(name: string, { args }: { args: unknown[] }) => {
            if (name === 'report') sent.push({ bytes: Buffer.byteLength(JSON.stringify(args[0])), reports: args[0] as Array<{ runId: string; trace?: unknown }> });
            return { queued: (args[0] as unknown[]).length } as R;
          },
        }),
      },
    };
    const link = new DeploymentLink({ name: 'desk', client, batchSize: 50, flushMs: 1, log: () => undefined });
    const trace = (kb: number) => ({ records: [{ kind: 'note', step: 1, note: 'x', data: 'y'.repeat(kb * 1024) }], endReason: 'goal_reached', steps: 1 }) as unknown as EpisodeTrace;
    for (let i = 0; i < 12; i++) link.report({ runId: `r${i}`, runKey: 'u', harnessId: 'hx-a', taskId: 't', endReason: 'goal_reached', steps: 1 }, trace(i === 5 ? 1500 : 100));
    await link.flush(10_000);
    expect(sent.flatMap((b) => b.reports.map((r) => r.runId))).toEqual(Array.from({ length: 12 }, (_, i) => `r${i}`));
    expect(Math.max(...sent.map((b) => b.bytes))).toBeLessThanOrEqual(400 * 1024);
    expect(sent.length).toBeGreaterThan(3);
    expect(sent.flatMap((b) => b.reports).find((r) => r.runId === 'r5')!.trace).toBeNull();
    expect(link.stats).toMatchObject({ tracesTooLarge: 1, reportsDropped: 0, reportsSent: 12 });
  });
});

describe("history of a deployment", () => {
  it('reads windows, canaries, their ends and manual rollbacks in words', () => {
    const rec = (stage: string, kind: string, payload: Record<string, unknown>, harnessId = 'hx-0123456789abcdef') => ({ ts: '2026-12-07T05:00:00.000Z', runId: 'deploy-x', key: stage, round: 1, stage, kind, harnessId, evidenceRefs: [], payload }) as unknown as AuditRecord;
    const lines = historyLines([
      rec('rollout', 'info', { live: true, window: { index: 2, runs: 30, passRate: 0.1, low: 0.035, high: 0.256, harnessId: 'hx-0123456789abcdef' } }),
      rec('ship', 'info', { canary: true, from: 'hx-aaaaaaaaaaaaaaaa', to: 'hx-0123456789abcdef', share: 0.5 }),
      rec('ship', 'rollback', { live: true, decision: 'rollback', pulled: false, reason: 'run cap 30 reached: canary 0.0% vs champion 20.0%' }),
      rec('ship', 'rollback', { manual: true, to: 'hx-aaaaaaaaaaaaaaaa', reason: 'tickets reopened' }),
    ]);
    expect(lines[1]).toMatch(/info\s+window 2: 30 runs · pass 10\.0% \[3\.5%–25\.6%\] under hx-01234567$/);
    expect(lines[2]).toMatch(/canary\s+canary hx-01234567 from hx-aaaaaaaa on 50\.0% of run keys$/);
    expect(lines[3]).toMatch(/rolled back\s+rolled back hx-01234567: run cap 30 reached/);
    expect(lines[4]).toMatch(/rolled back\s+manual rollback to hx-aaaaaaaa: tickets reopened$/);
  });
});

import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { existsSync } from 'node:fs';
import { rolloutTasks } from '../../aegis/rollout';
import { seededRandom } from '../../aegis/sampling';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import type { EvaluateResult } from '../../workflows/evaluate-harness';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { useWorkerFixture, waitFor } from './temporal-env';

// A guard against hangs, not a timing assertion: the HumanEval run grades every new solution in two python3
// processes (the trusted grader and the solution worker), which takes minutes on a busy 2-core machine.
jest.setTimeout(420_000);

const TASK_QUEUE = 'it-evolve';
const fixture = useWorkerFixture(TASK_QUEUE);
const store = new ArtifactStore(fixture.dataDir);
const start = fixture.start;

it('runs 2 AEGIS rounds on blocksworld with sim:small and ships at least one edit', async () => {
  const handle = await start({ benchmark: 'blocksworld', model: 'sim:small', rounds: 2, batchSize: 24, validationSize: 12, seed: 'it-2rounds' }, 'it-2rounds');
  const summary = await handle.result() as RunSummary;
  expect(summary.rounds).toBe(2);
  expect(summary.shipped).toBeGreaterThanOrEqual(1);
  expect(summary.harnessId).not.toBe(summary.seedHarnessId);
  expect(summary.evolvedPassRate).toBeGreaterThan(summary.seedPassRate);
  expect(summary.evolvedTestPassRate).not.toBeNull();
  const audit = await store.readAudit('it-2rounds');
  const ships = audit.filter((r) => r.stage === 'ship');
  expect(ships).toHaveLength(summary.shipped);
  expect(ships[ships.length - 1].harnessId).toBe(summary.harnessId);
  expect(existsSync(store.harnessPath(summary.harnessId))).toBe(true);
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  // The workflow history carries refs and scores, never traces.
  const history = await handle.fetchHistory();
  expect(JSON.stringify(history).length).toBeLessThan(400_000);
});

it('fails fast and non-retryably on invalid input, listing every problem', async () => {
  const handle = await start({ benchmark: 'Blocks World', rounds: 0, k: '2', modle: 'sim:small' }, 'it-invalid');
  const error = await handle.result().then(() => null, (e) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.type).toBe('InvalidInput');
  expect(cause.nonRetryable).toBe(true);
  expect(cause.message).toMatch(/benchmark: benchmark must be a suite name .*e\.g\. one of: blocksworld/);
  expect(cause.message).toMatch(/rounds: /);
  expect(cause.message).toMatch(/k: /);
  expect(cause.message).toMatch(/modle/);
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
});

it('rejects an invalid seed harness in the first activity without retrying it', async () => {
  const handle = await start({ benchmark: 'blocksworld', seedHarness: { model: { main: { model: 'sim:small' } }, hooks: { before_model: [{ id: 'x', type: 'no_such_processor' }] } } }, 'it-bad-harness');
  const error = await handle.result().then(() => null, (e) => e);
  const failure = (error as WorkflowFailedError).cause as Error & { cause?: Error };
  expect(`${failure?.message} ${failure?.cause?.message}`).toMatch(/seedHarness\.hooks\.before_model\.x: unknown processor type "no_such_processor"/);
  const events = (await handle.fetchHistory()).events ?? [];
  const started = events.filter((e) => e.activityTaskStartedEventAttributes);
  expect(started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
});

it('pauses at a stage boundary, resumes, and stops after the current round', async () => {
  const handle = await start({ benchmark: 'blocksworld', rounds: 40, patience: 40, batchSize: 6, validationSize: 4, seed: 'it-control', evaluateTest: false }, 'it-control');
  const status = () => handle.query<RunStatus>('status');
  await waitFor(status, (s) => s.round >= 1, 60_000, 'round 1');
  await handle.signal('pause');
  const paused = await waitFor(status, (s) => s.stage === 'paused', 60_000, 'paused');
  await new Promise((r) => setTimeout(r, 1500));
  const still = await status();
  expect(still.stage).toBe('paused');
  expect(still.round).toBe(paused.round);
  await handle.signal('resume');
  await waitFor(status, (s) => s.round > paused.round, 60_000, 'progress after resume');
  await handle.signal('stop');
  const summary = await handle.result() as RunSummary;
  expect(summary.stopReason).toBe('stop requested');
  expect(summary.rounds).toBeLessThan(40);
});

it('survives a burst of random invalid inputs: each fails fast with InvalidInput and writes nothing', async () => {
  const random = seededRandom('it-burst');
  const pick = <T,>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const values = [null, -5, 0, 1.5, 'x', '', true, [], {}, 'sim:nope', 99999];
  const keys = ['benchmark', 'model', 'rounds', 'k', 'seed', 'patience', 'approval', 'seedHarness', 'typo'];
  const handles = [];
  for (let i = 0; i < 15; i++) {
    const input: Record<string, unknown> = { benchmark: 'nope' };
    for (let j = 0; j < 3; j++) input[pick(keys)] = pick(values);
    handles.push(await start(input, `it-burst-${i}`));
  }
  for (const [i, handle] of handles.entries()) {
    const error = await handle.result().then(() => null, (e) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidInput');
    expect(existsSync(store.runDir(`it-burst-${i}`))).toBe(false);
  }
  // The worker is unaffected.
  const ok = await start({ benchmark: 'blocksworld', rounds: 1, batchSize: 4, validationSize: 2, evaluateTest: false }, 'it-after-burst');
  expect(((await ok.result()) as RunSummary).rounds).toBe(1);
});

it('ends cleanly with status budget_exhausted when the token budget is spent', async () => {
  const handle = await start({ benchmark: 'blocksworld', rounds: 20, patience: 20, batchSize: 8, validationSize: 4, seed: 'it-budget-tokens', maxTokens: 20_000 }, 'it-budget-tokens');
  const summary = (await handle.result()) as RunSummary;
  expect(summary.stopReason).toMatch(/^budget exhausted: \d+ of 20000 tokens$/);
  expect(summary.rounds).toBeLessThan(20);
  expect(summary.tokens).toBeGreaterThanOrEqual(20_000);
  expect(summary.costUsd).toBe(0); // the simulator is free
  const ids: string[] = [];
  for await (const w of fixture.env.client.workflow.list({ query: 'HarnessXStatus = "budget_exhausted"' })) ids.push(w.workflowId);
  expect(ids).toContain('it-budget-tokens');
});

it('a batch rollout stops at the token budget: the run overshoots by at most the task that crossed it, not the rest of the batch', async () => {
  // tau2-retail on the simulator is verbose (about 80k tokens a task at k=2): a 12-task batch is ~1 M tokens,
  // so a 300k budget is spent a few tasks in. Before the rollout had an allowance, the whole batch ran.
  const handle = await start({ benchmark: 'tau2-retail', model: 'sim:small', rounds: 5, patience: 5, batchSize: 12, validationSize: 4, seed: 'it-budget-rollout', maxTokens: 300_000, evaluateTest: false, trackHeldOut: false, finalTrainTasks: 4 }, 'it-budget-rollout');
  const summary = (await handle.result()) as RunSummary;
  expect(summary.stopReason).toMatch(/^budget exhausted: \d+ of 300000 tokens$/);
  const audit = await store.readAudit('it-budget-rollout');
  const rollout = audit.find((r) => r.stage === 'rollout')!;
  expect(rollout.payload).toMatchObject({ budgetStopped: true, batchTasks: 12 });
  const covered = rollout.payload.tasks as number;
  expect(covered).toBeGreaterThan(0);
  expect(covered).toBeLessThan(12);
  expect(rollout.payload.coveredTasks).toBe(covered);
  // The round ends at the rollout: no digest, no gate, a no-op saying why.
  const roundOne = audit.filter((r) => r.round === 1);
  expect(roundOne.map((r) => r.stage)).not.toContain('digest');
  expect(roundOne.find((r) => r.key === '1:noop')?.payload.noop).toMatch(/evolution budget spent during the rollout/);
  // The traces the round kept are the covered tasks' only; the last of them crossed the budget.
  const traces = await store.get<Array<{ taskId: string; usage: { inputTokens: number; outputTokens: number } }>>(rollout.evidenceRefs[0]);
  expect(traces).toHaveLength(covered * 2);
  const crossingTask = traces[traces.length - 1].taskId;
  const crossingTokens = traces.filter((t) => t.taskId === crossingTask).reduce((n, t) => n + t.usage.inputTokens + t.usage.outputTokens, 0);
  expect(summary.tokens).toBe(rollout.payload.tokens);
  expect(summary.overshootTokens).toBeLessThanOrEqual(crossingTokens + (rollout.payload.beyondCutTokens as number));
  // Not vacuous: the tasks before the crossing one stayed within the budget, and the crossing one passed it.
  expect(summary.tokens - crossingTokens - (rollout.payload.beyondCutTokens as number)).toBeLessThan(300_000);
  expect(summary.tokens).toBeGreaterThanOrEqual(300_000);
});

it('a regression guard the budget stops part-way neither rolls back nor moves its best, and overshoots by at most one task', async () => {
  const base = { benchmark: 'tau2-retail', model: 'sim:small', patience: 5, batchSize: 8, validationSize: 4, seed: 'it-budget-guard', evaluateTest: false, trackHeldOut: false, finalTrainTasks: 4, regressionGuard: { every: 1, trainSample: 12, tolerance: 1 } };
  // Round 1's spend, from a run without a budget (its round 1 is the same: nothing in it reaches a budget).
  await (await start({ ...base, rounds: 1 }, 'it-budget-guard-free')).result();
  const free = await store.readAudit('it-budget-guard-free');
  const roundOne = free.find((r) => r.key === '1:round_end')!.payload.tokens as number;
  expect(free.find((r) => r.key === '1:regression')?.payload.budgetStopped).toBeUndefined();
  // The same run with 300k tokens left when the guard starts: its 16-task suite (~80k tokens a task) does not fit.
  const maxTokens = roundOne + 300_000;
  const summary = (await (await start({ ...base, rounds: 3, maxTokens }, 'it-budget-guard')).result()) as RunSummary;
  const audit = await store.readAudit('it-budget-guard');
  expect(audit.find((r) => r.key === '1:round_end')!.payload.tokens).toBe(roundOne);
  const guard = audit.find((r) => r.key === '1:regression')!;
  expect(guard.kind).toBe('info');
  expect(guard.payload).toMatchObject({ budgetStopped: true, suite: 16 });
  expect(guard.payload.stoppedOn).toMatch(/ after \d+ of 16 suite tasks$/);
  expect(audit.filter((r) => r.stage === 'regression' && r.kind === 'rollback')).toEqual([]);
  expect(summary.stopReason).toMatch(/^budget exhausted/);
  // The overshoot is at most one task's two episodes: the most any task of the benchmark costs the seed harness under the guard's seed.
  const bench = getBenchmark('tau2-retail');
  const perTask = new Map<string, number>();
  await rolloutTasks({ benchmark: bench, config: seedHarness('sim:small'), harnessId: 'it-guard-probe', taskIds: bench.tasks().map((t) => t.id), k: 2, seed: 'it-budget-guard|regression', keepTraces: false, limiters: null, onTrace: (t) => perTask.set(t.taskId, (perTask.get(t.taskId) ?? 0) + t.usage.inputTokens + t.usage.outputTokens) });
  const mostPerTask = Math.max(...perTask.values());
  expect(summary.tokens).toBeGreaterThanOrEqual(maxTokens);
  expect(summary.overshootTokens).toBeLessThanOrEqual(mostPerTask);
});

it('refuses a USD budget for a model without a price', async () => {
  const handle = await start({ benchmark: 'blocksworld', model: 'openai-compatible:m@http://127.0.0.1:9/v1', maxUsd: 5 }, 'it-budget-unpriced');
  const error = await handle.result().then(() => null, (e) => e);
  const failure = (error as WorkflowFailedError).cause as Error & { cause?: Error };
  expect(`${failure?.message} ${failure?.cause?.message}`).toMatch(/maxUsd: "openai-compatible:m@http:\/\/127.0.0.1:9\/v1" has no price/);
});

it('statistical gating ships only gains that beat paired run-to-run noise, and says so in the gate record', async () => {
  const handle = await start({ benchmark: 'blocksworld', model: 'sim:small', rounds: 1, batchSize: 12, validationSize: 6, seed: 'it-stat', evaluateTest: false, trackHeldOut: false, gating: { mode: 'statistical', repeats: 3 } }, 'it-stat');
  await handle.result();
  const gates = (await store.readAudit('it-stat')).filter((r) => r.stage === 'gate');
  expect(gates.length).toBeGreaterThan(0);
  const seesaws = gates.map((g) => (g.payload.checks as Array<{ check: string; detail: string }>).find((c) => c.check === 'seesaw')).filter(Boolean);
  expect(seesaws.length).toBeGreaterThan(0);
  for (const s of seesaws) expect(s!.detail).toMatch(/over 3 paired repeats \(t = -?\d+\.\d\d; incumbent run-to-run sd \d+\.\d\d\)|regresses/);
});

it('AEGIS with the rule-based meta-agent improves sim:small on GSM8K, on held-out test tasks too', async () => {
  const handle = await start({ benchmark: 'gsm8k', model: 'sim:small', rounds: 4, batchSize: 30, validationSize: 20, seed: 'it-gsm8k', trackHeldOut: false, finalTrainTasks: 150 }, 'it-gsm8k');
  const summary = (await handle.result()) as RunSummary;
  expect(summary.shipped).toBeGreaterThanOrEqual(2);
  expect(summary.evolvedPassRate).toBeGreaterThan(summary.seedPassRate + 0.05);
  expect(summary.evolvedTestPassRate!).toBeGreaterThan(summary.seedTestPassRate! + 0.05);
});

it('AEGIS with the rule-based meta-agent improves sim:small on HumanEval (hidden tests run in the Python sandbox)', async () => {
  const handle = await start({ benchmark: 'humaneval', model: 'sim:small', rounds: 4, batchSize: 30, validationSize: 15, seed: 'he', trackHeldOut: false, evaluateTest: false }, 'it-humaneval');
  const summary = (await handle.result()) as RunSummary;
  expect(summary.shipped).toBeGreaterThanOrEqual(1);
  expect(summary.evolvedPassRate).toBeGreaterThan(summary.seedPassRate);
});

it('AEGIS with the rule-based meta-agent improves sim:small on tau2-bench retail (scripted user, per-episode database)', async () => {
  const handle = await start({ benchmark: 'tau2-retail', model: 'sim:small', rounds: 6, batchSize: 30, validationSize: 12, seed: 'it-tau2', trackHeldOut: false }, 'it-tau2');
  const summary = (await handle.result()) as RunSummary;
  expect(summary.shipped).toBeGreaterThanOrEqual(2);
  expect(summary.evolvedPassRate).toBeGreaterThan(summary.seedPassRate);
});

it('AEGIS with the rule-based meta-agent improves sim:small on the WebShop-style store (pages over HTTP)', async () => {
  const handle = await start({ benchmark: 'webshop', model: 'sim:small', rounds: 4, batchSize: 30, validationSize: 15, seed: 'it-webshop', trackHeldOut: false }, 'it-webshop');
  const summary = (await handle.result()) as RunSummary;
  expect(summary.shipped).toBeGreaterThanOrEqual(2);
  expect(summary.evolvedPassRate).toBeGreaterThan(summary.seedPassRate + 0.1);
  expect(summary.evolvedTestPassRate!).toBeGreaterThan(summary.seedTestPassRate!);
});

it('evaluateHarness reports outcomes without writing traces unless asked, and then returns refs that resolve', async () => {
  const harnessId = await store.putHarness(seedHarness());
  const ids = getBenchmark('blocksworld').tasks().slice(0, 5).map((t) => t.id);
  const run = (keepTraces: boolean, id: string): Promise<EvaluateResult> =>
    fixture.env.client.workflow.execute('evaluateHarness', { taskQueue: TASK_QUEUE, workflowId: id, args: [{ benchmark: 'blocksworld', harnessId, taskIds: ids, k: 2, seed: 'eval', chunkSize: 2, keepTraces }] });
  const plain = await run(false, 'it-eval-plain');
  expect(plain).toMatchObject({ tasks: 5, episodes: 10 });
  expect(plain.tracesRefs).toBeUndefined();
  const scheduled = ((await fixture.env.client.workflow.getHandle('it-eval-plain').fetchHistory()).events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
  expect(scheduled).toEqual(['rolloutOutcomes', 'rolloutOutcomes', 'rolloutOutcomes']);
  const traced = await run(true, 'it-eval-traced');
  // Same seed, same outcomes; the traces are there, one blob per chunk of 2 tasks × 2 attempts.
  expect(traced.passed).toBe(plain.passed);
  expect(traced.tracesRefs).toHaveLength(3);
  const episodes = await Promise.all(traced.tracesRefs!.map((ref) => store.get<Array<{ taskId: string }>>(ref)));
  expect(episodes.map((e) => e.length)).toEqual([4, 4, 2]);
  expect(episodes.flat().map((t) => t.taskId)).toEqual(ids.flatMap((id) => [id, id]));
});

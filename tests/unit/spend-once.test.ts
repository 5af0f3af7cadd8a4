import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { createOutcomeCache, paidByEarlierAttempt } from '../../activities/outcome-cache';
import { outcomesFor } from '../../activities/rollouts';
import { createActivityServices } from '../../activities/services';
import type { Spend } from '../../activities/spend';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';

/**
 * Spend counted once, whatever is retried: an activity attempt whose result was lost (the worker or the
 * server died after it finished) is retried; the retry reuses the outcomes the first attempt cached, and
 * must report what they cost, as the uninterrupted activity did. Attempts are simulated with Temporal's
 * MockActivityEnvironment (one Context per attempt, with the workflow run, activity id and attempt set).
 */
const newStore = () => new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-spend-once-')));
const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, 6).map((t) => t.id);

/** An attempt of activity `activityId` of workflow run `run` of workflow `workflowId`. */
const attempt = (activityId: string, n: number, run = 'run-a', workflowId = 'wf-spend') =>
  new MockActivityEnvironment({ activityId, attempt: n, workflowExecution: { workflowId, runId: run }, activityType: 'evaluate' });

/** Runs `fn` in the attempt's activity context, typed. */
const runIn = <R>(env: MockActivityEnvironment, fn: () => Promise<R>): Promise<R> => env.run(fn) as Promise<R>;

async function setup() {
  const store = newStore();
  const harnessId = await store.putHarness(seedHarness('sim:small'));
  const activities = createActivities({ store });
  const input = { benchmark: 'blocksworld', harnessId, taskIds, k: 2, seed: 'spend-once' };
  return { store, activities, input, harnessId };
}

describe('an evaluation retried after its result was lost reports the spend of an uninterrupted one', () => {
  test('attempt 2 reuses attempt 1\'s outcomes and counts what they cost; another activity reusing them pays nothing', async () => {
    const reference = await setup();
    const uninterrupted = await runIn(attempt('11', 1), () => reference.activities.evaluate(reference.input));
    expect(uninterrupted.spend.tokens).toBeGreaterThan(0);

    const run = await setup();
    const first = await runIn(attempt('11', 1), () => run.activities.evaluate(run.input));
    expect(first).toEqual(uninterrupted);
    // The first attempt's completion never reached the server: Temporal runs attempt 2, which finds every outcome cached.
    const retried = await runIn(attempt('11', 2), () => run.activities.evaluate(run.input));
    expect(retried).toEqual(uninterrupted);
    // A lost start dispatched again under the same attempt number is another execution too.
    const redispatched = await runIn(attempt('11', 1), () => run.activities.evaluate(run.input));
    expect(redispatched.spend).toEqual(uninterrupted.spend);
    // Another activity of the run (a later re-evaluation) reuses them for free, as before: the spend was its payer's.
    const other = await runIn(attempt('12', 1), () => run.activities.evaluate(run.input));
    expect(other.spend.tokens).toBe(0);
    expect(other.passRate).toBe(uninterrupted.passRate);
    // Another run of the workflow (continue-as-new, reset) with the same activity id: not an earlier attempt.
    const otherRun = await runIn(attempt('11', 2, 'run-b'), () => run.activities.evaluate(run.input));
    expect(otherRun.spend.tokens).toBe(0);
  });

  test('an attempt that ran part of the tasks: the retry pays the rest and counts the part, equal to the uninterrupted spend', async () => {
    const reference = await setup();
    const uninterrupted = await runIn(attempt('20', 1), () => reference.activities.evaluate(reference.input));
    const run = await setup();
    const services = createActivityServices({ store: run.store });
    // Attempt 1 got as far as caching the first half (as a gate does between its rollouts) and died.
    await runIn(attempt('20', 1), () => outcomesFor(services, { ...run.input, taskIds: taskIds.slice(0, 3) }));
    const retried = await runIn(attempt('20', 2), () => run.activities.evaluate(run.input));
    expect(retried.spend).toEqual(uninterrupted.spend);
  });

  test('within one attempt a reused outcome is counted once, however often it is looked up (as the first attempt paid it once)', async () => {
    const run = await setup();
    const services = createActivityServices({ store: run.store });
    const firstSpent: Spend[] = [];
    await runIn(attempt('30', 1), async () => {
      await outcomesFor(services, run.input, firstSpent);
      await outcomesFor(services, run.input, firstSpent); // the second look is free within the attempt that paid
    });
    const paid = firstSpent.reduce((n, s) => n + s.tokens, 0);
    expect(paid).toBeGreaterThan(0);
    const retrySpent: Spend[] = [];
    const env = attempt('30', 2);
    await runIn(env, async () => {
      await outcomesFor(services, run.input, retrySpent);
      await outcomesFor(services, run.input, retrySpent);
    });
    expect(retrySpent.reduce((n, s) => n + s.tokens, 0)).toBe(paid);
  });

  test('outside an activity (bench, direct calls) nothing is an earlier attempt: cached outcomes are free, as before', async () => {
    const run = await setup();
    const services = createActivityServices({ store: run.store });
    const spent: Spend[] = [];
    await outcomesFor(services, run.input, spent);
    expect(spent.reduce((n, s) => n + s.tokens, 0)).toBeGreaterThan(0);
    const again: Spend[] = [];
    await outcomesFor(services, run.input, again);
    expect(again.reduce((n, s) => n + s.tokens, 0)).toBe(0);
  });
});

describe('the outcome cache keeps what each answer cost', () => {
  test('an entry holds the outcome, its spend and its payer; a lookup from a later attempt returns that spend once', async () => {
    const store = newStore();
    const cache = createOutcomeCache(store);
    const scope = { benchmark: 'blocksworld', harnessId: 'hx-0000000000000000', k: 1, seed: 's' };
    const outcome = (taskId: string) => ({ taskId, passed: true, successes: 1, attempts: 1 });
    const spend = (tokens: number): Spend => ({ inputTokens: tokens - 1, outputTokens: 1, tokens, costUsd: null });
    await runIn(attempt('40', 1), () => cache.record(scope, [outcome('a'), outcome('b')], (id) => spend(id === 'a' ? 100 : 7)));
    const env = attempt('40', 2);
    const first = await runIn(env, () => cache.lookup(scope, ['a', 'b', 'c']));
    expect([...first.outcomes.keys()]).toEqual(['a', 'b']);
    expect(first.reusedSpend).toEqual({ inputTokens: 105, outputTokens: 2, tokens: 107, costUsd: null });
    expect((await runIn(env, () => cache.lookup(scope, ['a', 'b']))).reusedSpend.tokens).toBe(0);
    // The paying attempt itself, and other activities, reuse it for free.
    expect((await runIn(attempt('41', 1), () => cache.lookup(scope, ['a', 'b']))).reusedSpend.tokens).toBe(0);
  });

  test('paidByEarlierAttempt: same run and activity, another attempt token', () => {
    const me = { run: 'r', activity: '5', token: '2-x' };
    expect(paidByEarlierAttempt({ run: 'r', activity: '5', token: '1-y' }, me)).toBe(true);
    expect(paidByEarlierAttempt({ run: 'r', activity: '5', token: '2-x' }, me)).toBe(false);
    expect(paidByEarlierAttempt({ run: 'r', activity: '6', token: '1-y' }, me)).toBe(false);
    expect(paidByEarlierAttempt({ run: 'q', activity: '5', token: '1-y' }, me)).toBe(false);
    expect(paidByEarlierAttempt(null, me)).toBe(false);
    expect(paidByEarlierAttempt({ run: 'r', activity: '5', token: '1-y' }, null)).toBe(false);
  });
});

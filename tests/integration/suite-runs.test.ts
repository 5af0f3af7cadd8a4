import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { join } from 'node:path';
import type { RunSummary } from '../../workflows/evolve-harness';
import { useWorkerFixture, activityFailureOf } from './temporal-env';

/**
 * User suites on a real dev server: the worker registers the suites of its config (found through
 * HARNESSX_CONFIG, as a remote worker would) before polling; a run naming a suite the worker does not know
 * fails at its first activity, non-retryably, listing what the worker knows — as a Web UI start would.
 */
jest.setTimeout(240_000);

process.env.HARNESSX_CONFIG = join(__dirname, '../fixtures/suites/notes/harnessx.config.ts');
const fixture = useWorkerFixture('it-suites');

it('fails a run on an unknown suite at once, non-retryably, naming the suites the worker knows', async () => {
  const handle = await fixture.start({ benchmark: 'no-such-suite', rounds: 1 }, 'it-suite-unknown');
  const error = await handle.result().then(() => null, (e) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = activityFailureOf(error);
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.type).toBe('InvalidInput');
  expect(cause.nonRetryable).toBe(true);
  expect(cause.message).toBe('unknown suite "no-such-suite"; this worker knows: blocksworld, gsm8k, humaneval, tau2-retail, webshop, notes');
  // One attempt of the first activity, no retries.
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes);
  expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual(['prepareRun']);
  const started = events.find((e) => e.activityTaskStartedEventAttributes);
  expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
});

it('runs an evolve round on a suite of the config, to the end', async () => {
  const handle = await fixture.start({ benchmark: 'notes', model: 'sim:small', rounds: 1, batchSize: 2, validationSize: 1, k: 1, seed: 'it-suite' }, 'it-suite-notes');
  const summary = (await handle.result()) as RunSummary;
  expect(summary.rounds).toBe(1);
  // The simulator knows nothing of these tasks: it answers without saving notes, and the verifier says so.
  expect(summary.seedPassRate).toBe(0);
});

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import { MetaAgent, StageFailure } from '../../aegis/meta-agent';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import { ProviderError } from '../../models/errors';
import { ArtifactStore } from '../../store/artifact-store';

const newStore = () => new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-activities-')));

/** Workflows schedule activities by name, and recorded histories replay against those names. */
const ACTIVITY_NAMES = [
  'bufferInsert', 'critique', 'digest', 'ensembleEvaluate', 'ensembleRollout', 'evaluate', 'evolve', 'exportGrpo', 'forkVariant',
  'gate', 'plan', 'prepareRun', 'recordAudit', 'rollout', 'rolloutOutcomes', 'trainStep', 'withModel', 'writeSummary',
];

const HISTORIES = join(__dirname, '../replay-histories');
type History = { events: Array<{ activityTaskScheduledEventAttributes?: { activityType: { name: string } } }> };
const scheduledNames = (history: History) => [...new Set(history.events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType.name] : [])))];
const unregistered = (history: History, registered: string[]) => scheduledNames(history).filter((n) => !registered.includes(n));

describe('createActivities composes every group', () => {
  const activities = createActivities({ store: newStore() });

  test('registers each activity once, under its name', () => {
    expect(Object.keys(activities).sort()).toEqual(ACTIVITY_NAMES);
    for (const fn of Object.values(activities)) expect(typeof fn).toBe('function');
  });

  test.each(readdirSync(HISTORIES).filter((f) => f.endsWith('.json')))('every activity %s scheduled is still registered', (file) => {
    const history = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as History;
    expect(scheduledNames(history).length).toBeGreaterThan(3);
    expect(unregistered(history, Object.keys(activities))).toEqual([]);
  });

  test('the history check catches a renamed activity (it can fail)', () => {
    const history: History = { events: [{ activityTaskScheduledEventAttributes: { activityType: { name: 'rollout' } } }, { activityTaskScheduledEventAttributes: { activityType: { name: 'rolloutTasks' } } }] };
    expect(unregistered(history, Object.keys(activities))).toEqual(['rolloutTasks']);
  });
});

describe('the activity boundary wraps every group', () => {
  const throwing = (error: Error): MetaAgent => ({
    name: 'throwing',
    plan: async () => {
      throw error;
    },
    evolve: async () => [],
    critique: async () => ({ accepted: [], rejected: [], notes: '' }) as never,
  });
  const planWith = (error: Error) => {
    const store = newStore();
    const activities = createActivities({ store, metaAgent: throwing(error) });
    return activities.plan({ digestRef: store.put({}), harnessId: store.putHarness(seedHarness()), tried: [] });
  };

  test('a provider error in a meta-agent stage is classified like one in a rollout', async () => {
    const rejected = await planWith(new ProviderError('anthropic model "m": permission denied', 'anthropic', 'm', false, 403, null, 'rejected')).then(() => null, (e) => e);
    expect(rejected).toBeInstanceOf(ApplicationFailure);
    expect(rejected).toEqual(expect.objectContaining({ type: 'ProviderRejected', nonRetryable: true, message: 'anthropic model "m": permission denied' }));
    const limited = await planWith(new ProviderError('rate limited', 'openai', 'm', true, 429, 2000, 'rate_limited')).then(() => null, (e) => e);
    expect(limited).toEqual(expect.objectContaining({ type: 'ProviderRateLimited', nonRetryable: false, nextRetryDelay: 2000 }));
  });

  test('a stage failure is a recorded result, and other errors pass through unclassified', async () => {
    await expect(planWith(new StageFailure('plan', 'no options'))).resolves.toEqual({ failed: 'no options', spend: { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 } });
    const other = await planWith(new TypeError('bug')).then(() => null, (e) => e);
    expect(other).toBeInstanceOf(TypeError);
    expect(other).not.toBeInstanceOf(ApplicationFailure);
  });
});

describe('rollouts and evaluations share one outcome cache', () => {
  test('an evaluation of what a rollout ran is free; a new seed runs again', async () => {
    const store = newStore();
    const activities = createActivities({ store });
    const taskIds = getBenchmark('blocksworld').tasks().slice(0, 3).map((t) => t.id);
    const harnessId = store.putHarness(seedHarness('sim:small'));
    const rolled = await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds, k: 1, seed: 's' });
    expect(rolled.tokens).toBeGreaterThan(0);
    const cached = await activities.evaluate({ benchmark: 'blocksworld', harnessId, taskIds, k: 1, seed: 's' });
    expect(cached).toEqual({ passRate: rolled.passRate, passed: rolled.passed, tasks: 3, episodes: 3, spend: { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 } });
    const fresh = await activities.evaluate({ benchmark: 'blocksworld', harnessId, taskIds, k: 1, seed: 'other' });
    expect(fresh.spend.tokens).toBeGreaterThan(0);
  });
});

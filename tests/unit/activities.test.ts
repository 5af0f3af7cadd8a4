import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, totalSpend } from '../../activities';
import { MetaAgent, StageFailure } from '../../aegis/meta-agent';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import { ProviderError } from '../../models/errors';
import { ArtifactStore } from '../../store/artifact-store';

const newStore = () => new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-activities-')));

/** Workflows schedule activities by name, and recorded histories replay against those names. */
const ACTIVITY_NAMES = [
  'bufferInsert', 'critique', 'digest', 'endpointLimitsInForce', 'ensembleEvaluate', 'ensembleRollout', 'evaluate', 'evolve', 'exportGrpo', 'forkVariant',
  'gate', 'harnessConfigs', 'liveGateTasks', 'liveWindowEvidence', 'plan', 'prepareRun', 'recordAudit', 'rollout', 'rolloutOutcomes', 'storeLiveTraces',
  'trainStep', 'withModel', 'writeSummary',
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
  const planWith = async (error: Error) => {
    const store = newStore();
    const activities = createActivities({ store, metaAgent: throwing(error) });
    return activities.plan({ digestRef: await store.put({}), harnessId: await store.putHarness(seedHarness()), tried: [] });
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
    const harnessId = await store.putHarness(seedHarness('sim:small'));
    const rolled = await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds, k: 1, seed: 's' });
    expect(rolled.tokens).toBeGreaterThan(0);
    const cached = await activities.evaluate({ benchmark: 'blocksworld', harnessId, taskIds, k: 1, seed: 's' });
    expect(cached).toEqual({ passRate: rolled.passRate, passed: rolled.passed, tasks: 3, episodes: 3, spend: { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 } });
    const fresh = await activities.evaluate({ benchmark: 'blocksworld', harnessId, taskIds, k: 1, seed: 'other' });
    expect(fresh.spend.tokens).toBeGreaterThan(0);
  });
});

describe('the meta-agent stages hand each agent what the gate will do, and report cached tokens', () => {
  const usage = { usage: { inputTokens: 10_000, outputTokens: 500, cacheReadTokens: 6_000, cacheWriteTokens: 1_000 }, calls: 2, repairs: 0 };
  const recording = (seen: Record<string, unknown>): MetaAgent => ({
    name: 'recording',
    plan: async () => ({ categories: [], options: [], editsTried: [], untriedEditTypes: [] }) as never,
    evolve: async (input) => ((seen.evolve = input), []),
    critique: async (input) => ((seen.critique = input), { decision: 'no_op', reason: 'none' }) as never,
    usage: () => usage,
  });

  test('evolve gets the pre-gate bound to the incumbent and the gate terms; critique gets the ledger and the terms', async () => {
    const store = newStore();
    const seen: Record<string, unknown> = {};
    const activities = createActivities({ store, metaAgent: recording(seen) });
    const harnessId = await store.putHarness(seedHarness());
    const gate = { minGain: 1, k: 2, batchTasks: 12, validationTasks: 8, mode: 'seesaw' as const };
    await activities.evolve({ landscapeRef: await store.put({}), digestRef: await store.put({}), harnessId, maxCandidates: 2, round: 1, benchmark: 'blocksworld', gate, seed: 's' });
    const evolveInput = seen.evolve as { preGate?: (draft: unknown) => Promise<{ passed: boolean; reason: string | null }>; gate?: unknown };
    expect(evolveInput.gate).toEqual(gate);
    // The bound checker runs the gate's checks against the incumbent: an unchanged harness is not canonical.
    const verdict = await evolveInput.preGate!({ candidateId: 'r1-c1', editKey: 'noop', bucket: 'config', manifest: { rationale: 'r', evidence: ['e'], changes: [], predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] }, attributionSignature: 's' }, config: seedHarness() });
    expect(verdict.passed).toBe(false);
    expect(verdict.reason).toMatch(/^(manifest_complete|canonical_form): /);
    // Without a benchmark (histories recorded before the pre-gate) the agent gets no checker.
    await activities.evolve({ landscapeRef: await store.put({}), digestRef: await store.put({}), harnessId, maxCandidates: 2, round: 1 });
    expect((seen.evolve as { preGate?: unknown }).preGate).toBeUndefined();

    const tried = [{ key: 'k', bucket: 'config' as const, harnessId, outcome: 'rejected: smoke_test: crash', rejectedFor: 'mistake' as const }];
    await activities.critique({ candidatesRef: await store.put([{ candidateId: 'r1-c1', harnessId }]), digestRef: await store.put({}), reputation: {}, harnessId, round: 1, tried, gate });
    expect(seen.critique).toMatchObject({ tried, gate });
  });

  test("a stage's spend carries the prompt-cache reads and writes, and the cost bills them at the cache prices", async () => {
    const store = newStore();
    const activities = createActivities({ store, metaAgent: recording({}) });
    const saved = process.env.HARNESSX_PRICES;
    process.env.HARNESSX_PRICES = JSON.stringify({ 'anthropic:*': { input: 10, output: 50, cacheRead: 1, cacheWrite: 12.5 } });
    try {
      const planned = await activities.plan({ digestRef: await store.put({}), harnessId: await store.putHarness(seedHarness()), tried: [], metaAgent: 'anthropic:claude-x' });
      expect(planned.spend).toEqual({ inputTokens: 10_000, outputTokens: 500, tokens: 10_500, cacheReadTokens: 6_000, cacheWriteTokens: 1_000, costUsd: (3_000 * 10 + 6_000 * 1 + 1_000 * 12.5 + 500 * 50) / 1e6 });
    } finally {
      if (saved === undefined) delete process.env.HARNESSX_PRICES;
      else process.env.HARNESSX_PRICES = saved;
    }
  });

  test('total spend sums cache counts where any part has them, and leaves uncached totals as they were', () => {
    const plain = { inputTokens: 10, outputTokens: 2, tokens: 12, costUsd: 0 };
    expect(totalSpend([plain, plain])).toEqual({ inputTokens: 20, outputTokens: 4, tokens: 24, costUsd: 0 });
    expect(totalSpend([plain, { ...plain, cacheReadTokens: 7 }])).toEqual({ inputTokens: 20, outputTokens: 4, tokens: 24, costUsd: 0, cacheReadTokens: 7 });
  });
});

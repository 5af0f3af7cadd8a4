import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
import { cancellingModel, expectCancelledWithItsSpend } from '../helpers/cancelling-model';

jest.setTimeout(120_000);

/**
 * Speculative rollouts (aegis/overlap.ts: the next round's batch, a last-round final evaluation) run at
 * background priority and are cancelled when no stage will use them. Cancelled, the rollout and evaluate
 * activities stop at their episodes' next model call and leave as a Temporal cancellation whose details are
 * what their calls had used (the run counts it as discarded work); work at foreground priority is never
 * wrapped, and a failure that is not a cancellation stays that failure.
 */
const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, 24).map((t) => t.id);

async function setup(kind: 'rollout' | 'evaluate', options: { cancelAfterCalls?: number; failAfterCalls?: number; priority?: 'background' }) {
  const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-speculation-cancel-')));
  const env = new MockActivityEnvironment({ activityType: kind });
  const { seen, substitute } = cancellingModel(options, () => env.cancel());
  const activities = createActivities({ store, substituteRolloutModel: substitute });
  const harnessId = await store.putHarness(seedHarness());
  const input = { benchmark: 'blocksworld', harnessId, taskIds, k: 2, seed: 'speculation-cancel', ...(options.priority ? { priority: options.priority } : {}) };
  const run = () => env.run(() => (kind === 'rollout' ? activities.rollout(input) : activities.evaluate(input))) as Promise<unknown>;
  return { run, seen };
}

describe.each(['rollout', 'evaluate'] as const)('a speculative %s, cancelled', (kind) => {
  test('stops starting calls and reports what it had spent in the cancellation', async () => {
    const { run, seen } = await setup(kind, { cancelAfterCalls: 40, priority: 'background' });
    await expectCancelledWithItsSpend(run, seen);
    const whole = await setup(kind, { priority: 'background' });
    await whole.run();
    expect(seen.calls).toBeLessThan(whole.seen.calls / 2);
  });

  test('at foreground priority it is not watched: the same cancel leaves it running to its end', async () => {
    const { run, seen } = await setup(kind, { cancelAfterCalls: 40 });
    const whole = await setup(kind, {});
    await Promise.all([run().catch(() => undefined), whole.run()]);
    expect(seen.calls).toBe(whole.seen.calls);
  });

  test('a failure that is not a cancellation stays that failure', async () => {
    const broken = await setup(kind, { failAfterCalls: 10, priority: 'background' });
    await expect(broken.run()).rejects.toThrow('the endpoint broke');
  });
});

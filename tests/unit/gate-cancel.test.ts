import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { getBenchmark } from '../../benchmarks/registry';
import type { Edit } from '../../harness/builder';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
import { cancellingModel, expectCancelledWithItsSpend } from '../helpers/cancelling-model';
import { storeCandidate } from '../helpers/gate-candidate';

jest.setTimeout(120_000);

/**
 * A gate started ahead of its turn (aegis/gate-waves.ts lookahead) is cancelled when the round is decided
 * before it. Cancelled, the gate activity stops at its episodes' next model call — no new call starts — and
 * reports, as a Temporal cancellation, what its calls had used, so the run counts it as discarded work.
 */
const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, 24).map((t) => t.id);

async function setup(options: { cancelAfterCalls?: number; failAfterCalls?: number; foregroundCancellable?: boolean }) {
  const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-gate-cancel-')));
  const env = new MockActivityEnvironment({ activityType: 'gate' });
  const { seen, substitute } = cancellingModel(options, () => env.cancel());
  const activities = createActivities({ store, substituteRolloutModel: substitute });
  const incumbentId = await store.putHarness(seedHarness());
  const edit: Edit = { op: 'configure', processorId: 'step_budget', params: { maxSteps: 12 } };
  const { candidatesRef } = await storeCandidate(store, seedHarness(), { candidateId: 'c2', edit, editKey: 'configure:step_budget:{"maxSteps":12}', bucket: 'config', evidence: 'test', signature: 'a step budget' });
  const input = { benchmark: 'blocksworld', k: 2, seed: 'gate-cancel', candidatesRef, candidateId: 'c2', incumbentId, gateTaskIds: taskIds, minGain: 1, sequential: { firstTaskIds: [], firstChunk: 8 }, ...(options.foregroundCancellable ? { cancellable: true } : { priority: 'background' as const }) };
  const gate = () => env.run(() => activities.gate(input)) as ReturnType<typeof activities.gate>;
  return { gate, seen };
}

describe('a gate started ahead, cancelled', () => {
  test('stops starting calls and reports what it had spent in the cancellation', async () => {
    const { gate, seen } = await setup({ cancelAfterCalls: 40 });
    await expectCancelledWithItsSpend(gate, seen);
    const whole = await setup({});
    await whole.gate();
    expect(seen.calls).toBeLessThan(whole.seen.calls / 2);
  });

  test('a gate begun during the critique (foreground, marked cancellable) stops the same way', async () => {
    const { gate, seen } = await setup({ cancelAfterCalls: 40, foregroundCancellable: true });
    await expectCancelledWithItsSpend(gate, seen);
  });

  test('runs to its verdict when not cancelled, and a failure that is not a cancellation stays that failure', async () => {
    const { gate, seen } = await setup({});
    const verdict = await gate();
    expect(verdict.checks.map((c) => c.check)).toContain('seesaw');
    expect(verdict.spend.tokens).toBe(seen.tokens);
    const broken = await setup({ failAfterCalls: 10 });
    await expect(broken.gate()).rejects.toThrow('the endpoint broke');
  });
});

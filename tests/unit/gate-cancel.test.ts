import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { getBenchmark } from '../../benchmarks/registry';
import type { Edit } from '../../harness/builder';
import type { Model } from '../../harness/processor';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
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
  const seen = { calls: 0, callsAfterCancel: 0, inFlightAtCancel: 0, tokens: 0, cancelled: false };
  let inFlight = 0;
  const activities = createActivities({
    store,
    // The simulator's answers, slowed a little so calls are in flight when the cancel comes; every token counted.
    substituteRolloutModel: (model): Model => ({
      id: model.id,
      async generate(request) {
        seen.calls++;
        if (seen.cancelled) seen.callsAfterCancel++;
        if (options.failAfterCalls !== undefined && seen.calls > options.failAfterCalls) throw new Error('the endpoint broke');
        inFlight++;
        try {
          await new Promise((resolve) => setTimeout(resolve, 2));
          const response = await model.generate(request);
          seen.tokens += response.usage.inputTokens + response.usage.outputTokens;
          return response;
        } finally {
          inFlight--;
          if (options.cancelAfterCalls !== undefined && seen.calls >= options.cancelAfterCalls && !seen.cancelled) {
            seen.cancelled = true;
            seen.inFlightAtCancel = inFlight;
            env.cancel();
          }
        }
      },
    }),
  });
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
    const error = await gate().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CancelledFailure);
    const [spend] = (error as CancelledFailure).details as Array<{ tokens: number }>;
    // Every token the calls used before the gate stopped, no more, no less.
    expect(spend.tokens).toBe(seen.tokens);
    expect(spend.tokens).toBeGreaterThan(0);
    // The episodes stop at their next call: none starts after the cancel but those refused at once.
    expect(seen.callsAfterCancel).toBe(0);
    const whole = await setup({});
    await whole.gate();
    expect(seen.calls).toBeLessThan(whole.seen.calls / 2);
  });

  test('a gate begun during the critique (foreground, marked cancellable) stops the same way', async () => {
    const { gate, seen } = await setup({ cancelAfterCalls: 40, foregroundCancellable: true });
    const error = await gate().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(((error as CancelledFailure).details as Array<{ tokens: number }>)[0].tokens).toBe(seen.tokens);
    expect(seen.callsAfterCancel).toBe(0);
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

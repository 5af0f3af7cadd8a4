import { CancelledFailure } from '@temporalio/common';
import type { Model } from '../../harness/processor';

/** What a cancelled activity's model calls did: calls, calls started after the cancel, tokens answered. */
export interface CallsSeen {
  calls: number;
  callsAfterCancel: number;
  tokens: number;
  cancelled: boolean;
}

/**
 * A substituteRolloutModel for cancellation tests: the simulator's answers, slowed a little so calls are in
 * flight when the cancel comes, every token counted; `cancel` is called once `cancelAfterCalls` calls have
 * ended, and `failAfterCalls` makes every later call fail as a broken endpoint would.
 */
export function cancellingModel(options: { cancelAfterCalls?: number; failAfterCalls?: number }, cancel: () => void): { seen: CallsSeen; substitute: (model: Model) => Model } {
  const seen: CallsSeen = { calls: 0, callsAfterCancel: 0, tokens: 0, cancelled: false };
  const substitute = (model: Model): Model => ({
    id: model.id,
    async generate(request) {
      seen.calls++;
      if (seen.cancelled) seen.callsAfterCancel++;
      if (options.failAfterCalls !== undefined && seen.calls > options.failAfterCalls) throw new Error('the endpoint broke');
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        const response = await model.generate(request);
        seen.tokens += response.usage.inputTokens + response.usage.outputTokens;
        return response;
      } finally {
        if (options.cancelAfterCalls !== undefined && seen.calls >= options.cancelAfterCalls && !seen.cancelled) {
          seen.cancelled = true;
          cancel();
        }
      }
    },
  });
  return { seen, substitute };
}

/**
 * The activity left as a cancellation whose details are every token its calls used before it stopped (no
 * more, no less, and some), and no call started after the cancel.
 */
export async function expectCancelledWithItsSpend(run: () => Promise<unknown>, seen: CallsSeen): Promise<void> {
  const error = await run().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CancelledFailure);
  const [spend] = (error as CancelledFailure).details as Array<{ tokens: number }>;
  expect(spend.tokens).toBe(seen.tokens);
  expect(spend.tokens).toBeGreaterThan(0);
  expect(seen.callsAfterCancel).toBe(0);
}

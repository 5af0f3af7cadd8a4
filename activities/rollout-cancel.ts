import { CancelledFailure } from '@temporalio/activity';
import type { Model } from '../harness/processor';
import type { CallPriority } from '../models/endpoint-limiter';
import { cancellationSignalOrNull, noteCancelledUsage } from './activity-context';
import { ProgressReporter, withProgress } from './rollout-progress';
import type { Spend } from './spend';

/** A rollout stopped because its activity was cancelled; `spend` is what its model calls had used. */
export class RolloutCancelled extends Error {
  constructor(readonly spend: Spend) {
    super('the rollout was cancelled');
    this.name = 'RolloutCancelled';
  }
}

/** How a rollout inside a cancellable activity wraps its models, and how its failure leaves. */
export interface CancellableRollout {
  wrapModel: (model: Model, sample: string) => Model;
  /** The rollout's failure as it should leave: RolloutCancelled with what its calls used once the activity was cancelled, else unchanged. */
  failure(e: unknown): unknown;
}

/**
 * For a rollout in an activity the run may cancel (a gate started ahead of a round decided before it): its
 * episodes stop at their next model call once the activity is cancelled, and what their calls had used is
 * reported (kept with the attempt too, so a caller running several rollouts at once reports all their
 * parts). Null outside an activity.
 */
export function cancellableRollout(wrap: (model: Model, sample: string) => Model, priced: (usage: { inputTokens: number; outputTokens: number }) => number | null): CancellableRollout | null {
  const signal = cancellationSignalOrNull();
  if (!signal) return null;
  const used = { inputTokens: 0, outputTokens: 0 };
  return {
    wrapModel: (model, sample) => stopWhenCancelled(wrap(model, sample), signal, used),
    failure(e) {
      if (!signal.aborted) return e;
      const partial = { ...used, tokens: used.inputTokens + used.outputTokens, costUsd: priced(used) };
      noteCancelledUsage(partial);
      return new RolloutCancelled(partial);
    },
  };
}

/** `model`, refusing any call once `signal` is aborted, and adding every answer's usage to `used`. */
function stopWhenCancelled(model: Model, signal: AbortSignal, used: { inputTokens: number; outputTokens: number }): Model {
  return {
    id: model.id,
    async generate(request) {
      if (signal.aborted) throw new RolloutCancelled({ inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: null });
      const response = await model.generate(request);
      used.inputTokens += response.usage.inputTokens;
      used.outputTokens += response.usage.outputTokens;
      return response;
    },
  };
}

/**
 * Runs a rollout or evaluate activity's body with its progress heartbeats. Background work (speculation:
 * aegis/overlap.ts) is what a run cancels when no stage will use it: it stays alive every second (its
 * cancellation arrives within the short heartbeat timeout it runs under), and a rollout stopped by the
 * cancellation leaves as a CancelledFailure whose details are what its model calls had used, which the run
 * counts as discarded work.
 */
export function withCancellableProgress<T>(priority: CallPriority | undefined, body: (progress: ProgressReporter) => Promise<T>): Promise<T> {
  if (priority !== 'background') return withProgress(body);
  return withProgress(body, 1000).catch((e: unknown) => {
    if (e instanceof RolloutCancelled) throw new CancelledFailure(`${e.message}: no stage will use it`, [e.spend]);
    throw e;
  });
}

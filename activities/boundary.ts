import { ApplicationFailure } from '@temporalio/activity';
import { ProviderError } from '../models/errors';
import type { ArtifactStore } from '../store/artifact-store';
import { heartbeat, workflowIdOrNull } from './activity-context';

/**
 * The activity boundary: every activity heartbeats at least every 5 s while it waits (a dead worker is
 * noticed quickly), and provider errors are classified here, once: retryable ones carry the server's
 * retry-after as the next retry delay, the others fail the activity for good with provider, model and cause.
 */
export function atActivityBoundary<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const timer = setInterval(() => heartbeat(), 5000);
    try {
      return await fn(...args);
    } catch (e) {
      if (e instanceof ProviderError) throw providerFailure(e);
      throw e;
    } finally {
      clearInterval(timer);
    }
  };
}

/** A provider error as the Temporal failure the workflow sees: its kind names the type, retryability and retry-after carry over. */
export function providerFailure(e: ProviderError): ApplicationFailure {
  const type = { rate_limited: 'ProviderRateLimited', unavailable: 'ProviderUnavailable', rejected: 'ProviderRejected', malformed_response: 'ProviderMalformedResponse' }[e.kind];
  return ApplicationFailure.create({
    message: e.message,
    type,
    nonRetryable: !e.retryable,
    nextRetryDelay: e.retryAfterMs ?? undefined,
    details: [{ provider: e.provider, model: e.model, status: e.status }],
  });
}

/**
 * Fault injection for durability tests: HARNESSX_FAULT_DELAY="<stage>:<ms>" holds that stage open (leaving a
 * marker in the run's folder once it has started) so a test can kill the worker inside it. Unset: no-op.
 */
export async function faultPoint(store: ArtifactStore, stage: string): Promise<void> {
  const [name, ms] = (process.env.HARNESSX_FAULT_DELAY ?? '').split(':');
  const runId = workflowIdOrNull();
  if (name !== stage || !runId) return;
  store.writeRunFile(runId, `fault-${stage}`, new Date().toISOString());
  const until = Date.now() + Number(ms || 0);
  while (Date.now() < until) {
    heartbeat({ fault: stage });
    await new Promise((r) => setTimeout(r, 250));
  }
}

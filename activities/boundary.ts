import { ApplicationFailure } from '@temporalio/activity';
import { scrubHostPaths } from '../harness/sandbox/input-bounds';
import { ProviderError } from '../models/errors';
import type { Store } from '../store/store';
import { ARTIFACT_UNAVAILABLE } from '../aegis/recompute';
import { ArtifactUnavailable } from '../store/verified-files';
import { heartbeat, workflowIdOrNull } from './activity-context';

/**
 * The activity boundary: `checkInput` (if any) refuses bad input before any work; every activity heartbeats
 * at least every 5 s while it waits (a dead worker is noticed quickly); provider errors are classified here,
 * once: retryable ones carry the server's retry-after as the next retry delay, the others fail the activity
 * for good with provider, model and cause. Every failure leaves with a bounded message free of host paths.
 */
export function atActivityBoundary<A extends unknown[], R>(fn: (...args: A) => Promise<R>, checkInput?: (...args: A) => void): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const timer = setInterval(() => heartbeat(), 5000);
    try {
      checkInput?.(...args);
      return await fn(...args);
    } catch (e) {
      if (e instanceof ProviderError) throw withoutHostPaths(providerFailure(e));
      if (e instanceof ArtifactUnavailable) throw withoutHostPaths(artifactFailure(e));
      throw withoutHostPaths(e);
    } finally {
      clearInterval(timer);
    }
  };
}

const MAX_FAILURE_MESSAGE_CHARS = 4000;

/**
 * The error with its message (cut to a bounded length) and stack free of host paths, changed in place so
 * its type, and so how Temporal retries it, stays the same: failures reach workflow histories, the Web UI
 * and whoever started the run (the store's errors, for one, name the files they could not read).
 */
export function withoutHostPaths(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const message = scrubHostPaths(e.message);
  e.message = message.length > MAX_FAILURE_MESSAGE_CHARS ? `${message.slice(0, MAX_FAILURE_MESSAGE_CHARS)}…` : message;
  if (e.stack) e.stack = scrubHostPaths(e.stack);
  if (e.cause) withoutHostPaths(e.cause);
  return e;
}

/**
 * A missing or damaged artifact as a failure retries cannot fix (reading it again finds the same), typed so
 * the workflow can tell it from other failures and re-run the activity that wrote it.
 */
export function artifactFailure(e: ArtifactUnavailable): ApplicationFailure {
  return ApplicationFailure.create({ message: e.message, type: ARTIFACT_UNAVAILABLE, nonRetryable: true, details: [{ ref: e.ref, reason: e.reason }] });
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
export async function faultPoint(store: Store, stage: string): Promise<void> {
  const [name, ms] = (process.env.HARNESSX_FAULT_DELAY ?? '').split(':');
  const runId = workflowIdOrNull();
  if (name !== stage || !runId) return;
  await store.writeRunFile(runId, `fault-${stage}`, new Date().toISOString());
  const until = Date.now() + Number(ms || 0);
  while (Date.now() < until) {
    heartbeat({ fault: stage });
    await new Promise((r) => setTimeout(r, 250));
  }
}

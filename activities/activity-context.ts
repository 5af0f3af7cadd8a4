import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';

/** What an activity last heartbeated, per attempt (the Context object of the attempt). */
const lastDetails = new WeakMap<Context, unknown>();
/** A store outage an attempt is waiting out (activities/store-outage.ts), carried in every heartbeat meanwhile. */
const storeWaits = new WeakMap<Context, StoreWaitDetails>();

/** A store outage in heartbeat details (`storeWait`): the CLI's progress and status lines show it. */
export interface StoreWaitDetails {
  /** ISO time the outage began. */
  since: string;
  reason: string;
}

function withStoreWait(context: Context, details: unknown): unknown {
  const wait = storeWaits.get(context);
  if (!wait) return details;
  return details && typeof details === 'object' && !Array.isArray(details) ? { ...details, storeWait: wait } : { storeWait: wait };
}

function current(): Context | null {
  try {
    return Context.current();
  } catch {
    return null; // not in an activity context
  }
}

/**
 * Heartbeats when running inside an activity; a no-op when called directly (tests, in-process bench). A bare
 * `heartbeat()` (a keep-alive) re-sends the details last sent (or the previous attempt's, until this one has
 * sent its own), so it never wipes the progress a retried attempt would resume from.
 */
export function heartbeat(details?: unknown): void {
  const context = current();
  if (!context) return;
  if (details !== undefined) lastDetails.set(context, details);
  beat(context, withStoreWait(context, details !== undefined ? details : baseDetails(context)));
}

/** The details to carry on: this attempt's last, else the previous attempt's (without the wait it was in). */
function baseDetails(context: Context): unknown {
  const details = lastDetails.has(context) ? lastDetails.get(context) : context.info.heartbeatDetails;
  if (details && typeof details === 'object' && !Array.isArray(details) && 'storeWait' in details) {
    const { storeWait: _earlier, ...rest } = details as Record<string, unknown>;
    return rest;
  }
  return details;
}

/**
 * Records that this attempt is waiting out a store outage (or, with null, that the store answers again) and
 * heartbeats at once: the activity stays alive while it waits, and `harnessx status` and the progress line
 * show "waiting for the artifact store since …". The progress details (episodes finished, which a retried
 * attempt resumes from) are kept: the wait is added to the details last sent, or to the previous attempt's
 * when this one has sent none yet.
 */
export function noteStoreWait(wait: StoreWaitDetails | null): void {
  const context = current();
  if (!context) return;
  if (wait) storeWaits.set(context, wait);
  else if (storeWaits.has(context)) storeWaits.delete(context);
  else return;
  beat(context, withStoreWait(context, baseDetails(context)));
}

function beat(context: Context, details: unknown): void {
  try {
    context.heartbeat(details);
  } catch {
    /* the attempt has ended: nothing to keep alive */
  }
}

/** The store outage the previous attempt was waiting out when it ended, from its heartbeat details (null if none). */
export function earlierStoreWait(): StoreWaitDetails | null {
  const wait = (heartbeatDetailsOrNull() as { storeWait?: Partial<StoreWaitDetails> } | null)?.storeWait;
  return wait && typeof wait.since === 'string' && typeof wait.reason === 'string' ? { since: wait.since, reason: wait.reason } : null;
}

/** Who is running: the workflow run, the activity and this attempt's own token (unique per attempt, even when a lost start is dispatched again with the same attempt number); null outside an activity. */
export interface AttemptIdentity {
  run: string;
  activity: string;
  token: string;
}
const tokens = new WeakMap<Context, string>();

export function attemptIdentityOrNull(): AttemptIdentity | null {
  const context = current();
  if (!context) return null;
  let token = tokens.get(context);
  if (!token) tokens.set(context, (token = `${context.info.attempt}-${randomUUID()}`));
  return { run: context.info.workflowExecution?.runId ?? '', activity: context.info.activityId, token };
}

/** Per-attempt state keyed by this attempt (created on first use); a fresh value outside an activity. */
export function perAttempt<T extends object>(cache: WeakMap<object, T>, create: () => T): T {
  const context = current();
  if (!context) return create();
  let value = cache.get(context);
  if (!value) cache.set(context, (value = create()));
  return value;
}

/** The latest time this attempt may spend waiting (its start-to-close deadline less `marginMs`), or null outside an activity. */
export function attemptDeadlineOrNull(marginMs: number): number | null {
  const context = current();
  if (!context) return null;
  const { currentAttemptScheduledTimestampMs: started, startToCloseTimeoutMs: timeout } = context.info;
  return Number.isFinite(started) && Number.isFinite(timeout) && timeout > 0 ? started + timeout - marginMs : null;
}

/** What this attempt's cancelled rollouts had used before they stopped (activities/rollouts.ts), for the cancellation's report. */
const cancelledUsage = new WeakMap<Context, Array<{ inputTokens: number; outputTokens: number; tokens: number; costUsd: number | null }>>();
export function noteCancelledUsage(spend: { inputTokens: number; outputTokens: number; tokens: number; costUsd: number | null }): void {
  const context = current();
  if (!context) return;
  const list = cancelledUsage.get(context) ?? [];
  list.push(spend);
  cancelledUsage.set(context, list);
}
export function cancelledUsageOf(): Array<{ inputTokens: number; outputTokens: number; tokens: number; costUsd: number | null }> {
  const context = current();
  return context ? (cancelledUsage.get(context) ?? []) : [];
}

/** This attempt's cancellation signal (the workflow cancelled the activity, the server timed it out); null outside an activity. */
export function cancellationSignalOrNull(): AbortSignal | null {
  return current()?.cancellationSignal ?? null;
}

/** Whether this attempt was cancelled (the server timed it out, the run was cancelled); false outside an activity. */
export function cancelledOrFalse(): boolean {
  return current()?.cancellationSignal.aborted ?? false;
}

/** The details the previous attempt of this activity last heartbeated (null on a first attempt or outside an activity). */
export function heartbeatDetailsOrNull(): unknown {
  try {
    return Context.current().info.heartbeatDetails ?? null;
  } catch {
    return null;
  }
}

/** The id of the workflow that scheduled this activity, or null outside an activity. */
export function workflowIdOrNull(): string | null {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? null;
  } catch {
    return null;
  }
}

/** The activity's task token, or null outside an activity. */
export function taskTokenOrNull(): Uint8Array | null {
  try {
    return Context.current().info.taskToken;
  } catch {
    return null;
  }
}

/**
 * Progress for CPU-bound loops (simulator episodes run back to back without awaiting I/O). Heartbeats at
 * most every `beatMs` and yields the event loop at most every `yieldMs`, so heartbeats, polls and other
 * activities get their turn. Doing both after every few episodes cost a tenth of rollout throughput
 * (measured: ~45 ms per 240 simulator episodes); liveness needs far less than that: the heartbeat timeout
 * is 15 s.
 */
export function progressPacer(options: { beatMs?: number; yieldMs?: number } = {}): (details: unknown) => Promise<void> {
  const beatMs = options.beatMs ?? 1000;
  const yieldMs = options.yieldMs ?? 50;
  let lastBeat = -Infinity;
  let lastYield = performance.now();
  return async (details) => {
    const now = performance.now();
    if (now - lastBeat >= beatMs) {
      heartbeat(details);
      lastBeat = now;
    }
    if (now - lastYield >= yieldMs) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  };
}

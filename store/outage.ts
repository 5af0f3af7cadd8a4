/**
 * Store outages: which store failures pass by themselves (the store restarting, a network blip, a full
 * disk being cleared) and how a call waits them out. Pure: no Temporal, no S3 SDK; the clock, the sleep
 * and what to do while waiting (heartbeat, report) are given by the caller, so tests drive it with a fake
 * clock. The S3 store (s3-store.ts) runs each of its requests through `waitOutOutage`; activities give it
 * the policy (activities/store-outage.ts).
 */

/**
 * A store failure that may pass if waited out: the endpoint refuses or resets connections, times out,
 * answers 5xx (507: its disk is full) or asks to slow down. The message is the store's usual one.
 * `transient` is a plain property, so the check works across module copies (jest, bundles).
 */
export class StoreUnavailableError extends Error {
  readonly transient = true;
  constructor(
    message: string,
    /** A short cause for status lines: ECONNREFUSED, HTTP 503, HTTP 507 (disk full), … */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

export function isTransientStoreError(e: unknown): e is StoreUnavailableError {
  return !!e && typeof e === 'object' && (e as { transient?: unknown }).transient === true && e instanceof Error;
}

/** Network failures that a restarted or briefly unreachable endpoint gives. ENOTFOUND is not one: a wrong host name does not heal. */
const TRANSIENT_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED', 'ENETDOWN', 'EHOSTDOWN']);
/** S3 error codes of an overloaded or failing (not misconfigured) store. */
const TRANSIENT_CODES = new Set(['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout', 'TimeoutError', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'InsufficientStorage']);

/**
 * Why a failed store request is transient (a short reason), or null when it is not (403, a missing or
 * misnamed bucket, bad credentials, a 4xx): `network` is the socket error's code if any, `name` the S3
 * error code, `status` the HTTP status.
 */
export function transientReason(network: string | undefined, name: string, status: number | undefined): string | null {
  if (network) return TRANSIENT_NETWORK.has(network) ? network : null;
  if (status === 507 || name === 'InsufficientStorage') return 'HTTP 507 (the store\'s disk is full)';
  if (status !== undefined && status >= 500) return `HTTP ${status}${name ? ` ${name}` : ''}`;
  if (status === 429) return 'HTTP 429 (slow down)';
  if (TRANSIENT_CODES.has(name)) return name;
  return null;
}

/** How a call waits out a transient store failure. */
export interface OutagePolicy {
  /** The longest one outage is waited out, from its start (which an earlier attempt may have seen). */
  budgetMs: number;
  /** When this outage began, if an earlier attempt of the same work saw it (ms since the epoch); null otherwise. */
  since?: () => number | null;
  /**
   * The latest time a wait may end (the activity attempt's deadline, less a margin), or null. Past it the
   * transient error leaves as it is, retryable: the next attempt waits on, from the same `since`.
   */
  attemptDeadline?: () => number | null;
  /** Whether the work was cancelled (then the error leaves at once). */
  cancelled?: () => boolean;
  /** Called before each wait: heartbeat, report "waiting for the store since …". */
  onWait?: (wait: StoreWait) => void;
  /** Called once the store answers again after a wait. */
  onRecovered?: () => void;
  /** The error to throw once the budget is spent (e.g. a non-retryable failure saying so); the store's error by default. */
  exhausted?: (error: StoreUnavailableError, sinceMs: number) => Error;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** An outage being waited out, as heartbeat details carry it and status lines show it. */
export interface StoreWait {
  /** When the outage began (ms since the epoch). */
  sinceMs: number;
  reason: string;
  /** The store's message for the last failure (names the endpoint, never credentials). */
  message: string;
  /** Requests retried so far in this wait. */
  retries: number;
}

/** The first retry waits this long, each next one twice as long, up to MAX_DELAY_MS: a restarted store is used within seconds. */
export const FIRST_DELAY_MS = 500;
export const MAX_DELAY_MS = 5_000;

/** The delay before retry number `n` (0-based): 0.5, 1, 2, 4, 5, 5, … s. */
export function retryDelay(n: number): number {
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(n, 20));
}

/**
 * Runs `call`; a transient store failure (isTransientStoreError) is retried with backoff until the store
 * answers, the outage has lasted `budgetMs` (then `exhausted`), the attempt's deadline is near (then the
 * error, retryable) or the work is cancelled. Any other failure leaves at once. With no policy, `call`
 * runs once (the CLI: a store that is down is reported at once).
 */
export async function waitOutOutage<T>(call: () => Promise<T>, policy: OutagePolicy | null | undefined): Promise<T> {
  if (!policy) return call();
  const now = policy.now ?? Date.now;
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let since: number | null = null;
  for (let n = 0; ; n++) {
    try {
      const result = await call();
      if (since !== null) policy.onRecovered?.();
      return result;
    } catch (e) {
      if (!isTransientStoreError(e)) throw e;
      const t = now();
      since ??= Math.min(t, policy.since?.() ?? t);
      if (t - since >= policy.budgetMs) throw policy.exhausted ? policy.exhausted(e, since) : e;
      if (policy.cancelled?.()) throw e;
      const delay = Math.min(retryDelay(n), since + policy.budgetMs - t);
      const deadline = policy.attemptDeadline?.() ?? null;
      if (deadline !== null && t + delay > deadline) throw e;
      policy.onWait?.({ sinceMs: since, reason: e.reason, message: e.message, retries: n + 1 });
      await sleep(delay);
    }
  }
}

/** HARNESSX_STORE_OUTAGE_MINUTES (default 15): how long a worker's activities wait out a store outage; 0 waits none. */
export const DEFAULT_OUTAGE_MINUTES = 15;

export function outageBudgetMs(env: Record<string, string | undefined> = process.env): number {
  const raw = env.HARNESSX_STORE_OUTAGE_MINUTES?.trim();
  if (!raw) return DEFAULT_OUTAGE_MINUTES * 60_000;
  const minutes = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(minutes) || minutes > 7 * 24 * 60) {
    throw new Error(`HARNESSX_STORE_OUTAGE_MINUTES=${JSON.stringify(raw.slice(0, 40))} is not a number of minutes from 0 to 10080 (how long activities wait out an artifact store outage; default ${DEFAULT_OUTAGE_MINUTES})`);
  }
  return Math.round(minutes * 60_000);
}

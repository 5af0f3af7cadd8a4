import type { EndpointLimit } from './endpoint-limits';
import { readRateLimitHeaders, type SignalledLimits, signalledLimitsOf } from './rate-limit-headers';

/**
 * One endpoint limit for the whole cluster, divided among the workers that call the endpoint. Pure: the
 * coordinator workflow (workflows/endpoint-coordinator.ts) keeps this state and calls these functions in
 * its update handler; unit tests drive them directly.
 *
 * The invariant that keeps the endpoint at or under its limit, whatever order renewals arrive in: for each
 * worker the coordinator keeps `bound`, the most calls that worker can have in flight (its grant, and
 * while a smaller grant is not yet acknowledged, the larger earlier one or the calls it still had running),
 * and grants a worker more only from what the other workers' bounds leave free. A grant shrinks at once;
 * the capacity it frees is handed out after the worker acknowledges it.
 */

/** How long a grant holds without a renewal: past it the worker falls back, and the coordinator reclaims the share a little later. */
export const LEASE_MS = 10_000;
/** Reclaiming waits this much past the lease, so a worker has always let its grant go before anyone else gets it. */
export const RECLAIM_MARGIN_MS = 2_000;
/** How often a worker renews; sooner when it wants more than it holds. */
export const RENEW_MS = 1_000;
export const RENEW_SOON_MS = 200;
/** Without a configured limit, an endpoint that refused nothing while saturated for this long gets a quarter more. */
export const PROBE_UP_MS = 10_000;

/** What a worker tells the coordinator about one endpoint when it renews. */
export interface EndpointReport {
  /** The endpoint (model id). */
  key: string;
  /** The limit for the whole cluster as this worker resolved it (run input or default), and whether a person set it. */
  limit: EndpointLimit;
  configured: boolean;
  /** Wall-clock ms when this worker's limit was last set: the newest wins (as the last run to ask does in a process). */
  limitSetAt: number;
  /** The most calls this worker wanted in flight since its last renewal (in flight + waiting). */
  wanted: number;
  /** Calls in flight now. */
  active: number;
  /** The grant version this worker applies now (0: none yet). */
  appliedVersion: number;
  /** The grant it applies (after a coordinator restart, the new coordinator starts from it). */
  appliedGrant: number;
  /** Refusals (429/503) since the last renewal: this worker's calls in flight when each refused call was sent. */
  refusedAt: number[];
  /** Limits the endpoint announced in its rate-limit headers (x-ratelimit-*, anthropic-ratelimit-*). */
  signalled?: SignalledLimits;
}

export type { SignalledLimits };

export interface WorkerShare {
  grant: number;
  version: number;
  bound: number;
  wanted: number;
  active: number;
  lastSeen: number;
}

/** What the coordinator knows of one endpoint; survives continue-as-new (it is the workflow's input then). */
export interface EndpointShareState {
  limit: EndpointLimit;
  configured: boolean;
  limitSetAt: number;
  /** The cap learned from refusals and headers; kept across runs so later rollouts start at it. */
  learned: { maxInFlight?: number; requestsPerMinute?: number; tokensPerMinute?: number; refusedAt?: number; probedAt?: number; heardAt?: number };
  workers: Record<string, WorkerShare>;
  /** When this state began (continue-as-new carries it over; a coordinator started afresh begins a new one). */
  createdAt: number;
  /**
   * Until then no worker is granted more than it holds: a fresh coordinator heard from a worker holding a
   * grant of an earlier one, so other workers may hold grants it has not heard of yet (they renew within a lease).
   */
  holdUntil: number;
}

/** The coordinator's answer for one endpoint. */
export interface ShareGrant {
  key: string;
  /** This worker's share: calls in flight, and requests/tokens per minute in proportion. */
  share: EndpointLimit;
  version: number;
  /** The cluster-wide cap now in force (configured, or learned, whichever is lower). */
  cap: number;
  liveWorkers: number;
  /** What a worker that loses the coordinator may use on its own: its fair part of the cap. */
  fallback: number;
  renewInMs: number;
}

/**
 * The cluster-wide cap in calls in flight. A configured limit is a ceiling the learned cap stays under; a
 * default one is only a starting guess, which the learned cap replaces (up or down).
 */
export function capOf(state: EndpointShareState): number {
  const learned = state.learned.maxInFlight;
  if (learned === undefined) return state.limit.maxInFlight;
  return Math.max(1, state.configured ? Math.min(state.limit.maxInFlight, learned) : learned);
}

/**
 * Targets by water-filling: every worker gets what it wants up to an equal part, what is left goes to the
 * ones that want more; a worker that wants nothing gets nothing (it lends its share). Ties go by worker id,
 * so the division is the same whatever order renewals came in.
 */
export function divide(cap: number, wanted: Record<string, number>): Record<string, number> {
  const ids = Object.keys(wanted).sort();
  const out: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  let left = cap;
  let hungry = ids.filter((id) => wanted[id] > 0);
  while (left > 0 && hungry.length) {
    const each = Math.floor(left / hungry.length);
    if (each === 0) {
      // Fewer calls left than workers wanting them: one each, in id order.
      for (const id of hungry.slice(0, left)) out[id]++;
      return out;
    }
    for (const id of hungry) {
      const give = Math.min(each, wanted[id] - out[id]);
      out[id] += give;
      left -= give;
    }
    hungry = hungry.filter((id) => out[id] < wanted[id]);
  }
  // Whatever nobody wants right now stays with the busy workers (demand moves faster than renewals).
  const busy = ids.filter((id) => wanted[id] > 0);
  for (let i = 0; left > 0 && busy.length; i = (i + 1) % busy.length, left--) out[busy[i]]++;
  return out;
}

/** Drops workers silent past their lease (and the margin): their bound goes back to the others. */
export function reclaimExpired(state: EndpointShareState, now: number): string[] {
  const gone = Object.entries(state.workers).filter(([, w]) => now - w.lastSeen > LEASE_MS + RECLAIM_MARGIN_MS).map(([id]) => id);
  for (const id of gone) delete state.workers[id];
  return gone;
}

/** A cluster-wide estimate of the endpoint's concurrency cap from one refusal: this worker's calls then, less the refused one, plus the others' in flight. */
function capFromRefusal(state: EndpointShareState, workerId: string, localInFlight: number): number {
  const others = Object.entries(state.workers).filter(([id]) => id !== workerId).reduce((sum, [, w]) => sum + w.active, 0);
  return Math.max(1, localInFlight - 1 + others);
}

/** Learns from the report: refusals lower the cap, headers set per-minute caps; quiet saturation raises an unconfigured cap. */
function learn(state: EndpointShareState, workerId: string, report: EndpointReport, now: number): void {
  const learned = state.learned;
  for (const inFlight of report.refusedAt) {
    learned.maxInFlight = Math.min(learned.maxInFlight ?? state.limit.maxInFlight, capFromRefusal(state, workerId, inFlight));
    learned.refusedAt = now;
  }
  if (report.signalled?.requestsPerMinute) learned.requestsPerMinute = report.signalled.requestsPerMinute;
  if (report.signalled?.tokensPerMinute) learned.tokensPerMinute = report.signalled.tokensPerMinute;
  // The provider may have raised its cap (or the default was low): while every share is in use and nothing
  // was refused for a while, try a quarter more. A configured limit is never passed.
  const saturated = Object.values(state.workers).reduce((s, w) => s + w.wanted, 0) > capOf(state);
  // Quiet time counts only while the endpoint is kept full: an idle spell (no demand, or nobody renewing for
  // a lease, e.g. between runs) is no evidence that it takes more, so a new run starts at the learned cap.
  const idleGap = learned.heardAt !== undefined && now - learned.heardAt > LEASE_MS;
  learned.heardAt = now;
  if (!saturated || idleGap) learned.probedAt = now;
  const quietSince = Math.max(learned.refusedAt ?? 0, learned.probedAt ?? 0);
  const probing = learned.maxInFlight !== undefined || !state.configured;
  if (probing && saturated && now - quietSince > PROBE_UP_MS) {
    const cap = capOf(state);
    learned.maxInFlight = Math.min(4096, cap + Math.max(1, Math.floor(cap / 4)));
    learned.probedAt = now;
    if (state.configured && learned.maxInFlight >= state.limit.maxInFlight) delete learned.maxInFlight;
  }
}

/** A new endpoint's state; its cap is probed no sooner than PROBE_UP_MS from now. */
export function emptyShareState(report: EndpointReport, now: number): EndpointShareState {
  return { limit: report.limit, configured: report.configured, limitSetAt: report.limitSetAt, learned: { probedAt: now }, workers: {}, createdAt: now, holdUntil: 0 };
}

/**
 * One worker's renewal for one endpoint: records what it reported, learns from its refusals, and grants it
 * its target share as far as the other workers' bounds allow. Mutates `state`.
 */
export function renewShare(state: EndpointShareState, workerId: string, report: EndpointReport, now: number): ShareGrant {
  reclaimExpired(state, now);
  // The newest setting wins, as the last run to ask does within a process; learned caps stay (a limit set
  // above the provider's cap is exactly what they correct).
  if (report.limitSetAt > state.limitSetAt || (report.limitSetAt === state.limitSetAt && report.configured)) {
    state.limit = report.limit;
    state.configured = report.configured;
    state.limitSetAt = report.limitSetAt;
  }
  let worker = state.workers[workerId];
  if (!worker) {
    // A worker this coordinator has not seen may hold a grant from an earlier coordinator: count it until it says otherwise.
    const held = Math.max(report.appliedGrant, report.active);
    // One that does shows an earlier coordinator existed: others may hold grants too; nobody grows until all have been heard.
    if (report.appliedVersion !== 0 && now - state.createdAt < LEASE_MS + RECLAIM_MARGIN_MS) state.holdUntil = state.createdAt + LEASE_MS + RECLAIM_MARGIN_MS;
    worker = state.workers[workerId] = { grant: report.appliedGrant, version: report.appliedVersion, bound: held, wanted: 0, active: 0, lastSeen: now };
  }
  // Acknowledged: the worker applies its latest grant, so it can have at most that, or what it still had running.
  if (report.appliedVersion === worker.version) worker.bound = Math.max(worker.grant, report.active);
  // Otherwise it may apply something this coordinator did not grant (its fallback while cut off): count that too.
  else worker.bound = Math.max(worker.bound, report.appliedGrant, report.active);
  worker.wanted = report.wanted;
  worker.active = report.active;
  worker.lastSeen = now;
  learn(state, workerId, report, now);

  const cap = capOf(state);
  const targets = divide(cap, Object.fromEntries(Object.entries(state.workers).map(([id, w]) => [id, w.wanted])));
  const othersBound = Object.entries(state.workers).filter(([id]) => id !== workerId).reduce((sum, [, w]) => sum + w.bound, 0);
  const holding = now < state.holdUntil;
  const grant = Math.max(0, Math.min(targets[workerId], cap - othersBound, holding ? worker.bound : Infinity));
  worker.grant = grant;
  worker.version++;
  worker.bound = Math.max(worker.bound, grant);
  const liveWorkers = Object.keys(state.workers).length;
  return {
    key: report.key,
    share: shareOf(state, grant, cap),
    version: worker.version,
    cap,
    liveWorkers,
    fallback: Math.max(1, Math.floor(cap / liveWorkers)),
    // Short of its target (others still hand theirs back): ask again soon.
    renewInMs: grant < targets[workerId] && !holding ? RENEW_SOON_MS : RENEW_MS,
  };
}

/** The coordinator's memo key for learned caps (workflows/endpoint-coordinator.ts upserts it; workers read it with describe). */
export const LEARNED_CAPS_MEMO = 'learnedCaps';

/** One endpoint's learned cap as the memo shows it, with how many workers shared the endpoint then. */
export interface LearnedCapMemo {
  cap: number;
  workers: number;
}

/**
 * The learned caps of endpoints whose limit nobody set, for the coordinator's memo: the server answers a
 * describe without any worker, so a worker that starts while the coordinator's workflow task is slow (its
 * last worker died and the task waits out the sticky queue, ~10 s) can still start at the learned cap.
 * Configured limits are left out: a worker never passes its owner's limit on a guess.
 */
export function learnedCapsMemo(endpoints: Record<string, EndpointShareState>): Record<string, LearnedCapMemo> {
  const out: Record<string, LearnedCapMemo> = {};
  for (const key of Object.keys(endpoints).sort()) {
    const state = endpoints[key];
    if (state.configured || state.learned.maxInFlight === undefined) continue;
    out[key] = { cap: capOf(state), workers: Math.max(1, Object.keys(state.workers).length) };
  }
  return out;
}

/**
 * What a worker not yet heard by the coordinator may use on an endpoint, from the memo: its fair part of the
 * learned cap as last recorded (the same rule as the fallback of a worker cut off). Null when the memo has
 * nothing valid for the key (then it waits for its grant, as before).
 */
export function startingShareFromMemo(memo: unknown, key: string): number | null {
  if (!memo || typeof memo !== 'object') return null;
  const entry = (memo as Record<string, unknown>)[key] as Partial<LearnedCapMemo> | undefined;
  const whole = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1;
  if (!entry || !whole(entry.cap) || !whole(entry.workers)) return null;
  return Math.max(1, Math.floor(entry.cap / entry.workers));
}

/** A grant of calls in flight as a limit: the per-minute limits (configured or learned, the lower) in the same proportion of the cap. */
export function shareOf(state: EndpointShareState, grant: number, cap = capOf(state)): EndpointLimit {
  const part = (perMinute: number | undefined) => (perMinute === undefined ? undefined : Math.max(grant > 0 ? 1 : 0, Math.floor((perMinute * grant) / cap)));
  const rpm = part(minDefined(state.limit.requestsPerMinute, state.learned.requestsPerMinute));
  const tpm = part(minDefined(state.limit.tokensPerMinute, state.learned.tokensPerMinute));
  return { maxInFlight: grant, ...(rpm !== undefined ? { requestsPerMinute: rpm } : {}), ...(tpm !== undefined ? { tokensPerMinute: tpm } : {}) };
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * The per-minute limits an endpoint announces in its response headers: OpenAI's `x-ratelimit-limit-requests`
 * / `-tokens`, Anthropic's `anthropic-ratelimit-requests-limit` / `-tokens-limit` (or the input and output
 * token limits, summed). Headers may be a fetch Headers or a plain object; absent or malformed values are
 * ignored. The reading itself is models/rate-limit-headers.ts.
 */
export function parseSignalledLimits(headers: unknown): SignalledLimits | null {
  return signalledLimitsOf(readRateLimitHeaders(headers));
}

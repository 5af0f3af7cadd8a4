/**
 * What an endpoint says about its own limits in response headers, read once for both vendors' names. Pure
 * (no Node imports): the coordinator workflow's module (endpoint-shares.ts) imports it.
 *
 * - OpenAI (and most OpenAI-compatible gateways): `x-ratelimit-limit-requests` / `-tokens` (per minute),
 *   `x-ratelimit-remaining-requests` / `-tokens`, `x-ratelimit-reset-requests` / `-tokens` as a Go-style
 *   duration ("1s", "6m0s", "20ms", "1h2m3.5s").
 * - Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`,
 *   the reset an RFC 3339 time.
 * - Both: `retry-after` (seconds or an HTTP date) and `retry-after-ms`.
 *
 * Absent or malformed values are left out, never guessed.
 */

export interface RateLimitBucket {
  /** The bucket's size per minute, as announced. */
  limit?: number;
  /** What is left of it now. */
  remaining?: number;
  /** Milliseconds until it is full again (from the response's arrival). */
  resetMs?: number;
}

export interface RateLimitHeaders {
  requests?: RateLimitBucket;
  /** Total tokens (OpenAI; Anthropic's combined limit), or input + output when only those are given. */
  tokens?: RateLimitBucket;
  inputTokens?: RateLimitBucket;
  outputTokens?: RateLimitBucket;
  /** `retry-after-ms`, else `retry-after` (seconds or a date), in ms. */
  retryAfterMs?: number;
}

/** Per-minute limits as the coordinator keeps them. */
export interface SignalledLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

/** One header's raw text from a fetch Headers, a plain object (any case of name) or nothing. */
export function headerText(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  if (typeof (headers as Headers).get === 'function') {
    const value = (headers as Headers).get(name);
    return value === null ? undefined : value;
  }
  const record = headers as Record<string, unknown>;
  const key = name in record ? name : Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  if (Array.isArray(value)) return value.length ? String(value[0]) : undefined;
  return value === undefined || value === null ? undefined : String(value);
}

function wholeAtLeast(text: string | undefined, min: number): number | undefined {
  if (text === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(text)) return undefined;
  const n = Math.floor(Number(text));
  return Number.isFinite(n) && n >= min ? n : undefined;
}

/**
 * A Go-style duration as OpenAI sends it ("1s", "6m0s", "20ms", "1h2m3.5s", "0.5s"), in ms; a bare number
 * is seconds. Anything else: null.
 */
export function parseDurationMs(text: string | undefined): number | null {
  const raw = text?.trim();
  if (!raw) return null;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  const part = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(raw); m; m = part.exec(raw)) {
    if (m.index !== consumed) return null;
    total += Number(m[1]) * units[m[2]];
    consumed = m.index + m[0].length;
  }
  return consumed === raw.length && consumed > 0 ? total : null;
}

/** A reset as either vendor sends it: a duration (OpenAI) or an RFC 3339 time (Anthropic), in ms from `now`. */
function resetMs(text: string | undefined, now: number): number | undefined {
  const duration = parseDurationMs(text);
  if (duration !== null) return duration;
  if (!text || !/^\d{4}-\d{2}-\d{2}T/.test(text.trim())) return undefined;
  const at = Date.parse(text.trim());
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function bucket(headers: unknown, now: number, names: { limit: string[]; remaining: string[]; reset: string[] }): RateLimitBucket | undefined {
  const first = <T>(list: string[], read: (text: string | undefined) => T | undefined): T | undefined => {
    for (const name of list) {
      const value = read(headerText(headers, name));
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const out: RateLimitBucket = {};
  const limit = first(names.limit, (t) => wholeAtLeast(t, 1));
  const remaining = first(names.remaining, (t) => wholeAtLeast(t, 0));
  const reset = first(names.reset, (t) => resetMs(t, now));
  if (limit !== undefined) out.limit = limit;
  if (remaining !== undefined) out.remaining = remaining;
  if (reset !== undefined) out.resetMs = reset;
  return Object.keys(out).length ? out : undefined;
}

const openai = (kind: string) => ({ limit: [`x-ratelimit-limit-${kind}`], remaining: [`x-ratelimit-remaining-${kind}`], reset: [`x-ratelimit-reset-${kind}`] });
const anthropic = (kind: string) => ({ limit: [`anthropic-ratelimit-${kind}-limit`], remaining: [`anthropic-ratelimit-${kind}-remaining`], reset: [`anthropic-ratelimit-${kind}-reset`] });
const either = (a: ReturnType<typeof openai>, b: ReturnType<typeof openai>) => ({ limit: [...a.limit, ...b.limit], remaining: [...a.remaining, ...b.remaining], reset: [...a.reset, ...b.reset] });

/** Every rate-limit header of a response (success or refusal), both vendors' names; `now` for Anthropic's reset times. */
export function readRateLimitHeaders(headers: unknown, now: number = Date.now()): RateLimitHeaders {
  const out: RateLimitHeaders = {};
  const requests = bucket(headers, now, either(openai('requests'), anthropic('requests')));
  const tokens = bucket(headers, now, either(openai('tokens'), anthropic('tokens')));
  const inputTokens = bucket(headers, now, anthropic('input-tokens'));
  const outputTokens = bucket(headers, now, anthropic('output-tokens'));
  if (requests) out.requests = requests;
  if (tokens) out.tokens = tokens;
  if (inputTokens) out.inputTokens = inputTokens;
  if (outputTokens) out.outputTokens = outputTokens;
  const ms = headerText(headers, 'retry-after-ms');
  const after = headerText(headers, 'retry-after');
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) out.retryAfterMs = Number(ms);
  else if (after !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(after)) out.retryAfterMs = Number(after) * 1000;
  else if (after !== undefined && Number.isFinite(Date.parse(after))) out.retryAfterMs = Math.max(0, Date.parse(after) - now);
  return out;
}

/** The per-minute limits the headers announce; tokens from the combined limit, else input + output. Null: none. */
export function signalledLimitsOf(read: RateLimitHeaders): SignalledLimits | null {
  const requests = read.requests?.limit;
  const split = [read.inputTokens?.limit, read.outputTokens?.limit];
  const tokens = read.tokens?.limit ?? (split[0] !== undefined && split[1] !== undefined ? split[0] + split[1] : undefined);
  if (requests === undefined && tokens === undefined) return null;
  return { ...(requests !== undefined ? { requestsPerMinute: requests } : {}), ...(tokens !== undefined ? { tokensPerMinute: tokens } : {}) };
}

/**
 * How long a refused call should wait: the server's retry-after when it gave one; else, when a bucket is
 * exhausted (remaining 0), until the longest such bucket resets; else null (the caller's own backoff).
 */
export function waitFromHeaders(read: RateLimitHeaders): number | null {
  if (read.retryAfterMs !== undefined) return read.retryAfterMs;
  const exhausted = [read.requests, read.tokens, read.inputTokens, read.outputTokens].filter((b): b is RateLimitBucket => b?.remaining === 0 && b.resetMs !== undefined);
  return exhausted.length ? Math.max(...exhausted.map((b) => b.resetMs!)) : null;
}

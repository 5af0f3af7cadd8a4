import { redact } from '../harness/redact';
import { parseSignalledLimits, type SignalledLimits } from './endpoint-shares';
import { readRateLimitHeaders, waitFromHeaders } from './rate-limit-headers';

/**
 * Provider errors, classified once: retryable (429, 5xx, timeouts, connection failures; honouring
 * retry-after) or not (400/401/403/404/422 and other 4xx). Activities turn these into ApplicationFailures.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly provider: string,
    readonly model: string,
    readonly retryable: boolean,
    readonly status: number | null,
    readonly retryAfterMs: number | null,
    readonly kind: 'rate_limited' | 'unavailable' | 'rejected' | 'malformed_response',
    /** Per-minute limits the refusal's headers announced (x-ratelimit-*, anthropic-ratelimit-*): the endpoint's cap, learned. */
    readonly signalled: SignalledLimits | null = null,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** retry-after(-ms), else the reset of an exhausted rate-limit bucket (models/rate-limit-headers.ts); null: neither. */
function retryAfterMs(headers: unknown): number | null {
  return waitFromHeaders(readRateLimitHeaders(headers));
}

// The redaction helper moved to harness/ so telemetry spans can use it too; re-exported for the providers.
export { redact };

/**
 * An endpoint as messages show it: scheme, host, port and path only — credentials in the URL and its query
 * (some gateways take a key there) never reach a message.
 */
export function endpointForMessage(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`;
  } catch {
    return '(an endpoint URL that does not parse)';
  }
}

/**
 * Maps whatever a provider SDK threw to a ProviderError. Works on both the Anthropic and OpenAI SDKs.
 * `endpoint` (the base URL the SDK called) is named when the connection failed or nothing was found there:
 * "Connection error." alone does not say which server refused.
 */
export function classifyProviderError(error: unknown, provider: string, model: string, secrets: Array<string | undefined> = [], endpoint?: string): ProviderError {
  if (error instanceof ProviderError) return error;
  const e = error as { status?: unknown; headers?: unknown; name?: string; message?: string; constructor?: { name?: string } };
  const name = `${e?.constructor?.name ?? ''} ${e?.name ?? ''}`;
  const detail = redact(String(e?.message ?? error), secrets).slice(0, 500);
  const status = typeof e?.status === 'number' ? e.status : null;
  const at = `${provider} model "${model}"`;
  if (status === null) {
    const connection = /Connection|Timeout|Abort|fetch failed|ECONN|ETIMEDOUT|socket/i.test(`${name} ${detail}`);
    const where = endpoint ? ` (${endpointForMessage(endpoint)})` : '';
    return new ProviderError(`${at}: ${connection ? `connection failed${where}` : `request failed${where}`}: ${detail}`, provider, model, true, null, null, 'unavailable');
  }
  if (status === 429) return new ProviderError(`${at}: rate limited (429): ${detail}`, provider, model, true, 429, retryAfterMs(e.headers), 'rate_limited', parseSignalledLimits(e.headers));
  if (status === 408 || status === 409 || status >= 500)
    return new ProviderError(`${at}: provider unavailable (${status}): ${detail}`, provider, model, true, status, retryAfterMs(e.headers), 'unavailable', parseSignalledLimits(e.headers));
  const cause =
    status === 401 ? 'authentication failed (check the API key)'
    : status === 403 ? 'permission denied'
    : status === 404 ? `not found (check the model name and base URL${endpoint ? ` ${endpointForMessage(endpoint)}` : ''})`
    : status === 400 || status === 422 ? 'request rejected'
    : `client error`;
  return new ProviderError(`${at}: ${cause} (${status}): ${detail}`, provider, model, false, status, null, 'rejected');
}

import { z } from 'zod';

/**
 * How hard a model endpoint may be driven: calls in flight, and optionally requests and tokens per minute.
 * Settable per provider ("openai-compatible") or per model string ("openai-compatible:qwen@http://gpu:8000/v1",
 * the most specific wins), from the environment (HARNESSX_ENDPOINT_LIMITS) and from a run's input
 * (`endpointLimits`, which overrides the environment key by key). Pure (zod only): the workflow bundle may
 * import it to validate run input.
 */
export interface EndpointLimit {
  /** Most model calls in flight at once on this endpoint (the limiter's ceiling; AIMD stays at or under it). */
  maxInFlight: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

/** Keyed by provider name or full model string. */
export type EndpointLimits = Record<string, EndpointLimit>;

/** Providers a key may name; tests check this equals the model registry's list. */
export const ENDPOINT_PROVIDERS = ['sim', 'anthropic', 'openai', 'openai-compatible'] as const;

export const ENDPOINT_LIMITS_ENV = 'HARNESSX_ENDPOINT_LIMITS';
/** The run-input field (evolveHarness, evaluateHarness, …) that carries per-run limits. */
export const ENDPOINT_LIMITS_INPUT_FIELD = 'endpointLimits';

const positiveWhole = (field: string) =>
  z.number({ message: `${field} must be a whole number ≥ 1` }).int(`${field} must be a whole number ≥ 1`).min(1, `${field} must be a whole number ≥ 1`);

const endpointLimitSchema = () =>
  z
    .object({
      maxInFlight: positiveWhole('maxInFlight').max(4096, 'maxInFlight must be at most 4096'),
      requestsPerMinute: positiveWhole('requestsPerMinute').optional(),
      tokensPerMinute: positiveWhole('tokensPerMinute').optional(),
    })
    .strict();

/** A key is a known provider, or a model string "provider:name" whose provider is known. */
export function endpointKeyProblem(key: string): string | null {
  const provider = key.includes(':') ? key.slice(0, key.indexOf(':')) : key;
  if (!(ENDPOINT_PROVIDERS as readonly string[]).includes(provider))
    return `unknown endpoint key "${key}": use a provider (${ENDPOINT_PROVIDERS.join(', ')}) or a model string such as "openai-compatible:qwen3.5-9b@http://localhost:8000/v1"`;
  if (key.includes(':') && key.length === provider.length + 1) return `endpoint key "${key}" names no model after "${provider}:"`;
  return null;
}

function buildEndpointLimitsSchema() {
  return z.record(z.string(), endpointLimitSchema()).superRefine((limits, ctx) => {
    for (const key of Object.keys(limits)) {
      const problem = endpointKeyProblem(key);
      if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
    }
  });
}

let endpointLimitsBuilt: ReturnType<typeof buildEndpointLimitsSchema> | undefined;
/**
 * The run-input field's schema (add as `endpointLimits: endpointLimitsSchema().optional()`), built on first
 * use: the workflow bundle imports this module, and every workflow run evaluates its modules afresh (the
 * SDK gives each run its own module state), so a schema built at module level costs every run's first
 * workflow task, including the runs that never read endpoint limits (see aegis/run-input.ts).
 */
export function endpointLimitsSchema(): ReturnType<typeof buildEndpointLimitsSchema> {
  return (endpointLimitsBuilt ??= buildEndpointLimitsSchema());
}

/** Thrown for a bad limit setting; `setting` names where it came from (env var or run-input field). */
export class EndpointLimitsError extends Error {
  constructor(readonly setting: string, detail: string) {
    super(`${setting}: ${detail}`);
    this.name = 'EndpointLimitsError';
  }
}

const ALLOWED = 'allowed: a JSON object such as {"openai-compatible": {"maxInFlight": 32}, "anthropic": {"maxInFlight": 4, "requestsPerMinute": 50}} or the compact form "openai-compatible=32;anthropic=4,rpm=50,tpm=40000" (whole numbers ≥ 1; keys are a provider or a model string)';

/** Validates a parsed object (run input or decoded JSON); the error names the setting, the key and the field. */
export function parseEndpointLimits(value: unknown, setting: string = ENDPOINT_LIMITS_INPUT_FIELD): EndpointLimits {
  const parsed = endpointLimitsSchema().safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue.path.length ? ` at ${issue.path.map(String).join('.')}` : '';
  const message = issue.code === 'unrecognized_keys' ? `${issue.message} (allowed fields: maxInFlight, requestsPerMinute, tokensPerMinute)` : issue.message;
  throw new EndpointLimitsError(setting, `${message}${where}; ${ALLOWED}`);
}

/**
 * The environment variable's text: JSON (starting with "{") or the compact form
 * `key=maxInFlight[,rpm=N][,tpm=N]` entries separated by ";". Empty or unset means no overrides.
 */
export function parseEndpointLimitsText(text: string | undefined, setting: string = ENDPOINT_LIMITS_ENV): EndpointLimits {
  const raw = (text ?? '').trim();
  if (!raw) return {};
  if (raw.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new EndpointLimitsError(setting, `not valid JSON (${(e as Error).message}); ${ALLOWED}`);
    }
    return parseEndpointLimits(value, setting);
  }
  const out: Record<string, Record<string, number>> = {};
  const number = (entry: string, field: string, text: string): number => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new EndpointLimitsError(setting, `"${entry}": ${field} must be a whole number ≥ 1, got "${text}"; ${ALLOWED}`);
    return Number(text);
  };
  for (const entry of raw.split(';').map((e) => e.trim()).filter(Boolean)) {
    const [head, ...options] = entry.split(',');
    const eq = head.lastIndexOf('=');
    if (eq <= 0) throw new EndpointLimitsError(setting, `"${entry}" must look like key=maxInFlight; ${ALLOWED}`);
    const key = head.slice(0, eq).trim();
    const limit: Record<string, number> = { maxInFlight: number(entry, 'maxInFlight', head.slice(eq + 1)) };
    for (const option of options) {
      const [name, value] = option.split('=').map((s) => s.trim());
      const field = name === 'rpm' ? 'requestsPerMinute' : name === 'tpm' ? 'tokensPerMinute' : null;
      if (!field || value === undefined) throw new EndpointLimitsError(setting, `"${entry}": unknown option "${option}" (allowed: rpm=N, tpm=N); ${ALLOWED}`);
      limit[field] = number(entry, field, value);
    }
    out[key] = limit;
  }
  return parseEndpointLimits(out, setting);
}

/** The key of the endpoint a model id talks to: the model string itself (provider, model and base URL). */
export function providerOf(modelId: string): string {
  const at = modelId.indexOf(':');
  return at > 0 ? modelId.slice(0, at) : modelId;
}

/** A base URL on this machine or a private network: a local server (vLLM, Ollama, SGLang) with no per-call price. */
export function isLocalEndpoint(modelId: string): boolean {
  const url = /@(https?:\/\/[^\s]+)$/.exec(modelId)?.[1];
  if (!url) return false;
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|host\.docker\.internal)$/.test(host) || host.endsWith('.local');
}

export interface DefaultLimitOptions {
  /** Cores of this process's machine; the simulator is synchronous CPU work. */
  cpus: number;
}

/**
 * Defaults: the simulator answers synchronously on the event loop, so more calls "in flight" only
 * interleave episodes on one thread; its ceiling is the core count (it bounds how many episodes one
 * rollout keeps open, not parallelism). A local OpenAI-compatible server batches requests: 32. A paid
 * API: 8, under typical tier limits.
 */
export function defaultEndpointLimit(modelId: string, options: DefaultLimitOptions): EndpointLimit {
  const provider = providerOf(modelId);
  if (provider === 'sim') return { maxInFlight: Math.max(1, options.cpus) };
  if (provider === 'openai-compatible' && isLocalEndpoint(modelId)) return { maxInFlight: 32 };
  return { maxInFlight: 8 };
}

/**
 * The limit in force for a model id: run input over environment over default; within each, the exact
 * model string over its provider. Where the run input and the environment name the same key, the run wins.
 */
export function resolveEndpointLimit(modelId: string, layers: { run?: EndpointLimits; env?: EndpointLimits }, options: DefaultLimitOptions): { limit: EndpointLimit; source: string } {
  const provider = providerOf(modelId);
  for (const [name, layer] of [['run input', layers.run], ['environment', layers.env]] as const) {
    if (layer?.[modelId]) return { limit: layer[modelId], source: `${name} "${modelId}"` };
  }
  for (const [name, layer] of [['run input', layers.run], ['environment', layers.env]] as const) {
    if (layer?.[provider]) return { limit: layer[provider], source: `${name} "${provider}"` };
  }
  return { limit: defaultEndpointLimit(modelId, options), source: 'default' };
}

export const RATE_LIMIT_WAIT_ENV = 'HARNESSX_RATE_LIMIT_WAIT_S';

/**
 * The most one model call waits out 429/503 answers before its error reaches the activity boundary
 * (HARNESSX_RATE_LIMIT_WAIT_S, seconds; default 120; 0 hands the first 429 to Temporal's retries).
 */
export function parseRateLimitWaitSeconds(text: string | undefined, setting: string = RATE_LIMIT_WAIT_ENV): number | null {
  const raw = (text ?? '').trim();
  if (!raw) return null;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) > 3600) throw new EndpointLimitsError(setting, `must be a number of seconds from 0 to 3600, got "${raw}"`);
  return Number(raw);
}

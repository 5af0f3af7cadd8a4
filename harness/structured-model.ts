import type { Model } from './processor';
import type { ModelRequest, ModelResponse, Usage } from './types';

/**
 * Usage with prompt-cache accounting. Both cache counts are parts of inputTokens (which stays the whole
 * prompt, so token budgets and reports keep one meaning): cacheReadTokens were served from the provider's
 * prompt cache, cacheWriteTokens were written to it on this call.
 */
export interface CachedUsage extends Usage {
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
}

/** A reply shape a provider can enforce: a name, a description and a JSON Schema (from the stage's zod schema). */
export interface ResponseFormat {
  name: string;
  description: string;
  jsonSchema: Record<string, unknown>;
}

export interface StructuredOptions {
  /** Ask the provider to cache the prompt prefix (system prompt and tools) where it supports prompt caching. */
  cachePrefix?: boolean;
}

/**
 * A model that can ask its provider for a reply of a given JSON shape natively (Anthropic: a forced tool
 * whose input_schema is the shape; OpenAI and compatible servers: response_format json_schema). The reply's
 * `text` is the JSON value as text, whichever way the provider returned it, so callers validate one thing.
 * A provider that answers in prose anyway is still handled by the caller's JSON-in-text path.
 */
export interface StructuredModel extends Model {
  generateStructured(request: ModelRequest, format: ResponseFormat, options?: StructuredOptions): Promise<ModelResponse>;
}

export function isStructuredModel(model: Model): model is StructuredModel {
  return typeof (model as Partial<StructuredModel>).generateStructured === 'function';
}

/** Sums usages, cache counts included (absent counts are 0). */
export function addUsage(a: CachedUsage, b: CachedUsage): Required<CachedUsage> {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: (a.cacheReadTokens ?? 0) + (b.cacheReadTokens ?? 0),
    cacheWriteTokens: (a.cacheWriteTokens ?? 0) + (b.cacheWriteTokens ?? 0),
  };
}

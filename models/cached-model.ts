import { canonicalJson, sha256Hex } from '../harness/canonical';
import type { Model } from '../harness/processor';
import type { ModelRequest, ModelResponse } from '../harness/types';
import { isStructuredModel, ResponseFormat, StructuredModel, StructuredOptions } from './structured';

/** Where responses are kept; may answer asynchronously (the artifact store may be an object store). */
export interface ResponseCache {
  get(key: string): ModelResponse | undefined | Promise<ModelResponse | undefined>;
  set(key: string, response: ModelResponse): void | Promise<void>;
}

/**
 * A model whose responses are cached by the canonical request, so a retried activity or a resumed run
 * never pays twice for the same call. `sample` (the episode seed, which includes the attempt index) is part
 * of the key: pass@k attempts stay independent samples, while a replay of the same attempt hits the cache.
 * A model that can ask for structured replies keeps that ability; the reply format is part of the key.
 */
export function withResponseCache(model: Model, cache: ResponseCache, sample: string): Model & Partial<StructuredModel> & { hits: number; misses: number } {
  const cached = async (keyed: unknown, call: () => Promise<ModelResponse>): Promise<ModelResponse> => {
    const key = sha256Hex(canonicalJson(keyed));
    const hit = await cache.get(key);
    if (hit) {
      wrapped.hits++;
      return hit;
    }
    wrapped.misses++;
    const response = await call();
    await cache.set(key, response);
    return response;
  };
  const wrapped: Model & Partial<StructuredModel> & { hits: number; misses: number } = {
    id: model.id,
    hits: 0,
    misses: 0,
    generate: (request: ModelRequest) => cached({ model: model.id, sample, request }, () => model.generate(request)),
    ...(isStructuredModel(model)
      ? {
          generateStructured: (request: ModelRequest, format: ResponseFormat, options?: StructuredOptions) =>
            cached({ model: model.id, sample, request, format, cachePrefix: !!options?.cachePrefix }, () => model.generateStructured(request, format, options)),
        }
      : {}),
  };
  return wrapped;
}

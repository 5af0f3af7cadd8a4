import { canonicalJson, sha256Hex } from '../harness/canonical';
import type { Model } from '../harness/processor';
import type { ModelRequest, ModelResponse } from '../harness/types';

export interface ResponseCache {
  get(key: string): ModelResponse | undefined;
  set(key: string, response: ModelResponse): void;
}

/**
 * A model whose responses are cached by the canonical request, so a retried activity or a resumed run
 * never pays twice for the same call. `sample` (the episode seed, which includes the attempt index) is part
 * of the key: pass@k attempts stay independent samples, while a replay of the same attempt hits the cache.
 */
export function withResponseCache(model: Model, cache: ResponseCache, sample: string): Model & { hits: number; misses: number } {
  const wrapped = {
    id: model.id,
    hits: 0,
    misses: 0,
    async generate(request: ModelRequest): Promise<ModelResponse> {
      const key = sha256Hex(canonicalJson({ model: model.id, sample, request }));
      const cached = cache.get(key);
      if (cached) {
        wrapped.hits++;
        return cached;
      }
      wrapped.misses++;
      const response = await model.generate(request);
      cache.set(key, response);
      return response;
    },
  };
  return wrapped;
}

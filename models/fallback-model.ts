import type { Model } from '../harness/processor';
import type { ModelRequest, ModelResponse } from '../harness/types';
import { ProviderError } from './errors';

/**
 * A role's model with its fallback (H's M: main, judge and evaluator each name a model and optionally a
 * fallback). A provider error on the primary sends the same request to the fallback; if that fails too,
 * the primary's error is what the activity boundary classifies (so Temporal retries as it would have).
 * Anything but a provider error (a bug) is not a reason to fall back.
 */
export function withFallback(primary: Model, fallback: Model | null, onFallback?: (error: ProviderError) => void): Model {
  if (!fallback) return primary;
  return {
    id: primary.id,
    async generate(request: ModelRequest): Promise<ModelResponse> {
      try {
        return await primary.generate(request);
      } catch (e) {
        if (!(e instanceof ProviderError)) throw e;
        onFallback?.(e);
        try {
          return await fallback.generate(request);
        } catch {
          throw e;
        }
      }
    },
  };
}

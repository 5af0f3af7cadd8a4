import { anthropicProvider } from './anthropic/anthropic-model';
import { openaiCompatibleProvider, openaiProvider } from './openai/openai-model';
import { simProvider } from './sim/sim-model';
import { Model, ModelOptions, ModelProvider, parseModelString } from './types';

const PROVIDERS: Record<string, ModelProvider> = {
  sim: simProvider,
  anthropic: anthropicProvider,
  openai: openaiProvider,
  'openai-compatible': openaiCompatibleProvider,
};

export const PROVIDER_NAMES = Object.keys(PROVIDERS);

export function createModel(spec: string, options: ModelOptions): Model {
  const ref = parseModelString(spec);
  const provider = PROVIDERS[ref.provider];
  if (!provider) throw new Error(`unknown model provider "${ref.provider}" in "${spec}"; available: ${PROVIDER_NAMES.join(', ')}`);
  return provider.create(ref.name, options);
}

/**
 * Validates a model string on this worker without calling the provider: the provider exists, and what it
 * needs from the environment (key, base URL) is there. Returns the problem, or null.
 */
export function checkModelString(spec: string): string | null {
  try {
    createModel(spec, { seed: 'check' });
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

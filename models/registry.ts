import { simProvider } from './sim/sim-model';
import { Model, ModelProvider, parseModelString } from './types';

const PROVIDERS: Record<string, ModelProvider> = { sim: simProvider };

export const PROVIDER_NAMES = Object.keys(PROVIDERS);

export function createModel(spec: string, options: { seed: string }): Model {
  const ref = parseModelString(spec);
  const provider = PROVIDERS[ref.provider];
  if (!provider) throw new Error(`unknown model provider "${ref.provider}" in "${spec}"; available: ${PROVIDER_NAMES.join(', ')}`);
  return provider.create(ref.name, options);
}

/** Validates a model string without creating the model (for input validation). */
export function checkModelString(spec: string): string | null {
  try {
    const ref = parseModelString(spec);
    if (!PROVIDERS[ref.provider]) return `unknown model provider "${ref.provider}"; available: ${PROVIDER_NAMES.join(', ')}`;
    if (ref.provider === 'sim' && !(ref.name in SIM_SIZES_FOR_CHECK)) return `unknown simulator size "${ref.name}"; use sim:small or sim:large`;
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
const SIM_SIZES_FOR_CHECK = { small: 1, large: 1 };

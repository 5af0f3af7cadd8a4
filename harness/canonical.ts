import { createHash } from 'node:crypto';

/** JSON with object keys sorted recursively and undefined dropped: equal data always gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A uniform number in [0, 1) determined by the given key parts; the simulator's and samplers' only randomness. */
export function hashUniform(...parts: Array<string | number>): number {
  const hex = sha256Hex(parts.join('\u241f')).slice(0, 13);
  return parseInt(hex, 16) / 2 ** 52;
}

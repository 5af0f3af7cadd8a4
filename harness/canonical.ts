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

/** Members JSON leaves out of objects (and renders as null in arrays). */
const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * `canonicalJson(a) === canonicalJson(b)` without building either string: key order is ignored and
 * members JSON omits are absent. Anything JSON renders specially (toJSON, non-finite numbers) falls back to
 * comparing the canonical text itself.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    if (typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b)) return false;
    if (typeof a === 'string' || typeof b === 'string' || typeof a === 'boolean' || typeof b === 'boolean') return false;
    return canonicalJson(a) === canonicalJson(b);
  }
  if (typeof (a as { toJSON?: unknown }).toJSON === 'function' || typeof (b as { toJSON?: unknown }).toJSON === 'function')
    return canonicalJson(a) === canonicalJson(b);
  const arrayA = Array.isArray(a);
  if (arrayA !== Array.isArray(b)) return false;
  if (arrayA) {
    const xs = a as unknown[];
    const ys = b as unknown[];
    if (xs.length !== ys.length) return false;
    for (let i = 0; i < xs.length; i++) if (!jsonEqual(omitted(xs[i]) ? null : xs[i], omitted(ys[i]) ? null : ys[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let present = 0;
  for (const key of Object.keys(x)) {
    if (omitted(x[key])) continue;
    present++;
    if (!Object.prototype.hasOwnProperty.call(y, key) || omitted(y[key]) || !jsonEqual(x[key], y[key])) return false;
  }
  for (const key of Object.keys(y)) if (!omitted(y[key])) present--;
  return present === 0;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A uniform number in [0, 1) determined by the given key parts; the simulator's and samplers' only randomness. */
export function hashUniform(...parts: Array<string | number>): number {
  const hex = sha256Hex(parts.join('\u241f')).slice(0, 13);
  return parseInt(hex, 16) / 2 ** 52;
}

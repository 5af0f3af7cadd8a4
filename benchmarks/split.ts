import { hashUniform } from '../harness/canonical';
import type { Split } from './types';

/** Deterministic split by task id alone (60 / 20 / 20), stable when tasks are added or removed. */
export function splitOf(taskId: string): Split {
  const u = hashUniform('harnessx-split-v1', taskId);
  return u < 0.6 ? 'train' : u < 0.8 ? 'validation' : 'test';
}

/** A seeded sample without replacement, deterministic for (ids, size, key…). */
export function sampleIds(ids: readonly string[], size: number, ...key: Array<string | number>): string[] {
  return [...ids]
    .map((id) => ({ id, u: hashUniform(...key, id) }))
    .sort((a, b) => a.u - b.u || (a.id < b.id ? -1 : 1))
    .slice(0, Math.max(0, Math.min(size, ids.length)))
    .map((x) => x.id)
    .sort();
}

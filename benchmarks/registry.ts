import type { Benchmark } from './types';
import { BlocksworldBenchmark } from './blocksworld';

const FACTORIES: Record<string, () => Benchmark> = {
  blocksworld: () => new BlocksworldBenchmark(),
};
const cache = new Map<string, Benchmark>();

export const BENCHMARK_NAMES = Object.keys(FACTORIES);

/** Benchmarks load their data once per process. */
export function getBenchmark(name: string): Benchmark {
  const factory = FACTORIES[name];
  if (!factory) throw new Error(`unknown benchmark "${name}"; available: ${BENCHMARK_NAMES.join(', ')}`);
  let b = cache.get(name);
  if (!b) cache.set(name, (b = factory()));
  return b;
}

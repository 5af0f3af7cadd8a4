import type { Benchmark } from './types';
import { BlocksworldBenchmark } from './blocksworld';
import { Gsm8kBenchmark } from './gsm8k';
import { HumanEvalBenchmark } from './humaneval';
import { Tau2RetailBenchmark } from './tau2-retail';
import { WebShopBenchmark } from './webshop';

const FACTORIES: Record<string, () => Benchmark> = {
  blocksworld: () => new BlocksworldBenchmark(),
  gsm8k: () => new Gsm8kBenchmark(),
  humaneval: () => new HumanEvalBenchmark(),
  'tau2-retail': () => new Tau2RetailBenchmark(),
  webshop: () => new WebShopBenchmark(),
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

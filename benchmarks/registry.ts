import type { Benchmark, BuiltinBenchmark } from './types';
import { BlocksworldBenchmark } from './blocksworld';
import { Gsm8kBenchmark } from './gsm8k';
import { HumanEvalBenchmark } from './humaneval';
import { Tau2RetailBenchmark } from './tau2-retail';
import { WebShopBenchmark } from './webshop';

const FACTORIES = {
  blocksworld: () => new BlocksworldBenchmark(),
  gsm8k: () => new Gsm8kBenchmark(),
  humaneval: () => new HumanEvalBenchmark(),
  'tau2-retail': () => new Tau2RetailBenchmark(),
  webshop: () => new WebShopBenchmark(),
} satisfies Record<string, () => BuiltinBenchmark>;
export type BuiltinBenchmarkName = keyof typeof FACTORIES;
const cache = new Map<string, Benchmark>();
/** User suites this process loaded from its harnessx.config.* (registerBenchmark), by name. */
const registered = new Map<string, Benchmark>();

/** The benchmarks that ship with HarnessX. */
export const BENCHMARK_NAMES: readonly string[] = Object.keys(FACTORIES);

const isBuiltin = (name: string): name is BuiltinBenchmarkName => Object.prototype.hasOwnProperty.call(FACTORIES, name);

/** Every benchmark this process can run: the built-in ones, then the suites registered from the user's config. */
export function knownBenchmarkNames(): string[] {
  return [...BENCHMARK_NAMES, ...registered.keys()];
}

/**
 * Makes a user suite (a loaded SuiteBenchmark) runnable by name in this process. A name already taken — a
 * built-in benchmark or another suite — is refused: a run must never silently score against the wrong tasks.
 * Registering the very same object again is a no-op (a worker and the CLI in one process may both load it).
 */
export function registerBenchmark(benchmark: Benchmark): void {
  if (isBuiltin(benchmark.name)) throw new Error(`suite "${benchmark.name}" has the name of a built-in benchmark; built-in: ${BENCHMARK_NAMES.join(', ')}`);
  const existing = registered.get(benchmark.name);
  if (existing && existing !== benchmark) throw new Error(`suite "${benchmark.name}" is already registered in this process`);
  registered.set(benchmark.name, benchmark);
}

/** Forgets the registered suites (tests; a CLI command that reloads its config). Built-in benchmarks stay. */
export function clearRegisteredBenchmarks(): void {
  registered.clear();
}

/** Benchmarks load their data once per process. Built-in names give the concrete, synchronously scored type. */
export function getBenchmark(name: BuiltinBenchmarkName): BuiltinBenchmark;
export function getBenchmark(name: string): Benchmark;
export function getBenchmark(name: string): Benchmark {
  if (!isBuiltin(name)) {
    const suite = registered.get(name);
    if (suite) return suite;
    throw new Error(`unknown benchmark or suite "${name}"; this process knows: ${knownBenchmarkNames().join(', ')}`);
  }
  let b = cache.get(name);
  if (!b) cache.set(name, (b = FACTORIES[name]()));
  return b;
}

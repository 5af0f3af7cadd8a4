import type { Model } from '../harness/processor';
import type { SimulatorBrief } from '../harness/task-brief';

export type { Model } from '../harness/processor';

/** Creates models from "provider:name" strings; one per vendor folder under models/. */
export interface ModelOptions {
  seed: string;
  recordPolicy?: boolean;
  /**
   * What the benchmark lets the simulator know about the episode's task (Benchmark.simulatorBrief), for the
   * task model only. The simulator needs it to play every benchmark but blocksworld; real models ignore it.
   */
  taskBrief?: SimulatorBrief;
}

export interface ModelProvider {
  readonly name: string;
  /**
   * `seed` makes sampling reproducible where the provider supports it (the simulator always does).
   * `recordPolicy`: keep what GRPO needs to compute log-probs later (the simulator's decisions) in responses.
   */
  create(modelName: string, options: ModelOptions): Model;
}

export interface ModelRef {
  provider: string;
  name: string;
}

export function parseModelString(spec: string): ModelRef {
  const at = spec.indexOf(':');
  if (at <= 0 || at === spec.length - 1) throw new Error(`model "${spec}" must look like "provider:name", e.g. "sim:small"`);
  return { provider: spec.slice(0, at), name: spec.slice(at + 1) };
}

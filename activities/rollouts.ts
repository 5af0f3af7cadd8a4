import { passRate, rolloutTasks, TaskOutcome } from '../aegis/rollout';
import { recordOutcomes, routeTasks, Variant } from '../aegis/variants';
import { getBenchmark } from '../benchmarks/registry';
import type { EpisodeTrace } from '../harness/trace';
import { costUsd } from '../models/prices';
import { progressPacer } from './activity-context';
import { faultPoint } from './boundary';
import { ActivityServices, loadVerifiedHarness } from './services';
import { Spend, totalSpend } from './spend';

/** A harness on tasks: k attempts per task, seeded. `recordPolicy` keeps the simulator's decisions in the traces. */
export interface RolloutInput {
  benchmark: string;
  harnessId: string;
  taskIds: string[];
  k: number;
  seed: string;
  recordPolicy?: boolean;
}

/** A rollout's outcomes and spend (evaluation needs no traces). */
export interface OutcomesResult {
  outcomesRef: string;
  passRate: number;
  passed: number;
  tasks: number;
  episodes: number;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  /** USD from the price table; null when the model is unpriced. */
  costUsd: number | null;
}

/** A rollout's outcomes, spend and traces (what the Digester reads). */
export interface RolloutResult extends OutcomesResult {
  tracesRef: string;
}

/**
 * Rolls a harness out on tasks (no caching: every task runs). With `writeTraces`, every trace is written to
 * the store as its episode ends (tracesRef); otherwise traces are not needed (gates and evaluations use
 * outcomes) and are dropped.
 */
export async function runRollout(services: ActivityServices, input: RolloutInput, writeTraces = false): Promise<{ outcomes: TaskOutcome[]; episodes: number; spend: Spend; tracesRef?: string }> {
  const { store } = services;
  // Its code processors verified before any episode runs (once per harness id).
  const config = await loadVerifiedHarness(store, input.harnessId, input.benchmark);
  const pace = progressPacer();
  const traces = writeTraces ? store.arrayWriter() : null;
  const result = await rolloutTasks({
    wrapModel: services.wrapRolloutModel,
    benchmark: getBenchmark(input.benchmark),
    config,
    harnessId: input.harnessId,
    taskIds: input.taskIds,
    k: input.k,
    seed: input.seed,
    recordPolicy: input.recordPolicy,
    keepTraces: false,
    ...(traces ? { onTrace: (trace: EpisodeTrace) => traces.add(trace) } : {}),
    onEpisode: (done, total) => pace({ done, total }),
  });
  const { inputTokens, outputTokens } = result.usage;
  const spend: Spend = { inputTokens, outputTokens, tokens: inputTokens + outputTokens, costUsd: costUsd(config.model.main.model, result.usage) };
  return { outcomes: result.outcomes, episodes: result.episodes, spend, ...(traces ? { tracesRef: await traces.finish() } : {}) };
}

/** Outcomes for (harness, tasks, k, seed), reusing cached per-task outcomes: re-evaluation is free. Spend of the tasks that ran goes to `spent`. */
export async function outcomesFor(services: ActivityServices, input: Omit<RolloutInput, 'recordPolicy'>, spent?: Spend[]): Promise<TaskOutcome[]> {
  const cached = services.outcomeCache.lookup(input, input.taskIds);
  const missing = input.taskIds.filter((id) => !cached.has(id));
  if (missing.length) {
    const { outcomes, spend: used } = await runRollout(services, { ...input, taskIds: missing });
    spent?.push(used);
    services.outcomeCache.record(input, outcomes);
    for (const o of outcomes) cached.set(o.taskId, o);
  }
  return input.taskIds.map((id) => cached.get(id)!);
}

/** The benchmark's task → cluster map that routes tasks to variants ('all' where it has no clusters). */
export function clusterOfTask(benchmark: string): (taskId: string) => string {
  const b = getBenchmark(benchmark);
  return (taskId: string) => b.cluster?.(taskId) ?? 'all';
}

/** Rollouts and evaluations of one harness (global strategy) or of a variant pool (ensemble strategy). */
export function createRolloutActivities(services: ActivityServices) {
  const { store } = services;

  /** A rollout whose per-task outcomes are cached (gates and evaluations reuse them) and stored. */
  async function rolloutAndRecord(input: RolloutInput, writeTraces: boolean): Promise<OutcomesResult & { tracesRef?: string }> {
    const { outcomes, episodes, spend: used, tracesRef } = await runRollout(services, input, writeTraces);
    services.outcomeCache.record(input, outcomes);
    return {
      outcomesRef: store.put(outcomes),
      ...(tracesRef ? { tracesRef } : {}),
      passRate: passRate(outcomes),
      passed: outcomes.filter((o) => o.passed).length,
      tasks: outcomes.length,
      episodes,
      ...used,
    };
  }

  return {
    async rollout(input: RolloutInput): Promise<RolloutResult> {
      await faultPoint(store, 'rollout');
      const { tracesRef, ...result } = await rolloutAndRecord(input, true);
      return { ...result, tracesRef: tracesRef! };
    },

    /** `rollout` without traces: for evaluations, whose traces nothing reads (writing them cost ~10% of simulator throughput). */
    async rolloutOutcomes(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string }): Promise<OutcomesResult> {
      await faultPoint(store, 'rollout');
      return rolloutAndRecord(input, false);
    },

    /** Pass rate of a harness on a fixed task list (cached per task). */
    async evaluate(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string }) {
      const spent: Spend[] = [];
      const outcomes = await outcomesFor(services, input, spent);
      return { passRate: passRate(outcomes), passed: outcomes.filter((o) => o.passed).length, tasks: outcomes.length, episodes: outcomes.length * input.k, spend: totalSpend(spent) };
    },

    /**
     * Variant isolation's rollout: routes the batch to variants by cluster, rolls each variant out on its
     * tasks, and returns the pool with updated statistics plus where validation tasks route now. Retries are
     * safe: the result depends only on the input pool.
     */
    async ensembleRollout(input: { benchmark: string; variants: Variant[]; taskIds: string[]; validationIds: string[]; k: number; seed: string }) {
      await faultPoint(store, 'rollout');
      const clusterOf = clusterOfTask(input.benchmark);
      const routes = routeTasks(input.variants, input.taskIds, clusterOf);
      const perVariant: Array<{ variantId: string; harnessId: string; taskIds: string[]; tasks: number; passed: number; tracesRef: string; outcomesRef: string }> = [];
      const outcomes: Record<string, TaskOutcome[]> = {};
      const spent: Spend[] = [];
      for (const v of input.variants) {
        const taskIds = routes[v.id];
        if (!taskIds.length) continue;
        const r = await runRollout(services, { benchmark: input.benchmark, harnessId: v.harnessId, taskIds, k: input.k, seed: input.seed }, true);
        services.outcomeCache.record({ ...input, harnessId: v.harnessId }, r.outcomes);
        outcomes[v.id] = r.outcomes;
        spent.push(r.spend);
        perVariant.push({ variantId: v.id, harnessId: v.harnessId, taskIds, tasks: r.outcomes.length, passed: r.outcomes.filter((o) => o.passed).length, tracesRef: r.tracesRef!, outcomesRef: store.put(r.outcomes) });
      }
      const all = Object.values(outcomes).flat();
      const used = totalSpend(spent);
      return {
        perVariant,
        variants: recordOutcomes(input.variants, outcomes, clusterOf),
        validationRoutes: routeTasks(input.variants, input.validationIds, clusterOf),
        passRate: passRate(all),
        passed: all.filter((o) => o.passed).length,
        tasks: all.length,
        episodes: all.length * input.k,
        ...used,
      };
    },

    /** The ensemble's pass rate: every task evaluated on the variant it routes to (cached per task). */
    async ensembleEvaluate(input: { benchmark: string; variants: Variant[]; taskIds: string[]; k: number; seed: string }) {
      const routes = routeTasks(input.variants, input.taskIds, clusterOfTask(input.benchmark));
      const spent: Spend[] = [];
      const all: TaskOutcome[] = [];
      for (const v of input.variants) if (routes[v.id].length) all.push(...(await outcomesFor(services, { ...input, taskIds: routes[v.id], harnessId: v.harnessId }, spent)));
      return { passRate: passRate(all), passed: all.filter((o) => o.passed).length, tasks: all.length, episodes: all.length * input.k, routes: Object.fromEntries(Object.entries(routes).map(([id, ids]) => [id, ids.length])), spend: totalSpend(spent) };
    },
  };
}

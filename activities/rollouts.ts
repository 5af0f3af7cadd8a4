import { passRate, rolloutTasks, TaskOutcome } from '../aegis/rollout';
import type { CutResult, RolloutAllowance } from '../aegis/rollout-cut';
import { recordOutcomes, routeTasks, Variant } from '../aegis/variants';
import { getBenchmark } from '../benchmarks/registry';
import type { EpisodeTrace } from '../harness/trace';
import type { EndpointLimitInForce } from '../aegis/run-state';
import type { EndpointLimits } from '../models/endpoint-limits';
import { CallPriority, sharedEndpointLimiters } from '../models/endpoint-limiter';
import { costUsd } from '../models/prices';
import { faultPoint } from './boundary';
import { ProgressReporter, rolloutKey, withProgress } from './rollout-progress';
import { cancellableRollout, withCancellableProgress } from './rollout-cancel';
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
  /** The run's endpoint limits (its input's `endpointLimits`), over the worker's HARNESSX_ENDPOINT_LIMITS. */
  endpointLimits?: EndpointLimits;
  /**
   * The evolution budget left (the gate's allowance): once spent, no new task starts and the result covers
   * the tasks up to the cut (aegis/rollout-cut.ts), budgetStopped. Measurement never sets it.
   */
  allowance?: RolloutAllowance;
  /** 'background' for work started ahead of its stage (aegis/overlap.ts): its calls take only the slots foreground work leaves free. In no outcome's key. */
  priority?: CallPriority;
  /** Watch the activity's cancellation at foreground priority too (a gate begun during the critique); background work always is. */
  cancellable?: boolean;
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
  /**
   * Under an allowance that ran out before the last task: the outcomes (and traces) cover only the first
   * `coveredTasks` tasks of the input, in its order; the spend above includes `beyondCutTokens`, paid for
   * episodes past the cut that were already running, whose outcomes are not used.
   */
  budgetStopped?: true;
  coveredTasks?: number;
  beyondCutTokens?: number;
}

/** What a cut rollout adds to its result (nothing for one that covered every task); `covered`: the input's tasks in the result. */
function cutRecord(cut: CutResult | undefined, covered: number): Pick<OutcomesResult, 'budgetStopped' | 'coveredTasks' | 'beyondCutTokens'> {
  if (!cut?.budgetStopped) return {};
  return { budgetStopped: true, coveredTasks: covered, beyondCutTokens: cut.beyondCut.inputTokens + cut.beyondCut.outputTokens };
}

/** What an allowance leaves after a spend (never negative; a USD cap stays as it is while the spend is unpriced). */
function allowanceLeft(allowance: RolloutAllowance, spend: Spend): RolloutAllowance {
  return {
    tokens: allowance.tokens === null ? null : Math.max(0, allowance.tokens - spend.tokens),
    usd: allowance.usd === null || spend.costUsd === null ? allowance.usd : Math.max(0, allowance.usd - spend.costUsd),
  };
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
export async function runRollout(
  services: ActivityServices,
  input: RolloutInput,
  writeTraces = false,
  progress: ProgressReporter = new ProgressReporter(),
  onTaskDone?: (outcome: TaskOutcome) => void,
): Promise<{ outcomes: TaskOutcome[]; episodes: number; spend: Spend; spendOf: (taskId: string) => Spend; tracesRef?: string; cut?: CutResult }> {
  const { store } = services;
  // Its code processors verified before any episode runs (once per harness id).
  const config = await loadVerifiedHarness(store, input.harnessId, input.benchmark);
  const traces = writeTraces ? store.arrayWriter() : null;
  const key = rolloutKey(input);
  // Each finished episode's trace is stored as it ends, so a retried attempt reuses it instead of paying for
  // the episode again. Simulator episodes cost microseconds: running one again is cheaper than storing it twice.
  const persistTraces = writeTraces && !effectiveModelId(services, config.model.main.model).startsWith('sim:');
  // Only work a run may cancel (background, or a gate begun early) passes the cancellation check (rollout-cancel.ts).
  const cancellable = input.priority === 'background' || input.cancellable ? cancellableRollout(services.wrapRolloutModel, (u) => costUsd(config.model.main.model, u)) : null;
  const result = await rolloutTasks({
    wrapModel: cancellable?.wrapModel ?? services.wrapRolloutModel,
    ...(services.substituteRolloutModel ? { substituteModel: services.substituteRolloutModel } : {}),
    benchmark: getBenchmark(input.benchmark),
    config,
    harnessId: input.harnessId,
    taskIds: input.taskIds,
    k: input.k,
    seed: input.seed,
    recordPolicy: input.recordPolicy,
    keepTraces: false,
    ...(traces ? { onTrace: (trace: EpisodeTrace) => traces.add(trace) } : {}),
    endpointLimits: input.endpointLimits,
    resume: progress.resumeOf(key),
    ...(persistTraces ? { saveTrace: (trace: EpisodeTrace) => store.put(trace), loadTrace: (ref: string) => store.get<EpisodeTrace>(ref) } : {}),
    onProgress: ({ done, total, finished }) => progress.update(key, done, total, finished),
    ...(input.allowance ? { allowance: input.allowance } : {}),
    ...(input.priority ? { priority: input.priority } : {}),
    ...(onTaskDone ? { onTaskDone } : {}),
    // Episodic memory's lessons live in the artifact store, keyed by harness id and benchmark.
    lessonStore: store,
  }).catch((e: unknown) => {
    throw cancellable ? cancellable.failure(e) : e;
  });
  // Spend is everything paid: the episodes in the result and any that ran past a cut.
  const beyond = result.cut?.beyondCut;
  const usage = { inputTokens: result.usage.inputTokens + (beyond?.inputTokens ?? 0), outputTokens: result.usage.outputTokens + (beyond?.outputTokens ?? 0) };
  const spend: Spend = { ...usage, tokens: usage.inputTokens + usage.outputTokens, costUsd: costUsd(config.model.main.model, usage) };
  // What each task's outcome cost (its k episodes): kept with the outcome in the cache, so a retried attempt that reuses it counts it again.
  const spendOf = (taskId: string): Spend => {
    const u = Object.hasOwn(result.taskUsage, taskId) ? result.taskUsage[taskId] : { inputTokens: 0, outputTokens: 0 };
    return { ...u, tokens: u.inputTokens + u.outputTokens, costUsd: costUsd(config.model.main.model, u) };
  };
  return { outcomes: result.outcomes, episodes: result.episodes, spend, spendOf, ...(traces ? { tracesRef: await traces.finish() } : {}), ...(result.cut ? { cut: result.cut } : {}) };
}

/** The id of the model a rollout's episodes actually call for `modelId` (a test or bench substitute's, if any). */
function effectiveModelId(services: ActivityServices, modelId: string): string {
  const substitute = services.substituteRolloutModel;
  return substitute ? substitute({ id: modelId, generate: () => Promise.reject(new Error('not called')) }, 'id').id : modelId;
}

/**
 * Outcomes for (harness, tasks, k, seed), reusing cached per-task outcomes: re-evaluation is free. Spend of
 * the tasks that ran goes to `spent`, and so does what earlier attempts of this activity paid for outcomes
 * it reuses (a retried activity reports the spend of an uninterrupted one; outcome-cache.ts).
 */
export async function outcomesFor(services: ActivityServices, input: Omit<RolloutInput, 'recordPolicy' | 'allowance'>, spent?: Spend[], progress?: ProgressReporter, onTaskDone?: (outcome: TaskOutcome) => void): Promise<TaskOutcome[]> {
  return (await outcomesWithin(services, input, spent, progress, onTaskDone)).outcomes;
}

/**
 * outcomesFor under an optional allowance: cached tasks are free, the missing ones run under it, and a cut
 * among them cuts the input's task list at the first missing task left out. The outcomes are then those of
 * the input's tasks before it (a prefix, in input order), the same whatever ran concurrently.
 */
export async function outcomesWithin(services: ActivityServices, input: Omit<RolloutInput, 'recordPolicy'>, spent?: Spend[], progress?: ProgressReporter, onTaskDone?: (outcome: TaskOutcome) => void): Promise<{ outcomes: TaskOutcome[]; cut?: CutResult }> {
  const { allowance: given, ...scope } = input;
  const { outcomes: cached, reusedSpend } = await services.outcomeCache.lookup(scope, scope.taskIds);
  // onTaskDone (rolloutTasks): cached tasks are done now; under an allowance it is not called at all.
  const taskDone = given ? undefined : onTaskDone;
  for (const id of scope.taskIds) if (cached.has(id)) taskDone?.(cached.get(id)!);
  if (reusedSpend.tokens > 0 || (reusedSpend.costUsd ?? 0) > 0) spent?.push(reusedSpend);
  const missing = scope.taskIds.filter((id) => !cached.has(id));
  if (!missing.length) return { outcomes: scope.taskIds.map((id) => cached.get(id)!) };
  // What earlier attempts paid for reused outcomes was paid from the same allowance.
  const allowance = given && reusedSpend.tokens > 0 ? allowanceLeft(given, reusedSpend) : given;
  const { outcomes, spend: used, spendOf, cut } = await runRollout(services, { ...scope, taskIds: missing, ...(allowance ? { allowance } : {}) }, false, progress, taskDone);
  spent?.push(used);
  await services.outcomeCache.record(scope, outcomes, spendOf);
  for (const o of outcomes) cached.set(o.taskId, o);
  const firstLeftOut = cut?.budgetStopped ? scope.taskIds.indexOf(missing[cut.coveredTasks]) : scope.taskIds.length;
  return { outcomes: scope.taskIds.slice(0, firstLeftOut).map((id) => cached.get(id)!), ...(cut ? { cut } : {}) };
}

/** The endpoint limit a worker applies to each model (run input over its HARNESSX_ENDPOINT_LIMITS over the default). */
export function endpointLimitsInForce(input: { models: string[]; endpointLimits?: EndpointLimits }): EndpointLimitInForce[] {
  const limiters = sharedEndpointLimiters();
  return [...new Set(input.models)].map((model) => ({ model, ...limiters.resolve(model, input.endpointLimits) }));
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
    const { outcomes, episodes, spend: used, spendOf, tracesRef, cut } = await withCancellableProgress(input.priority, (progress) => runRollout(services, input, writeTraces, progress));
    // A cut rollout's outcomes are those up to its cut only: nothing past it reaches the cache.
    await services.outcomeCache.record(input, outcomes, spendOf);
    return {
      outcomesRef: await store.put(outcomes),
      ...(tracesRef ? { tracesRef } : {}),
      passRate: passRate(outcomes),
      passed: outcomes.filter((o) => o.passed).length,
      tasks: outcomes.length,
      episodes,
      ...used,
      ...cutRecord(cut, outcomes.length),
    };
  }

  return {
    /** What the run's audit log and status record at setup: the limits this worker applies to the run's models. */
    async endpointLimitsInForce(input: { models: string[]; endpointLimits?: EndpointLimits }): Promise<EndpointLimitInForce[]> {
      return endpointLimitsInForce(input);
    },

    async rollout(input: RolloutInput): Promise<RolloutResult> {
      await faultPoint(store, 'rollout');
      const { tracesRef, ...result } = await rolloutAndRecord(input, true);
      return { ...result, tracesRef: tracesRef! };
    },

    /** `rollout` without traces: for evaluations, whose traces nothing reads (writing them cost ~10% of simulator throughput). */
    async rolloutOutcomes(input: Omit<RolloutInput, 'recordPolicy'>): Promise<OutcomesResult> {
      await faultPoint(store, 'rollout');
      return rolloutAndRecord(input, false);
    },

    /**
     * Pass rate of a harness on a fixed task list (cached per task). Under an allowance that runs out, the
     * result covers a prefix of the tasks and says budgetStopped: a partial pass rate, not the list's.
     */
    async evaluate(input: Omit<RolloutInput, 'recordPolicy'>) {
      const spent: Spend[] = [];
      const { outcomes, cut } = await withCancellableProgress(input.priority, (progress) => outcomesWithin(services, input, spent, progress));
      // Durability tests hold here: the outcomes are in the cache, the result not yet reported (outcome-cache.ts: spend counted once).
      await faultPoint(store, 'evaluate');
      return { passRate: passRate(outcomes), passed: outcomes.filter((o) => o.passed).length, tasks: outcomes.length, episodes: outcomes.length * input.k, spend: totalSpend(spent), ...cutRecord(cut, outcomes.length) };
    },

    /**
     * Variant isolation's rollout: routes the batch to variants by cluster, rolls each variant out on its
     * tasks, and returns the pool with updated statistics plus where validation tasks route now. Retries are
     * safe: the result depends only on the input pool. Under an allowance the variants roll out in pool
     * order, each with what the earlier ones left; one that is cut ends it (budgetStopped), the later
     * variants do not run, and the pool comes back as it went in: part of a batch is no basis for routing.
     */
    async ensembleRollout(input: { benchmark: string; variants: Variant[]; taskIds: string[]; validationIds: string[]; k: number; seed: string; endpointLimits?: EndpointLimits; allowance?: RolloutAllowance }) {
      await faultPoint(store, 'rollout');
      const clusterOf = clusterOfTask(input.benchmark);
      const routes = routeTasks(input.variants, input.taskIds, clusterOf);
      const perVariant: Array<{ variantId: string; harnessId: string; taskIds: string[]; tasks: number; passed: number; tracesRef: string; outcomesRef: string }> = [];
      const outcomes: Record<string, TaskOutcome[]> = {};
      const spent: Spend[] = [];
      let cut: CutResult | undefined;
      await withProgress(async (progress) => {
        for (const v of input.variants) {
          const taskIds = routes[v.id];
          if (!taskIds.length) continue;
          const allowance = input.allowance ? allowanceLeft(input.allowance, totalSpend(spent)) : undefined;
          const r = await runRollout(services, { benchmark: input.benchmark, harnessId: v.harnessId, taskIds, k: input.k, seed: input.seed, endpointLimits: input.endpointLimits, ...(allowance ? { allowance } : {}) }, true, progress);
          await services.outcomeCache.record({ ...input, harnessId: v.harnessId }, r.outcomes, r.spendOf);
          outcomes[v.id] = r.outcomes;
          spent.push(r.spend);
          const covered = taskIds.slice(0, r.outcomes.length);
          perVariant.push({ variantId: v.id, harnessId: v.harnessId, taskIds: covered, tasks: r.outcomes.length, passed: r.outcomes.filter((o) => o.passed).length, tracesRef: r.tracesRef!, outcomesRef: await store.put(r.outcomes) });
          if (r.cut?.budgetStopped) {
            cut = r.cut;
            return;
          }
        }
      });
      const all = Object.values(outcomes).flat();
      const used = totalSpend(spent);
      return {
        perVariant,
        variants: cut ? input.variants : recordOutcomes(input.variants, outcomes, clusterOf),
        validationRoutes: routeTasks(input.variants, input.validationIds, clusterOf),
        passRate: passRate(all),
        passed: all.filter((o) => o.passed).length,
        tasks: all.length,
        episodes: all.length * input.k,
        ...used,
        ...cutRecord(cut, all.length),
      };
    },

    /** The ensemble's pass rate: every task evaluated on the variant it routes to (cached per task). */
    async ensembleEvaluate(input: { benchmark: string; variants: Variant[]; taskIds: string[]; k: number; seed: string; endpointLimits?: EndpointLimits }) {
      const routes = routeTasks(input.variants, input.taskIds, clusterOfTask(input.benchmark));
      const spent: Spend[] = [];
      const all: TaskOutcome[] = [];
      const { variants: _variants, ...scope } = input;
      await withProgress(async (progress) => {
        for (const v of input.variants) if (routes[v.id].length) all.push(...(await outcomesFor(services, { ...scope, taskIds: routes[v.id], harnessId: v.harnessId }, spent, progress)));
      });
      return { passRate: passRate(all), passed: all.filter((o) => o.passed).length, tasks: all.length, episodes: all.length * input.k, routes: Object.fromEntries(Object.entries(routes).map(([id, ids]) => [id, ids.length])), spend: totalSpend(spent) };
    },
  };
}

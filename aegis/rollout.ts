import type { Benchmark } from '../benchmarks/types';
import type { HarnessConfig } from '../harness/config';
import { runEpisode } from '../harness/run-loop';
import type { EpisodeTrace } from '../harness/trace';
import type { Model } from '../harness/processor';
import { withFallback } from '../models/fallback-model';
import { createModel } from '../models/registry';
import type { ModelOptions } from '../models/types';

export interface TaskOutcome {
  taskId: string;
  /** pass@k: solved in at least one of k attempts. */
  passed: boolean;
  successes: number;
  attempts: number;
}

export interface RolloutSpec {
  /** Wraps each episode's model (the activity adds the response cache for paid providers). */
  wrapModel?: (model: Model, episodeSeed: string) => Model;
  benchmark: Benchmark;
  config: HarnessConfig;
  harnessId: string;
  taskIds: string[];
  k: number;
  seed: string;
  /** Keep the model's policy decisions in traces (co-evolution's GRPO needs them; they cost trace size). */
  recordPolicy?: boolean;
  /** Called after each episode; rollout activities heartbeat here. */
  onEpisode?: (done: number, total: number) => void | Promise<void>;
  /** Receives each episode's trace as it finishes (rollout activities write it to the store at once). */
  onTrace?: (trace: EpisodeTrace) => void;
  /**
   * Return the traces (default). Off, they are garbage as soon as onTrace has seen them: a rollout of
   * hundreds of episodes then never holds them all, which spares the full GCs that promoting them costs.
   */
  keepTraces?: boolean;
}

export interface RolloutResult {
  /** Empty when the spec set keepTraces: false. */
  traces: EpisodeTrace[];
  outcomes: TaskOutcome[];
  episodes: number;
  /** Task-model tokens over all episodes. */
  usage: { inputTokens: number; outputTokens: number };
}

/**
 * The episode seed depends on run seed, task and attempt only, never on the harness: two harnesses are
 * compared on common random numbers, so a difference in outcome comes from the harness.
 */
export function episodeSeed(seed: string, taskId: string, attempt: number): string {
  return `${seed}|${taskId}|${attempt}`;
}

export async function rolloutTasks(spec: RolloutSpec): Promise<RolloutResult> {
  const keep = spec.keepTraces !== false;
  const traces: EpisodeTrace[] = [];
  const outcomes: TaskOutcome[] = [];
  const usage = { inputTokens: 0, outputTokens: 0 };
  const total = spec.taskIds.length * spec.k;
  let episodes = 0;
  for (const taskId of spec.taskIds) {
    let successes = 0;
    for (let attempt = 0; attempt < spec.k; attempt++) {
      const trace = await runOneEpisode(spec, taskId, attempt);
      if (trace.success) successes++;
      usage.inputTokens += trace.usage.inputTokens;
      usage.outputTokens += trace.usage.outputTokens;
      spec.onTrace?.(trace);
      if (keep) traces.push(trace);
      await spec.onEpisode?.(++episodes, total);
    }
    outcomes.push({ taskId, passed: successes > 0, successes, attempts: spec.k });
  }
  return { traces, outcomes, episodes, usage };
}

export async function runOneEpisode(spec: Omit<RolloutSpec, 'taskIds' | 'k' | 'onEpisode'>, taskId: string, attempt: number): Promise<EpisodeTrace> {
  const seed = episodeSeed(spec.seed, taskId, attempt);
  // Environments never create models: a benchmark with a simulated user (tau2-retail) is given the one that plays it.
  const userModel = spec.benchmark.hasSimulatedUser ? simulatedUserModel(spec.config, `${seed}|user`) : undefined;
  const env = spec.benchmark.createEnvironment(taskId, { seed, ...(userModel ? { userModel } : {}) });
  const task = spec.benchmark.task(taskId);
  const role = (r: { model: string; fallback?: string }, roleSeed: string, taskBrief?: ModelOptions['taskBrief']) => {
    const wrap = (m: Model) => (spec.wrapModel ? spec.wrapModel(m, roleSeed) : m);
    const options: ModelOptions = { seed: roleSeed, recordPolicy: spec.recordPolicy, ...(taskBrief ? { taskBrief } : {}) };
    return withFallback(wrap(createModel(r.model, options)), r.fallback ? wrap(createModel(r.fallback, options)) : null);
  };
  // The task model gets the benchmark's brief on the task: the simulator stands in for a capable model with it
  // (real models ignore it). The judge does not: it decides from the transcript.
  const model = role(spec.config.model.main, seed, spec.benchmark.simulatorBrief?.(taskId));
  const trace = await runEpisode({ config: spec.config, harnessId: spec.harnessId, env, model, task: { id: task.id, instruction: task.instruction }, seed, attempt });
  // The benchmark's fixed verifier has the last word on reward; components an LLM judge decides are
  // judged only when the harness names a judge model (otherwise they are reported as not evaluated).
  const judgeRole = spec.config.model.judge;
  const reward = judgeRole && env.scoreWithJudge ? await env.scoreWithJudge(role(judgeRole, `${seed}|judge`)) : env.score();
  const breakdown = env.breakdown?.();
  return { ...trace, reward, success: reward >= 1, ...(breakdown ? { rewardBreakdown: breakdown } : {}) };
}

/**
 * The model that plays a benchmark's simulated user: the harness's evaluator role, else the workers'
 * HARNESSX_USER_MODEL. Neither: none, and the environment's scripted user plays it (offline runs and tests).
 */
function simulatedUserModel(config: HarnessConfig, seed: string): Model | undefined {
  const envModel = process.env.HARNESSX_USER_MODEL;
  const user = config.model.evaluator ?? (envModel ? { model: envModel } : undefined);
  if (!user) return undefined;
  return withFallback(createModel(user.model, { seed }), user.fallback ? createModel(user.fallback, { seed }) : null);
}

export function passRate(outcomes: TaskOutcome[]): number {
  return outcomes.length ? outcomes.filter((o) => o.passed).length / outcomes.length : 0;
}

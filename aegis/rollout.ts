import { z } from 'zod';
import type { Benchmark } from '../benchmarks/types';
import { guardTools } from '../benchmarks/tool-guard';
import type { HarnessConfig } from '../harness/config';
import { EpisodeTelemetry } from '../harness/genai-telemetry';
import { episodeSpanInfo, runEpisode } from '../harness/run-loop';
import type { EpisodeTrace } from '../harness/trace';
import type { EpisodeMemory, Model, ModelRole } from '../harness/processor';
import { LessonBacking, RolloutMemory, usesEpisodeMemory } from './episode-memory';

export { usesEpisodeMemory };
import type { EndpointLimits } from '../models/endpoint-limits';
import { CallPriority, EndpointLimiters, LimitedModelOptions, seededRandom, sharedEndpointLimiters, withEndpointLimit } from '../models/endpoint-limiter';
import { withFallback } from '../models/fallback-model';
import { costUsd } from '../models/prices';
import { createModel } from '../models/registry';
import type { ModelOptions } from '../models/types';
import { allowanceReached, CutResult, RolloutAllowance, RolloutCut } from './rollout-cut';

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
  /** Called after each episode, in the sequential order; rollout activities heartbeat here. */
  onEpisode?: (done: number, total: number) => void | Promise<void>;
  /**
   * Receives each episode's trace in the order a sequential run would (task by task, attempt by attempt),
   * whatever order episodes finish in: a trace array written here is the same at any concurrency.
   */
  onTrace?: (trace: EpisodeTrace) => void;
  /**
   * Return the traces (default). Off, they are garbage as soon as onTrace has seen them: a rollout of
   * hundreds of episodes then never holds them all, which spares the full GCs that promoting them costs.
   */
  keepTraces?: boolean;
  /**
   * Episodes run at once (default: the main model's endpoint limit, maxInFlight). Results never depend on
   * it; model calls are bounded by the endpoint limiter whatever this is.
   */
  concurrency?: number;
  /**
   * Tests and the bench only (never set from run input): replaces each model an episode creates, under
   * the endpoint limiter, e.g. the simulator over the wire to a local server with latency.
   */
  substituteModel?: (model: Model, sample: string) => Model;
  /** A run's endpoint limits (its input's `endpointLimits`), over the environment's. */
  endpointLimits?: EndpointLimits;
  /** The limiters model calls go through: the process-wide ones by default; null for none. */
  limiters?: EndpointLimiters | null;
  /** Retry policy, clock and backoff hook of the limited models (tests and the bench set them). */
  limitedModel?: Omit<LimitedModelOptions, 'random'>;
  /**
   * The model calls' priority at the endpoint limiter: 'background' for work started ahead of the stage that
   * needs it, which then takes only the slots foreground work leaves free. Outcomes never depend on it.
   */
  priority?: CallPriority;
  /**
   * Episodes finished by an earlier attempt of this rollout (a retried activity's heartbeat details): not
   * run again. Reused as they are when traces are not needed (no onTrace, keepTraces false) or when they
   * carry a traceRef and loadTrace is given; otherwise they are run again (same seed, same result).
   */
  resume?: FinishedEpisode[];
  /** Persists one finished episode's trace at once (completion order); its ref goes into the progress. */
  saveTrace?: (trace: EpisodeTrace) => string | Promise<string>;
  /** Reads a resumed episode's trace back (for onTrace and keepTraces). */
  loadTrace?: (ref: string) => EpisodeTrace | Promise<EpisodeTrace>;
  /** After each episode (sequential order): what is finished so far, for heartbeat details. */
  onProgress?: (progress: RolloutProgress) => void | Promise<void>;
  /**
   * As soon as all k attempts of a task have finished (completion order, not task order; resumed tasks at
   * the start): its outcome, the same as the result's. Lets a caller start work on a task's outcome while the
   * rest of the rollout runs (the sequential gate confirms a suspected regression at once). Not called under
   * an allowance: a cut could leave such a task out of the result.
   */
  onTaskDone?: (outcome: TaskOutcome) => void;
  /**
   * The spend this rollout may make (the run's evolution budget left). Once spent, no new task starts, and
   * the result covers the tasks up to the cut (aegis/rollout-cut.ts: defined on the task order, the same at
   * any concurrency); episodes past the cut that were already running are paid for and reported (`cut`).
   */
  allowance?: RolloutAllowance;
  /**
   * Where episodic memory keeps its lessons (the activity's artifact store): with it, a harness with an
   * episodic_memory processor recalls the lessons stored for (this harness id, this benchmark) and those of
   * the rollout's earlier episodes, its episodes run one at a time (whatever `concurrency` says), and their
   * new lessons are stored when the rollout ends (aegis/episode-memory.ts). Without it the processor has no
   * memory and passes events on.
   */
  lessonStore?: LessonBacking;
}

/** One finished episode, enough to reuse it without running it again. */
export interface FinishedEpisode {
  taskId: string;
  attempt: number;
  success: boolean;
  usage: { inputTokens: number; outputTokens: number };
  /** Its trace in the store (saveTrace), or null when traces were not saved. */
  traceRef: string | null;
  /** Lessons it gave episodic memory (rollouts with memory): a resumed rollout's later episodes recall them as the first attempt's did. */
  lessons?: string[];
}

export interface RolloutProgress {
  done: number;
  total: number;
  /** Every episode finished so far, resumed ones included, in completion order. A live view: copy or serialize it, don't keep it. */
  finished: readonly FinishedEpisode[];
}

const FinishedEpisodeSchema = z.object({
  taskId: z.string(),
  attempt: z.number().int().min(0),
  success: z.boolean(),
  usage: z.object({ inputTokens: z.number().min(0), outputTokens: z.number().min(0) }),
  traceRef: z.string().nullable(),
  lessons: z.array(z.string()).optional(),
});

/**
 * The finished episodes in a retried activity's heartbeat details ({ finished: FinishedEpisode[], … }, as
 * onProgress gives them), or none when the details are missing or not of that shape (an older worker's
 * details): resuming is an optimisation, and running an episode again gives the same result.
 */
export function finishedFromHeartbeat(details: unknown): FinishedEpisode[] {
  const parsed = z.object({ finished: z.array(FinishedEpisodeSchema) }).safeParse(details);
  return parsed.success ? parsed.data.finished : [];
}

export interface RolloutResult {
  /** Empty when the spec set keepTraces: false. */
  traces: EpisodeTrace[];
  outcomes: TaskOutcome[];
  episodes: number;
  /** Task-model tokens over the episodes in the result (a cut rollout: those up to its cut). */
  usage: { inputTokens: number; outputTokens: number };
  /** The same tokens per task of `outcomes` (its k episodes, resumed ones included): what each outcome cost. */
  taskUsage: Record<string, { inputTokens: number; outputTokens: number }>;
  /** With an allowance: how many tasks the result covers, whether the allowance stopped it, and what ran beyond the cut. */
  cut?: CutResult;
}

/**
 * The episode seed depends on run seed, task and attempt only, never on the harness: two harnesses are
 * compared on common random numbers, so a difference in outcome comes from the harness.
 */
export function episodeSeed(seed: string, taskId: string, attempt: number): string {
  return `${seed}|${taskId}|${attempt}`;
}

/**
 * How many episodes a rollout keeps open by default. The simulator is synchronous CPU work on this thread:
 * one episode at a time, since interleaving episodes on one thread gains nothing and costs CPU (4–11% in
 * bench/sim-path-bench.ts); a harness with code processors keeps its limit (the cores), so the sandbox
 * thread's work overlaps the episodes'. A remote endpoint: eight times its limit of calls in flight (the
 * limiter still never lets more than the limit's calls out). Not twice: a new episode starts only when one
 * ends, and the rollout's last ones then run alone, one call at a time, while the endpoint idles. With
 * twice the limit the 424-episode batch of a 200 ms / 64 AEGIS round ended with 2.4 s at under half the
 * endpoint; eight times the limit keeps a stage at 0.98–1.0 of it whatever its size (bench/episodes-open-sim.ts:
 * the simulator's episode lengths, stages of 128–1,500 episodes; twice: 0.74–0.99, four times: 0.90–1.0). At most 512 episodes
 * (never fewer than twice the limit), for memory. An episode that starts a process of its own (a stateful
 * MCP server) keeps twice the limit: that many processes is enough.
 */
export function defaultRolloutConcurrency(spec: Pick<RolloutSpec, 'config' | 'endpointLimits' | 'limiters' | 'substituteModel'> & { benchmark?: Pick<Benchmark, 'episodesStartProcesses'> }): number {
  const limiters = spec.limiters === undefined ? sharedEndpointLimiters() : spec.limiters;
  const main = spec.config.model.main.model;
  // A substituted model talks to another endpoint: its limit is the one that counts.
  const modelId = spec.substituteModel ? spec.substituteModel({ id: main, generate: () => Promise.reject(new Error('not called')) }, 'concurrency').id : main;
  if (!limiters) return 1;
  const calls = limiters.resolve(modelId, spec.endpointLimits).limit.maxInFlight;
  if (!inProcessModel(modelId)) return spec.benchmark?.episodesStartProcesses ? 2 * calls : Math.max(2 * calls, Math.min(EPISODES_PER_ENDPOINT_SLOT * calls, MOST_EPISODES_OPEN));
  return hasCodeProcessors(spec.config) ? calls : 1;
}

/** Episodes a rollout keeps open per call the endpoint takes at once (defaultRolloutConcurrency). */
export const EPISODES_PER_ENDPOINT_SLOT = 8;
/** The most episodes a rollout keeps open, unless twice the limit is more: each holds about 0.3 MB (424 open instead of 128 added 92 MB to a round's peak RSS). */
export const MOST_EPISODES_OPEN = 512;

/**
 * The simulator answers in this process, synchronously: there is no endpoint to protect, and a call is never
 * in flight beside another, so its calls skip the endpoint limiter (whose wrapper cost ~1.5% of a simulator
 * rollout's CPU). Results do not depend on it either way.
 */
function inProcessModel(modelId: string): boolean {
  return modelId.startsWith('sim:');
}

function hasCodeProcessors(config: HarnessConfig): boolean {
  return Object.values(config.hooks).some((processors) => processors.some((p) => p.type === 'code'));
}

/**
 * Runs k attempts of every task, up to `concurrency` episodes at once, every model call through its
 * endpoint's shared limiter. Outcomes, usage and the order traces reach onTrace are those of a sequential
 * run: episodes finishing early wait in a bounded window (launching pauses while the oldest unfinished
 * episode holds it full), so memory stays flat however many episodes there are.
 */
export async function rolloutTasks(spec: RolloutSpec): Promise<RolloutResult> {
  const keep = spec.keepTraces !== false;
  const needTraces = keep || !!spec.onTrace;
  // Episodic memory: episode i recalls what episodes before it learnt, so episodes run one at a time.
  const withMemory = !!spec.lessonStore && usesEpisodeMemory(spec.config);
  const concurrency = withMemory ? 1 : spec.concurrency ?? defaultRolloutConcurrency(spec);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`rollout concurrency must be a whole number ≥ 1, got ${concurrency}`);
  const limiters = spec.limiters === undefined ? sharedEndpointLimiters() : spec.limiters;
  const substitute = spec.substituteModel;
  const wrapModel: RolloutSpec['wrapModel'] =
    limiters || substitute
      ? (created, sample) => {
          const model = substitute ? substitute(created, sample) : created;
          // The limiter sits under the caller's wrapper: a response-cache hit takes no slot at the endpoint.
          const limited = limiters && !inProcessModel(model.id) ? withEndpointLimit(model, limiters.limiterFor(model.id, spec.endpointLimits), { ...spec.limitedModel, ...(spec.priority ? { priority: spec.priority } : {}), random: seededRandom(`${sample}|${model.id}`) }) : model;
          return spec.wrapModel ? spec.wrapModel(limited, sample) : limited;
        }
      : spec.wrapModel;
  const episodeSpec = { ...spec, wrapModel };

  const total = spec.taskIds.length * spec.k;
  const keyOf = (index: number) => ({ taskId: spec.taskIds[Math.floor(index / spec.k)], attempt: index % spec.k });
  const indexOf = new Map<string, number>();
  for (let i = 0; i < total; i++) indexOf.set(JSON.stringify(keyOf(i)), i);
  const resumed = new Map<number, FinishedEpisode>();
  for (const episode of spec.resume ?? []) {
    const index = indexOf.get(JSON.stringify({ taskId: episode.taskId, attempt: episode.attempt }));
    if (index === undefined) throw new Error(`rollout resume: episode (${episode.taskId}, attempt ${episode.attempt}) is not part of this rollout (${spec.taskIds.length} tasks, k=${spec.k})`);
    const reusable = !needTraces || (episode.traceRef !== null && !!spec.loadTrace);
    if (reusable) resumed.set(index, episode);
  }
  const finished: FinishedEpisode[] = [...resumed.values()];
  const allowance = spec.allowance;
  const memory = withMemory ? await RolloutMemory.open(spec.lessonStore!, { harnessId: spec.harnessId, suite: spec.benchmark.name }) : null;
  const cut = allowance ? new RolloutCut(spec.taskIds.length, spec.k, (usage) => allowanceReached(allowance, usage, (u) => costUsd(spec.config.model.main.model, u))) : null;

  // Per task, its attempts finished so far (in any order), for onTaskDone.
  const taskDone = spec.onTaskDone && !allowance ? spec.onTaskDone : null;
  const attemptsOf = new Map<string, { done: number; successes: number }>();
  const episodeDone = (episode: FinishedEpisode) => {
    if (!taskDone) return;
    const a = attemptsOf.get(episode.taskId) ?? { done: 0, successes: 0 };
    attemptsOf.set(episode.taskId, a);
    a.done++;
    if (episode.success) a.successes++;
    if (a.done === spec.k) taskDone({ taskId: episode.taskId, passed: a.successes > 0, successes: a.successes, attempts: spec.k });
  };
  for (const episode of resumed.values()) episodeDone(episode);

  type Done = { episode: FinishedEpisode; trace: EpisodeTrace | null };
  const slots = new Map<number, Promise<Done>>();
  const window = Math.max(2 * concurrency, concurrency + 8);
  let launched = 0;
  let emitted = 0;
  let running = 0;
  let stopped = false;
  const runAt = async (index: number): Promise<Done> => {
    const { taskId, attempt } = keyOf(index);
    const trace = await runOneEpisode(episodeSpec, taskId, attempt, memory ? { memory: memory.forEpisode(index) } : {});
    const traceRef = spec.saveTrace ? await spec.saveTrace(trace) : null;
    const lessons = memory?.lessonsOf(index);
    const episode: FinishedEpisode = { taskId, attempt, success: trace.success, usage: { inputTokens: trace.usage.inputTokens, outputTokens: trace.usage.outputTokens }, traceRef, ...(lessons?.length ? { lessons } : {}) };
    finished.push(episode);
    cut?.finish(index, episode.usage);
    episodeDone(episode);
    return { episode, trace: needTraces ? trace : null };
  };
  const launch = () => {
    while (!stopped && launched < total && launched < emitted + window && running < concurrency && (!cut || cut.mayLaunch())) {
      const index = launched++;
      const earlier = resumed.get(index);
      cut?.launch(index, earlier?.usage);
      if (earlier) {
        if (memory && earlier.lessons?.length) memory.restore(index, earlier.lessons);
        slots.set(index, Promise.resolve({ episode: earlier, trace: null }));
        continue;
      }
      running++;
      const slot = runAt(index)
        .catch((e: unknown) => {
          stopped = true;
          throw e;
        })
        .finally(() => {
          running--;
          launch();
        });
      // Handled where it is awaited, in order; this keeps an early failure from counting as unhandled.
      slot.catch(() => undefined);
      slots.set(index, slot);
    }
  };

  const traces: EpisodeTrace[] = [];
  const usage = { inputTokens: 0, outputTokens: 0 };
  const perTaskUsage = new Map<string, { inputTokens: number; outputTokens: number }>();
  const outcomes: TaskOutcome[] = [];
  let successes = 0;
  try {
    for (; emitted < total; ) {
      if (cut?.stopsBefore(emitted)) break;
      launch();
      const slot = slots.get(emitted);
      // Launching runs ahead of emitting, and a held-back task is never one the cut needs (rollout-cut.ts).
      if (!slot) throw new Error(`rollout: episode ${emitted} of ${total} was never launched (a bug in the launch rule)`);
      const { episode, trace: fresh } = await slot;
      slots.delete(emitted);
      cut?.emit(emitted, episode.usage);
      emitted++;
      const trace = fresh ?? (needTraces && episode.traceRef !== null && spec.loadTrace ? await spec.loadTrace(episode.traceRef) : null);
      if (episode.success) successes++;
      usage.inputTokens += episode.usage.inputTokens;
      usage.outputTokens += episode.usage.outputTokens;
      let perTask = perTaskUsage.get(episode.taskId);
      if (!perTask) perTaskUsage.set(episode.taskId, (perTask = { inputTokens: 0, outputTokens: 0 }));
      perTask.inputTokens += episode.usage.inputTokens;
      perTask.outputTokens += episode.usage.outputTokens;
      if (trace) {
        spec.onTrace?.(trace);
        if (keep) traces.push(trace);
      }
      if (episode.attempt === spec.k - 1) {
        outcomes.push({ taskId: episode.taskId, passed: successes > 0, successes, attempts: spec.k });
        successes = 0;
      }
      await spec.onEpisode?.(emitted, total);
      await spec.onProgress?.({ done: emitted, total, finished });
    }
  } catch (e) {
    // Nothing new starts; episodes already running finish (their calls are paid for) before the error leaves.
    stopped = true;
    await Promise.allSettled(slots.values());
    throw e;
  }
  const taskUsage = Object.fromEntries(perTaskUsage);
  // The lessons of the episodes the result covers, stored in sequential order (never those past a cut).
  if (!cut) {
    await memory?.flush();
    return { traces, outcomes, episodes: total, usage, taskUsage };
  }
  // Past the cut: nothing new starts; what is running finishes (paid for, counted beyond the cut, its outcome
  // and trace unused; a failure there changes nothing the result holds), and the heartbeat records it all.
  stopped = true;
  await Promise.allSettled(slots.values());
  if (emitted < total) await spec.onProgress?.({ done: emitted, total, finished });
  await memory?.flush(emitted);
  return { traces, outcomes, episodes: emitted, usage, taskUsage, cut: cut.result() };
}


/**
 * One episode of a harness on a task. Besides the main model, the processors get the harness's other
 * model roles (judge, evaluator — the summariser), created like the main model: through `wrapModel`, so
 * the endpoint limiter and the response cache cover their calls, and counted in the episode's usage by the
 * run loop, so they are part of the rollout's spend. `memory`: the episode's view of episodic memory; the
 * benchmark's declared skill files (a user suite's `skills`) are handed to skill_loader.
 */
export async function runOneEpisode(spec: Omit<RolloutSpec, 'taskIds' | 'k' | 'onEpisode'>, taskId: string, attempt: number, extras: { memory?: EpisodeMemory } = {}): Promise<EpisodeTrace> {
  const seed = episodeSeed(spec.seed, taskId, attempt);
  // Environments never create models: a benchmark with a simulated user (tau2-retail) is given the one that plays it.
  // It goes through wrapModel like the roles: the endpoint limiter (and response cache) cover its calls too.
  const userModel = spec.benchmark.hasSimulatedUser ? simulatedUserModel(spec.config, `${seed}|user`, spec.wrapModel) : undefined;
  // A tool that throws is the episode's failed tool call, never the activity's failure (tool-guard.ts).
  const env = guardTools(await spec.benchmark.createEnvironment(taskId, { seed, ...(userModel ? { userModel } : {}) }));
  // A user suite's environment holds tool sessions (an MCP server process): released however the episode ends.
  try {
    const task = spec.benchmark.task(taskId);
    const role = (r: { model: string; fallback?: string }, roleSeed: string, taskBrief?: ModelOptions['taskBrief']) => {
      const wrap = (m: Model) => (spec.wrapModel ? spec.wrapModel(m, roleSeed) : m);
      const options: ModelOptions = { seed: roleSeed, recordPolicy: spec.recordPolicy, ...(taskBrief ? { taskBrief } : {}) };
      return withFallback(wrap(createModel(r.model, options)), r.fallback ? wrap(createModel(r.fallback, options)) : null);
    };
    // The task model gets the benchmark's brief on the task: the simulator stands in for a capable model with it
    // (real models ignore it). The judge does not: it decides from the transcript.
    const model = role(spec.config.model.main, seed, spec.benchmark.simulatorBrief?.(taskId));
    const input = { config: spec.config, harnessId: spec.harnessId, env, model, task: { id: task.id, instruction: task.instruction }, seed, attempt };
    // Processors' model roles: seeded apart from the scoring judge's, so a processor's calls never shift the verdict's.
    const models: Partial<Record<ModelRole, Model>> = {};
    for (const name of ['judge', 'evaluator'] as const) {
      const configured = spec.config.model[name];
      if (configured) models[name] = role(configured, `${seed}|${name}-processor`);
    }
    const skills = spec.benchmark.skills?.();
    // The episode's agent span stays open through scoring, so it carries the reward.
    const telemetry = EpisodeTelemetry.start(episodeSpanInfo(input));
    try {
      const trace = await runEpisode({ ...input, models, ...(extras.memory ? { memory: extras.memory } : {}), ...(skills && Object.keys(skills).length ? { skills } : {}), telemetry });
      // The benchmark's fixed verifier has the last word on reward; components an LLM judge decides are
      // judged only when the harness names a judge model (otherwise they are reported as not evaluated).
      const judgeRole = spec.config.model.judge;
      const reward = judgeRole && env.scoreWithJudge ? await telemetry.within(() => env.scoreWithJudge!(role(judgeRole, `${seed}|judge`))) : await env.score();
      const breakdown = env.breakdown?.();
      telemetry.scored(reward, reward >= 1);
      return { ...trace, reward, success: reward >= 1, ...(breakdown ? { rewardBreakdown: breakdown } : {}) };
    } catch (error) {
      telemetry.failed(error);
      throw error;
    } finally {
      telemetry.end();
    }
  } finally {
    await env.close?.();
  }
}

/**
 * The model that plays a benchmark's simulated user: the harness's evaluator role, else the workers'
 * HARNESSX_USER_MODEL. Neither: none, and the environment's scripted user plays it (offline runs and tests).
 */
function simulatedUserModel(config: HarnessConfig, seed: string, wrapModel: RolloutSpec['wrapModel']): Model | undefined {
  const envModel = process.env.HARNESSX_USER_MODEL;
  const user = config.model.evaluator ?? (envModel ? { model: envModel } : undefined);
  if (!user) return undefined;
  const wrap = (m: Model) => (wrapModel ? wrapModel(m, seed) : m);
  return withFallback(wrap(createModel(user.model, { seed })), user.fallback ? wrap(createModel(user.fallback, { seed })) : null);
}

export function passRate(outcomes: TaskOutcome[]): number {
  return outcomes.length ? outcomes.filter((o) => o.passed).length / outcomes.length : 0;
}

/** Rollout jobs as activities run them: the store's response cache around paid models, traces streamed to the store. */
import { rolloutTasks, TaskOutcome } from '../aegis/rollout';
import { getBenchmark } from '../benchmarks/registry';
import type { EpisodeTrace } from '../harness/trace';
import type { Model } from '../harness/processor';
import type { ModelResponse } from '../harness/types';
import { ResponseCache, withResponseCache } from '../models/cached-model';
import type { ArtifactStore } from '../store/artifact-store';

/** One rollout of a harness on tasks, as rollout activities ask for it. */
export interface RolloutJob {
  benchmark: string;
  harnessId: string;
  taskIds: string[];
  k: number;
  seed: string;
  recordPolicy?: boolean;
  /** Write every trace to the store (one blob, tracesRef); off, traces are dropped as they finish. */
  writeTraces: boolean;
}

export interface RolloutJobResult {
  outcomes: TaskOutcome[];
  episodes: number;
  usage: { inputTokens: number; outputTokens: number };
  tracesRef?: string;
}

/** Progress after an episode: resolves when the caller is ready for more (it may yield the event loop). */
export type OnProgress = (done: number, total: number) => void | Promise<void>;

/** Model responses cached in the store (a retried or resumed call never pays twice). */
export function storeResponseCache(store: ArtifactStore): ResponseCache {
  return {
    get: (key) => store.cacheGet<ModelResponse>('responses', key),
    set: (key, response) => store.cacheSet('responses', key, response),
  };
}

/**
 * The model wrapper rollouts use: paid providers' responses are cached in the store
 * (HARNESSX_RESPONSE_CACHE=off disables); the simulator is free and never cached.
 */
function responseCachingFor(store: ArtifactStore): (model: Model, sample: string) => Model {
  const cache = storeResponseCache(store);
  return (model, sample) => (process.env.HARNESSX_RESPONSE_CACHE === 'off' || model.id.startsWith('sim:') ? model : withResponseCache(model, cache, sample));
}

/** Runs a rollout job on the calling thread. */
export async function runRolloutJob(store: ArtifactStore, job: RolloutJob, onProgress?: OnProgress): Promise<RolloutJobResult> {
  const traces = job.writeTraces ? store.arrayWriter() : null;
  const result = await rolloutTasks({
    wrapModel: responseCachingFor(store),
    benchmark: getBenchmark(job.benchmark),
    config: store.getHarness(job.harnessId),
    harnessId: job.harnessId,
    taskIds: job.taskIds,
    k: job.k,
    seed: job.seed,
    recordPolicy: job.recordPolicy,
    keepTraces: false,
    ...(traces ? { onTrace: (trace: EpisodeTrace) => traces.add(trace) } : {}),
    onEpisode: onProgress,
  });
  return { outcomes: result.outcomes, episodes: result.episodes, usage: result.usage, ...(traces ? { tracesRef: await traces.finish() } : {}) };
}

/**
 * The latency section of `npm run bench`: episodes against a local OpenAI-compatible endpoint with a fixed
 * latency L per call and a cap of C calls in flight (429 + retry-after above it), in-process for now.
 * Each case reports episodes per minute, calls in flight (peak and time-weighted mean, seen by the server),
 * 429s, and the ratio to the endpoint's limit: (calls × L / C) / wall time, the share of the time the same
 * calls would take with C always full. A runner is one function (EpisodeRunner): a Temporal runner
 * (evaluateHarness with the limits in its input) is added beside inProcessRunner without touching the rest.
 */
import { rolloutTasks, TaskOutcome } from '../aegis/rollout';
import type { Benchmark } from '../benchmarks/types';
import type { HarnessConfig } from '../harness/config';
import { EndpointLimiters, seededRandom, withEndpointLimit } from '../models/endpoint-limiter';
import { LatencyServer, SimOverWireModel, startLatencyServer } from './latency-server';

export interface LatencyCase {
  latencyMs: number;
  /** The endpoint's cap (429 above it). */
  capacity: number;
  /** The limit configured for the endpoint (maxInFlight); above the cap it exercises AIMD. */
  limit: number;
  /** Episodes at once in the rollout (default: the limit, as rolloutTasks does). */
  concurrency?: number;
  tasks: number;
  k: number;
  note: string;
}

export interface RunnerInput {
  server: LatencyServer;
  benchmark: Benchmark;
  config: HarnessConfig;
  harnessId: string;
  simModel: string;
  taskIds: string[];
  k: number;
  seed: string;
  limit: number;
  concurrency?: number;
}

/** Runs the episodes of one case against the server; returns what the rollout returned. */
export interface EpisodeRunner {
  name: string;
  run(input: RunnerInput): Promise<{ outcomes: TaskOutcome[]; episodes: number; rateLimitedSeenByClient: number }>;
}

/**
 * rolloutTasks in this process, every call through a limiter set to the case's limit: the same
 * composition rolloutTasks applies (limiter under the episode's model), with the simulator over the wire.
 */
export const inProcessRunner: EpisodeRunner = {
  name: 'in-process',
  async run(input) {
    const limiters = new EndpointLimiters({ env: { 'openai-compatible': { maxInFlight: input.limit } } });
    const modelString = `openai-compatible:${input.simModel}@${input.server.url}`;
    const limiter = limiters.limiterFor(modelString);
    const result = await rolloutTasks({
      benchmark: input.benchmark,
      config: { ...input.config, model: { main: { model: modelString } } },
      harnessId: input.harnessId,
      taskIds: input.taskIds,
      k: input.k,
      seed: input.seed,
      keepTraces: false,
      concurrency: input.concurrency ?? input.limit,
      limiters: null,
      wrapModel: (_created, sample) => withEndpointLimit(new SimOverWireModel(input.simModel, input.server.url, sample), limiter, { random: seededRandom(sample) }),
    });
    return { outcomes: result.outcomes, episodes: result.episodes, rateLimitedSeenByClient: limiter.stats.rateLimited };
  },
};

export const DEFAULT_LATENCY_CASES: LatencyCase[] = [
  { latencyMs: 200, capacity: 64, limit: 64, concurrency: 1, tasks: 3, k: 2, note: 'one episode at a time (before)' },
  { latencyMs: 200, capacity: 8, limit: 8, tasks: 16, k: 2, note: 'limit = cap' },
  { latencyMs: 200, capacity: 64, limit: 64, tasks: 64, k: 2, note: 'limit = cap' },
  { latencyMs: 200, capacity: 64, limit: 128, tasks: 64, k: 2, note: 'limit set 2× the cap: AIMD' },
  { latencyMs: 1000, capacity: 64, limit: 64, tasks: 64, k: 2, note: 'limit = cap' },
];

export interface LatencyRow {
  runner: string;
  latencyMs: number;
  capacity: number;
  limit: number;
  concurrency: number;
  note: string;
  episodes: number;
  calls: number;
  seconds: number;
  episodesPerMinute: number;
  peakInFlight: number;
  meanInFlight: number;
  rejected429: number;
  ratioToEndpointLimit: number;
  /** Outcomes equal the in-process simulator's for the same seed (no latency, no limiter). */
  sameAsSimulator: boolean;
}

export async function latencyBench(options: { benchmark: Benchmark; config: HarnessConfig; harnessId: string; taskIds: string[]; simModel: string; runners?: EpisodeRunner[]; cases?: LatencyCase[] }): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const c of options.cases ?? DEFAULT_LATENCY_CASES) {
    const server = await startLatencyServer({ latencyMs: c.latencyMs, capacity: c.capacity });
    try {
      const taskIds = options.taskIds.slice(0, c.tasks);
      const seed = `latency-${c.latencyMs}-${c.capacity}`;
      const reference = await rolloutTasks({ benchmark: options.benchmark, config: { ...options.config, model: { main: { model: options.simModel } } }, harnessId: options.harnessId, taskIds, k: c.k, seed, keepTraces: false, limiters: null });
      for (const runner of options.runners ?? [inProcessRunner]) {
        server.reset();
        const t0 = performance.now();
        const result = await runner.run({ server, benchmark: options.benchmark, config: options.config, harnessId: options.harnessId, simModel: options.simModel, taskIds, k: c.k, seed, limit: c.limit, concurrency: c.concurrency });
        const ms = performance.now() - t0;
        const calls = server.stats.answered;
        rows.push({
          runner: runner.name,
          latencyMs: c.latencyMs,
          capacity: c.capacity,
          limit: c.limit,
          concurrency: c.concurrency ?? c.limit,
          note: c.note,
          episodes: result.episodes,
          calls,
          seconds: ms / 1000,
          episodesPerMinute: (result.episodes / ms) * 60_000,
          peakInFlight: server.stats.peakInFlight,
          meanInFlight: server.meanInFlight(),
          rejected429: server.stats.rejected,
          ratioToEndpointLimit: (calls * c.latencyMs) / c.capacity / ms,
          sameAsSimulator: JSON.stringify(result.outcomes) === JSON.stringify(reference.outcomes),
        });
      }
    } finally {
      await server.close();
    }
  }
  return rows;
}

/**
 * The latency section of `npm run bench`: episodes against a local OpenAI-compatible endpoint with a fixed
 * latency L per call and a cap of C calls in flight (429 + retry-after above it), in-process for now.
 * Each case reports episodes per minute, calls in flight (peak and time-weighted mean, seen by the server),
 * 429s, and the ratio to the endpoint's limit: (calls × L / C) / wall time, the share of the time the same
 * calls would take with C always full. A runner is one function (EpisodeRunner): a Temporal runner
 * (evaluateHarness with the limits in its input) is added beside inProcessRunner without touching the rest.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rolloutTasks, TaskOutcome } from '../aegis/rollout';
import { sequentialFirstChunk } from '../aegis/sequential-gate';
import { ArtifactStore } from '../store/artifact-store';
import { createAegisWorker } from '../workers/aegis-worker';
import type { EvaluateResult } from '../workflows/evaluate-harness';
import type { RunSummary } from '../workflows/evolve-harness';
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
  /** No limit configured: `limit` is the default the runners fall back on, and the cap is learned from the 429s. */
  unset?: boolean;
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
  unset?: boolean;
}

/** Runs the episodes of one case against the server; returns what the rollout returned. */
export interface EpisodeRunner {
  name: string;
  /** The cases this runner measures (all by default). */
  only?: (c: LatencyCase) => boolean;
  /** Extra columns for the row (an AEGIS run's wall time per round). */
  detail?: () => string;
  /** The share of the endpoint's work no stage used (an AEGIS run's dropped early work, by tokens). */
  discardedShare?: () => number;
  run(input: RunnerInput): Promise<{ outcomes: TaskOutcome[]; episodes: number; rateLimitedSeenByClient: number }>;
}

/**
 * rolloutTasks in this process, every call through a limiter set to the case's limit: the same
 * composition rolloutTasks applies (limiter under the episode's model), with the simulator over the wire.
 */
export const inProcessRunner: EpisodeRunner = {
  name: 'in-process',
  async run(input) {
    const limiters = new EndpointLimiters(input.unset ? {} : { env: { 'openai-compatible': { maxInFlight: input.limit } } });
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

/**
 * Runners through Temporal: a dev server, one in-process worker whose rollouts send the simulator over the
 * wire to the case's server (the worker's test/bench-only model substitute), the limit in the run input.
 * `evaluateHarness` runs the case's episodes; `one AEGIS round` runs evolveHarness for one round with the
 * case's tasks as its batch (rollout, digest, plan, evolve, critique, gate, then the final evaluation on a
 * small train sample): its episodes are counted at the server, its outcomes are not the rollout's.
 */
export async function temporalRunners(env: TestWorkflowEnvironment, workflowBundle: { code: string }): Promise<{ runners: EpisodeRunner[]; close: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hx-bench-latency-'));
  const store = new ArtifactStore(dataDir);
  let url = '';
  let metaDelayMs = 0;
  const taskQueue = 'bench-latency';
  const META_STAGES = ['digest', 'plan', 'evolve', 'critique'] as const;
  const worker = await createAegisWorker({
    connection: env.nativeConnection,
    taskQueue,
    dataDir,
    workflowBundle,
    substituteRolloutModel: (model, sample) => (model.id.startsWith('sim:') ? new SimOverWireModel(model.id, url, sample) : model),
    // A meta-agent that thinks: each stage call takes metaDelayMs before the rules agent answers.
    wrapActivities: (activities) => {
      const wrapped = { ...activities };
      for (const stage of META_STAGES) {
        const real = activities[stage] as (input: never) => Promise<unknown>;
        (wrapped as Record<string, unknown>)[stage] = async (input: never) => {
          if (metaDelayMs) await new Promise((r) => setTimeout(r, metaDelayMs));
          return real(input);
        };
      }
      return wrapped;
    },
  });
  const running = worker.run();
  // Response caching would write every call to the store: the bench measures the endpoint, not the cache.
  const cacheSetting = process.env.HARNESSX_RESPONSE_CACHE;
  process.env.HARNESSX_RESPONSE_CACHE = 'off';
  let n = 0;
  const limits = (input: RunnerInput) => (input.unset ? {} : { endpointLimits: { 'openai-compatible': { maxInFlight: input.limit } } });
  const evaluate: EpisodeRunner = {
    name: 'Temporal evaluateHarness',
    async run(input) {
      url = input.server.url;
      const harnessId = await store.putHarness(input.config);
      // Chunks of 8 tasks: several activities share the worker's one limiter per endpoint, so the limit, not the layout, bounds throughput.
      const result = (await env.client.workflow.execute('evaluateHarness', {
        taskQueue,
        workflowId: `bench-latency-eval-${n++}-${Date.now()}`,
        args: [{ benchmark: input.benchmark.name, harnessId, taskIds: input.taskIds, k: input.k, seed: input.seed, chunkSize: 8, ...limits(input) }],
      })) as EvaluateResult;
      const outcomes = (await Promise.all(result.outcomesRefs.map((ref) => store.get<TaskOutcome[]>(ref)))).flat();
      return { outcomes, episodes: result.episodes, rateLimitedSeenByClient: NaN };
    },
  };
  /**
   * evolveHarness on the case's tasks as its batch. The run's model is the simulator (sent over the wire by
   * the substitute), so what a self-hosted endpoint of this limit gets is set in the input: the gate's first
   * chunk (sequentialFirstChunk) and, with overlap 'on', what 'auto' overlaps there (aegis/overlap.ts).
   * `metaDelayMs` makes every meta-agent call take that long, as a real LLM meta-agent does.
   */
  const aegisRunner = (o: { name: string; rounds: number; overlap: 'on' | 'off'; metaDelayMs?: number; only?: (c: LatencyCase) => boolean }): EpisodeRunner => {
    let last: RunSummary | null = null;
    let ms = 0;
    return {
      name: o.name,
      ...(o.only ? { only: o.only } : {}),
      // The ratio counts every call the endpoint answered, including early work no stage used; the useful
      // ratio leaves that share out (by tokens, which the summary reports apart as overlapDiscardedTokens).
      discardedShare: () => (last?.overlapDiscardedTokens ?? 0) / Math.max(1, (last?.tokens ?? 0) + (last?.measurementTokens ?? 0) + (last?.overlapDiscardedTokens ?? 0)),
      detail: () => `${o.rounds} round(s): ${(ms / 1000 / o.rounds).toFixed(1)} s per round, ${last?.shipped ?? 0} shipped`,
      async run(input) {
        url = input.server.url;
        metaDelayMs = o.metaDelayMs ?? 0;
        const selfHosted = 'openai-compatible:bench@http://localhost/v1';
        const gateChunk = sequentialFirstChunk({ limits: [{ model: selfHosted, limit: { maxInFlight: input.limit }, source: 'bench' }], model: selfHosted, episodesPerTask: input.k });
        const t0 = performance.now();
        last = (await env.client.workflow.execute('evolveHarness', {
          taskQueue,
          workflowId: `bench-latency-aegis-${n++}-${Date.now()}`,
          args: [{ benchmark: input.benchmark.name, model: 'sim:small', rounds: o.rounds, patience: o.rounds, batchSize: Math.floor(input.taskIds.length / o.rounds), validationSize: 8, k: input.k, seed: input.seed, evaluateTest: false, trackHeldOut: false, finalTrainTasks: 8, regressionGuard: { every: 0 }, searchAttributes: false, ...selfHostedLimits(input), gateChunk, overlap: o.overlap }],
        })) as RunSummary;
        ms = performance.now() - t0;
        metaDelayMs = 0;
        return { outcomes: [], episodes: input.server.episodesSeen(), rateLimitedSeenByClient: NaN };
      },
    };
  };
  // The run's own model (the simulator, substituted) recorded with the endpoint's limit too, as a self-hosted
  // model's would be: what the run decides from its limit (episodes open, a final evaluation's slack) then
  // matches a user's run against that endpoint.
  const selfHostedLimits = (input: RunnerInput) => (input.unset ? {} : { endpointLimits: { 'openai-compatible': { maxInFlight: input.limit }, sim: { maxInFlight: input.limit } } });
  const at200x64 = (c: LatencyCase) => c.latencyMs === 200 && c.capacity === 64 && c.limit === 64;
  const aegisRounds = [
    aegisRunner({ name: 'Temporal one AEGIS round, stages in turn', rounds: 1, overlap: 'off' }),
    aegisRunner({ name: 'Temporal one AEGIS round, overlapped', rounds: 1, overlap: 'on' }),
    aegisRunner({ name: 'Temporal AEGIS run, meta-agent 2 s/call, stages in turn', rounds: 4, overlap: 'off', metaDelayMs: 2000, only: at200x64 }),
    aegisRunner({ name: 'Temporal AEGIS run, meta-agent 2 s/call, overlapped', rounds: 4, overlap: 'on', metaDelayMs: 2000, only: at200x64 }),
  ];
  return {
    runners: [evaluate, ...aegisRounds],
    async close() {
      worker.shutdown();
      await running;
      if (cacheSetting === undefined) delete process.env.HARNESSX_RESPONSE_CACHE;
      else process.env.HARNESSX_RESPONSE_CACHE = cacheSetting;
    },
  };
}

export const DEFAULT_LATENCY_CASES: LatencyCase[] = [
  { latencyMs: 200, capacity: 64, limit: 64, concurrency: 1, tasks: 3, k: 2, note: 'one episode at a time (before)' },
  { latencyMs: 200, capacity: 8, limit: 8, tasks: 16, k: 2, note: 'limit = cap' },
  { latencyMs: 200, capacity: 64, limit: 64, tasks: 256, k: 2, note: 'limit = cap' },
  { latencyMs: 200, capacity: 64, limit: 128, tasks: 256, k: 2, note: 'limit set 2× the cap: AIMD' },
  { latencyMs: 200, capacity: 8, limit: 32, unset: true, tasks: 64, k: 2, note: 'no limit set (default 32), cap 8: learned' },
  { latencyMs: 1000, capacity: 64, limit: 64, tasks: 128, k: 2, note: 'limit = cap' },
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
  /** Outcomes equal the in-process simulator's for the same seed (no latency, no limiter); null where the runner's episodes are not the rollout's (an AEGIS round). */
  sameAsSimulator: boolean | null;
  detail?: string;
  /** ratioToEndpointLimit without the work no stage used (discardedShare): what the run got from the endpoint. */
  usefulRatio?: number;
}

/** Equal outcomes, field by field (outcomes read back from the store come with their keys sorted). */
function sameOutcomes(a: TaskOutcome[], b: TaskOutcome[]): boolean {
  const fields = (o: TaskOutcome) => [o.taskId, o.passed, o.successes, o.attempts];
  return JSON.stringify(a.map(fields)) === JSON.stringify(b.map(fields));
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
        if (c.concurrency !== undefined && runner !== inProcessRunner) continue;
        if (runner.only && !runner.only(c)) continue;
        server.reset();
        const t0 = performance.now();
        const result = await runner.run({ server, benchmark: options.benchmark, config: options.config, harnessId: options.harnessId, simModel: options.simModel, taskIds, k: c.k, seed, limit: c.limit, concurrency: c.concurrency, unset: c.unset });
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
          sameAsSimulator: result.outcomes.length ? sameOutcomes(result.outcomes, reference.outcomes) : null,
          ...(runner.detail ? { detail: runner.detail() } : {}),
          ...(runner.discardedShare ? { usefulRatio: ((calls * c.latencyMs) / c.capacity / ms) * (1 - runner.discardedShare()) } : {}),
        });
      }
    } finally {
      await server.close();
    }
  }
  return rows;
}

/**
 * `npm run bench`: throughput and overhead measured as ratios against a baseline run in the same process on
 * the same machine. Prints a table and writes bench/results/latest.json. Not a test: nothing here asserts.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { evolvedHarness } from './evolved-harness';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { rolloutTasks } from '../aegis/rollout';
import { getBenchmark } from '../benchmarks/registry';
import { findTemporalCli } from '../cli/temporal-cli';
import type { Model } from '../harness/processor';
import { runEpisode } from '../harness/run-loop';
import { seedHarness } from '../harness/seed';
import type { ModelRequest, ModelResponse } from '../harness/types';
import { ArtifactStore } from '../store/artifact-store';
import { searchAttributeArgs } from '../cli/dev-server';
import { createAegisWorker } from '../workers/aegis-worker';
import { clusterEndpointBench } from './cluster-endpoint-bench';
import { capDiscoveryBench } from './cap-discovery-bench';
import { createActivities } from '../activities';
import { DEFAULT_LATENCY_CASES, inProcessRunner, LatencyCase, latencyBench, LatencyRow, temporalRunners } from './latency-bench';
import { storeBench } from './store-bench';
import { clusterBench, describeClusterBench } from './cluster-bench';
import { liveBench } from './live-bench';

const ROOT = join(__dirname, '..');
const benchmark = getBenchmark('blocksworld');
const allIds = benchmark.tasks().map((t) => t.id);
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cores: require('node:os').cpus().length };
const rows: string[][] = [];
const benchStarted = Date.now();
/** A result row; also said on stderr as it comes, so a 40-minute run shows where it is (the table is printed at the end). */
const row = (...cells: Array<string | number>) => {
  rows.push(cells.map(String));
  process.stderr.write(`bench ${((Date.now() - benchStarted) / 60_000).toFixed(1)} min: ${cells.slice(0, 3).join(' · ')}\n`);
};
const gc = () => (globalThis as { gc?: () => void }).gc?.();
/**
 * HARNESSX_BENCH_ONLY=latency runs only the latency-endpoint section (about eight minutes); =simulator skips it;
 * =ratio runs only the simulator's in-process/Temporal throughput pairs (sections 1–3); =store only the S3
 * store against the local folder (section 0, under a minute); =cluster only one AEGIS round on the
 * production-style server (`harnessx cluster`, PostgreSQL) against the dev server (section 8); =cluster-endpoint
 * only 2 × 2 worker processes sharing one endpoint limit (bench/cluster-endpoint-bench.ts, about two minutes);
 * =aegis-round only the AEGIS rounds of the latency section, stages in turn against overlapped (about six minutes);
 * =live only `deploy bench` (bench/live-bench.ts, five workloads, about five minutes);
 * =cap-discovery only a worker learning an endpoint's cap with no limit configured, and a second run (a new
 * worker process) starting at the cap the coordinator kept (bench/cap-discovery-bench.ts, about three minutes).
 */
const only = process.env.HARNESSX_BENCH_ONLY;


/** A model with no latency and no thinking: what remains of an episode's time is orchestration. */
class ZeroLatencyModel implements Model {
  readonly id = 'zero:bench';
  calls = 0;
  async generate(_request: ModelRequest): Promise<ModelResponse> {
    this.calls++;
    return { text: '', toolCalls: [{ id: `c${this.calls}`, name: 'pick_up', args: { block: 'red' } }], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'tool_use', model: this.id };
  }
}

function peakRssMb(pid: number | undefined): number | null {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

async function timeIt<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T; peakRss: number }> {
  gc();
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  clearInterval(sampler);
  return { ms, value, peakRss: Math.max(peak, process.memoryUsage().rss) };
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  if (only === 'cluster') {
    await clusterSection();
    return finish(ROOT, 'cluster.json');
  }
  if (only === 'cluster-endpoint') {
    await clusterEndpointSection();
    return finish(ROOT, 'cluster-endpoint.json');
  }
  if (only === 'live') {
    await liveSection();
    return finish(ROOT, 'live.json');
  }
  if (only === 'cap-discovery') {
    await capDiscoverySection();
    return finish(ROOT, 'cap-discovery.json');
  }
  // A fresh store each run: cached outcomes from an earlier run would flatter every number.
  const dataDir = mkdtempSync(join(tmpdir(), 'hx-bench-'));
  const store = new ArtifactStore(dataDir);
  const evolved = evolvedHarness();
  const evolvedId = await store.putHarness(evolved);
  const ids240 = allIds.slice(0, 120);
  // The rollout activity's own code, called directly (no Temporal): the like-for-like baseline for traced rollouts.
  // Its own store, so neither side finds the other's trace blobs already written.
  const inProcessStore = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-bench-inproc-')));
  await inProcessStore.putHarness(evolved);
  const inProcessActivities = createActivities({ store: inProcessStore });

  // 0. The S3 store (a real versitygw on loopback) against the local folder on the same traced rollout
  // activity, and on a re-evaluation answered from the outcome cache (ratios S3 / local).
  if (only === undefined || only === 'store') {
    const store = await storeBench({ tasks: 120, k: 2, reps: 5 });
    results.store = store;
    row('S3 store / local folder: traced rollout activity', `${store.tasks} tasks × pass@${store.k}, median of ${store.reps}`, `${store.rolloutMs.ratio.toFixed(2)}×`, `local ${store.rolloutMs.local.toFixed(0)} ms, S3 (versitygw) ${store.rolloutMs.s3.toFixed(0)} ms`);
    row('S3 store / local folder: re-evaluation from the outcome cache', `${store.tasks} tasks`, `${store.cachedEvaluateMs.ratio.toFixed(2)}×`, `local ${store.cachedEvaluateMs.local.toFixed(1)} ms, S3 (versitygw) ${store.cachedEvaluateMs.s3.toFixed(1)} ms`);
    if (only === 'store') return finish(ROOT, 'store.json');
  }

  // 1. Orchestration overhead per model call (zero-latency model), in-process.
  for (const [name, config] of [['seed', seedHarness()], ['evolved (7 processors)', evolved]] as const) {
    const model = new ZeroLatencyModel();
    const t = await timeIt(async () => {
      for (const id of ids240.slice(0, 60)) {
        const env = benchmark.createEnvironment(id, { seed: 'b' });
        await runEpisode({ config: { ...config, hooks: { ...config.hooks, step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 30 } }] } }, harnessId: 'hx-bench', env, model, task: benchmark.task(id), seed: 'b', attempt: 0 });
      }
    });
    const perCall = (t.ms * 1000) / model.calls;
    results[`overheadPerCallUs_${name.split(' ')[0]}`] = perCall;
    row('run-loop overhead per model call', name, `${perCall.toFixed(0)} µs`, `${model.calls} calls`);
  }

  // 1b. Rollouts against a model endpoint with latency and a concurrency cap (429 above it), the simulator
  // answering through a local OpenAI-compatible server: in-process, and through Temporal (evaluateHarness
  // and one AEGIS round on a dev server, the limit in the run input).
  const cli = findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing: npx harnessx install-cli');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli }, extraArgs: searchAttributeArgs() },
  });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') });
  const throughTemporal = await temporalRunners(env, workflowBundle);
  // HARNESSX_BENCH_ONLY=simulator skips this section (the simulator's throughput sections alone, ~3 minutes).
  try {
    if (only === 'aegis-round') {
      // Only the AEGIS rounds, stages in turn against overlapped, on the 200 ms / 64 and 1 s / 64 endpoints.
      const cases = DEFAULT_LATENCY_CASES.filter((c) => c.capacity === 64 && c.limit === 64 && c.concurrency === undefined);
      const latency = await latencyBench({ benchmark, config: evolved, harnessId: evolvedId, taskIds: allIds, simModel: 'sim:small', runners: throughTemporal.runners.filter((r) => r.name.includes('AEGIS')), cases });
      results.aegisRounds = latency;
      for (const r of latency) latencyRow(r);
    } else if (only !== 'simulator' && only !== 'ratio') {
      // Every case through each runner; the AEGIS round with its stages in turn and the 2 s/call meta-agent
      // runs (HARNESSX_BENCH_ONLY=aegis-round's comparison) only on the 200 ms / 64 endpoint, their target's.
      const runners = throughTemporal.runners.map((r) => (r.name.includes('in turn') && !r.only ? { ...r, only: (c: LatencyCase) => c.latencyMs === 200 && c.capacity === 64 && c.limit === 64 } : r));
      const latency = await latencyBench({ benchmark, config: evolved, harnessId: evolvedId, taskIds: allIds, simModel: 'sim:small', runners: [inProcessRunner, ...runners] });
      results.latencyEndpoint = latency;
      for (const r of latency) latencyRow(r);
    }
  } finally {
    await throughTemporal.close();
  }
  if (only === 'latency' || only === 'aegis-round') {
    await env.teardown();
    return finish(ROOT, `${only}.json`);
  }

  // 2–3. Rollout throughput in-process (the baseline) and through Temporal activities (real dev server, one
  // in-process worker), on the same episodes (same seed per pair), interleaved five times per size so JIT
  // warm-up and machine noise hit both sides alike; the ratio reported is the median of the five pairs (single pairs swing by ±0.1 on 2 cores).
  // HARNESSX_BENCH_PAIRS=N interleaves N pairs instead (the same measurement, a steadier median on a busy machine).
  const pairCount = benchPairs(process.env.HARNESSX_BENCH_PAIRS);
  results.pairs = pairCount;
  results.loadAverage = require('node:os').loadavg();
  const sizes = [ids240, allIds];
  try {
    const worker = await createAegisWorker({ connection: env.nativeConnection, taskQueue: 'bench', dataDir, workflowBundle });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const [pairs, run] = await worker.runUntil(async () => {
      // Warm-up, not measured: the first workflow and activities of a worker pay one-off costs (workflow
      // isolate and bundle, connections, module loading) that steady-state throughput does not have. The
      // in-process side is warm already (section 1 ran the same code).
      for (let w = 0; w < 2; w++)
        await env.client.workflow.execute('evaluateHarness', { taskQueue: 'bench', workflowId: `bench-warmup-${w}-${Date.now()}`, args: [{ benchmark: 'blocksworld', harnessId: evolvedId, taskIds: ids240.slice(0, 50), k: 2, seed: `warmup-${w}` }] });
      const out: Array<{ episodes: number; calls: number; traceBytes: number; inProcessMs: number[]; temporalMs: number[]; tracedMs: number[]; inProcessTracedMs: number[] }> = [];
      for (const [i, ids] of sizes.entries()) {
        const entry = { episodes: 0, calls: 0, traceBytes: 0, inProcessMs: [] as number[], temporalMs: [] as number[], tracedMs: [] as number[], inProcessTracedMs: [] as number[] };
        for (let rep = 0; rep < pairCount; rep++) {
          const seed = `bench-${i}-${rep}`;
          if (rep === 0) {
            // Counted once, untimed, on the first repetition's episodes (later ones differ only in seed).
            const { traces } = await rolloutTasks({ benchmark, config: evolved, harnessId: evolvedId, taskIds: ids, k: 2, seed });
            entry.episodes = traces.length;
            entry.traceBytes = JSON.stringify(traces).length;
            entry.calls = traces.reduce((n, x) => n + x.records.filter((r) => r.kind === 'model_call').length, 0);
          }
          // Like the activities, the baseline holds no traces (keeping hundreds alive costs full GCs).
          const a = await timeIt(() => rolloutTasks({ benchmark, config: evolved, harnessId: evolvedId, taskIds: ids, k: 2, seed, keepTraces: false }));
          entry.inProcessMs.push(a.ms);
          const b = await timeIt(() => env.client.workflow.execute('evaluateHarness', { taskQueue: 'bench', workflowId: `bench-eval-${i}-${rep}-${Date.now()}`, args: [{ benchmark: 'blocksworld', harnessId: evolvedId, taskIds: ids, k: 2, seed }] }));
          entry.temporalMs.push(b.ms);
          // The same keeping every trace (what AEGIS's training rollouts do for the Digester), in-process
          // (the rollout activities' own code, called directly) and through Temporal.
          const d = await timeIt(() => inProcessActivities.rollout({ benchmark: 'blocksworld', harnessId: evolvedId, taskIds: ids, k: 2, seed }));
          entry.inProcessTracedMs.push(d.ms);
          const c = await timeIt(() => env.client.workflow.execute('evaluateHarness', { taskQueue: 'bench', workflowId: `bench-traced-${i}-${rep}-${Date.now()}`, args: [{ benchmark: 'blocksworld', harnessId: evolvedId, taskIds: ids, k: 2, seed, keepTraces: true }] }));
          entry.tracedMs.push(c.ms);
        }
        out.push(entry);
      }
      if (only === 'ratio') return [out, null] as const;
      const aegis = await timeIt(() => env.client.workflow.execute('evolveHarness', { taskQueue: 'bench', workflowId: `bench-aegis-${Date.now()}`, args: [{ benchmark: 'blocksworld', rounds: 4, seed: 'bench', evaluateTest: false }] }));
      return [out, aegis] as const;
    });
    results.inProcess = pairs.map((p) => ({ episodes: p.episodes, eps: (p.episodes / median(p.inProcessMs)) * 1000, ms: median(p.inProcessMs), calls: p.calls }));
    results.temporal = pairs.map((p) => {
      const ratios = p.inProcessMs.map((ms, r) => ms / p.temporalMs[r]);
      const ratio = median(ratios);
      const inEps = (p.episodes / median(p.inProcessMs)) * 1000;
      const eps = (p.episodes / median(p.temporalMs)) * 1000;
      row('rollout throughput, in-process', `${p.episodes} episodes`, `${inEps.toFixed(1)} ep/s`, 'baseline 1.00');
      row('rollout throughput, Temporal activities', `${p.episodes} episodes`, `${eps.toFixed(1)} ep/s`, `ratio ${ratio.toFixed(2)} (median of ${ratios.map((x) => x.toFixed(2)).join(', ')}; target ≥ 0.95)`);
      const tracedRatios = p.inProcessMs.map((ms, r) => ms / p.tracedMs[r]);
      const tracedRatio = median(tracedRatios);
      const likeRatios = p.inProcessTracedMs.map((ms, r) => ms / p.tracedMs[r]);
      const likeRatio = median(likeRatios);
      row('  in-process, writing every trace', `${p.episodes} episodes`, `${((p.episodes / median(p.inProcessTracedMs)) * 1000).toFixed(1)} ep/s`, `traces ≈ ${(p.traceBytes / p.episodes / 1024).toFixed(0)} KiB/episode`);
      row('  Temporal, writing every trace (keepTraces)', `${p.episodes} episodes`, `${((p.episodes / median(p.tracedMs)) * 1000).toFixed(1)} ep/s`, `ratio ${likeRatio.toFixed(2)} to in-process writing traces (${likeRatios.map((x) => x.toFixed(2)).join(', ')}); ${tracedRatio.toFixed(2)} to the bare baseline`);
      const perCallMs = (median(p.temporalMs) - median(p.inProcessMs)) / p.calls;
      row('Temporal overhead per model call', `${p.calls} calls`, `${perCallMs.toFixed(3)} ms`, 'amortized over rollout activities');
      return { episodes: p.episodes, eps, ratio, ratios, tracedRatio, tracedRatios, tracedVsInProcessTraced: likeRatio, tracedVsInProcessTracedRatios: likeRatios, overheadPerModelCallMs: perCallMs };
    });

    results.loadAverageAfter = require('node:os').loadavg();
    const load = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
    row('machine load average (1, 5, 15 min)', `${pairCount} pairs per size`, load(results.loadAverageAfter as number[]), `before the pairs: ${load(results.loadAverage as number[])} (${results.cores} cores; other processes slow both sides, unevenly)`);
    // The dev server is torn down below (finally).
    if (!run) return finish(ROOT, 'ratio.json');
    // 4. Wall time per AEGIS round, by stage (from the workflow history).
    const history = await env.client.workflow.getHandle(run.value.workflowId).fetchHistory();
    const byType = new Map<string, number>();
    const scheduled = new Map<string, { type: string; at: number }>();
    const ms = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '?', at: ms(e) });
      const c = e.activityTaskCompletedEventAttributes;
      if (c) {
        const from = scheduled.get(String(c.scheduledEventId));
        if (from) byType.set(from.type, (byType.get(from.type) ?? 0) + ms(e) - from.at);
      }
    }
    const rounds = run.value.rounds;
    const perRound = Object.fromEntries([...byType].map(([k, v]) => [k, v / rounds]));
    results.roundWallMs = { total: run.ms / rounds, byActivity: perRound };
    row('AEGIS round wall time', `${rounds} rounds`, `${(run.ms / rounds).toFixed(0)} ms/round`, Object.entries(perRound).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', '));
    const audit = await store.readAudit(run.value.workflowId);
    const ratios = audit.filter((r) => r.stage === 'digest').map((r) => Number(r.payload.compression));
    results.digestCompression = ratios;
    row('digester compression', 'trace tokens / digest tokens', ratios.map((r) => `${r.toFixed(0)}×`).join(' '), '');

    // 5. Scaling with workers: 1-4 worker processes on one task queue, 349 tasks × 2.
    for (const workers of [1, 2, 3, 4]) {
      const children: ChildProcess[] = [];
      await Promise.all(
        Array.from({ length: workers }, () =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), 'worker'], { env: { ...process.env, TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: dataDir, HARNESSX_TASK_QUEUE: `bench-w${workers}`, HARNESSX_LOG_LEVEL: 'ERROR' }, stdio: ['ignore', 'pipe', 'pipe'] });
            children.push(child);
            child.stdout!.on('data', (d) => String(d).includes('polling') && resolve());
            child.on('exit', (code) => code && reject(new Error(`worker exited ${code}`)));
          }),
        ),
      );
      const t = await timeIt(() => env.client.workflow.execute('evaluateHarness', { taskQueue: `bench-w${workers}`, workflowId: `bench-w${workers}-${Date.now()}`, args: [{ benchmark: 'blocksworld', harnessId: evolvedId, taskIds: allIds, k: 2, seed: `bench-w${workers}`, chunkSize: 15 }] }));
      // Peak resident memory of each worker process (Linux: VmHWM), read before the kill.
      const peaks = children.map((c) => peakRssMb(c.pid));
      for (const c of children) c.kill('SIGKILL');
      const eps = (t.value.episodes / t.ms) * 1000;
      (results.workerScaling ??= [] as unknown[]) && (results.workerScaling as unknown[]).push({ workers, seconds: t.ms / 1000, episodesPerSecond: eps, peakRssMbPerWorker: peaks });
      row('scaling: worker processes', `${workers} worker(s)`, `${(t.ms / 1000).toFixed(1)} s`, `${eps.toFixed(1)} ep/s (${t.value.episodes} episodes; ${results.cores} cores); peak RSS per worker ${peaks.map((m) => (m === null ? '?' : `${m.toFixed(0)} MB`)).join(', ')}`);
    }
  } finally {
    await env.teardown();
  }

  // 6. Scaling with tasks, in-process: time and peak memory.
  for (const n of [50, 100, 200, allIds.length]) {
    const t = await timeIt(() => rolloutTasks({ benchmark, config: evolved, harnessId: evolvedId, taskIds: allIds.slice(0, n), k: 2, seed: `bench-n${n}` }));
    (results.taskScaling ??= [] as unknown[]) && (results.taskScaling as unknown[]).push({ tasks: n, seconds: t.ms / 1000, peakRssMb: t.peakRss / 2 ** 20 });
    row('scaling: tasks (in-process, pass@2)', `${n} tasks`, `${(t.ms / 1000).toFixed(2)} s`, `peak RSS ${(t.peakRss / 2 ** 20).toFixed(0)} MB`);
  }

  // 7. The LLM meta-agent's tokens per round with and without Anthropic prompt caching (a local wire server
  // emulating the provider's cache; tokens ≈ characters / 4). Its own process: it installs its own server.
  const metaTokens = execFileSync(process.execPath, ['--require', 'tsx/cjs', join(ROOT, 'tests', 'helpers', 'meta-token-report.ts'), '12', '3'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((l) => /caching/.test(l));
  results.metaAgentTokensPerRound = metaTokens;
  for (const line of metaTokens) row('meta-agent tokens per round (blocksworld, batch 12)', line.split(':')[0].trim(), '', line.slice(line.indexOf(':') + 1).trim());

  // 8. One AEGIS round on the production-style server against the dev server.
  await clusterSection();

  // 8b. One endpoint limit across 2 × 2 worker processes, and a cap learned with no limit set (#31's targets).
  await clusterEndpointSection();
  await capDiscoverySection();

  // 9. Live evolution: deploy bench three ways.
  await liveSection();

  finish(ROOT, 'latest.json');
}

/** Section 8b: see bench/cluster-endpoint-bench.ts (one limit shared by 2 × 2 worker processes; one host killed). */
async function clusterEndpointSection(): Promise<void> {
  const clusterRows = await clusterEndpointBench();
  results.clusterEndpoint = clusterRows;
  for (const r of clusterRows)
    row(`one endpoint limit, ${r.workers} worker processes (L=${r.latencyMs} ms, limit ${r.limit})`, r.phase, `busy ${r.busy.toFixed(2)}`, `baseline: the endpoint's limit 1.00 (target ≥ 0.85); ${r.calls} calls in ${r.seconds.toFixed(1)} s; in flight peak ${r.peakInFlight} mean ${r.meanInFlight.toFixed(1)}; 429s ${r.rejected429}`);
}

/** Section 8c: see bench/cap-discovery-bench.ts (no limit configured; a second worker process starts at the kept cap). */
async function capDiscoverySection(): Promise<void> {
  const capRows = await capDiscoveryBench();
  results.capDiscovery = capRows;
  for (const r of capRows)
    row(`cap discovery, no limit set (L=${r.latencyMs} ms, cap ${r.capacity})`, `${r.run}: ${r.window}`, `busy ${r.busy.toFixed(2)}`, `baseline: the endpoint's cap 1.00 (target ≥ 0.85 in the first 60 s); ${r.calls} calls in ${r.seconds.toFixed(1)} s; in flight peak ${r.peakInFlight} mean ${r.meanInFlight.toFixed(1)}; 429s ${r.rejected429}; learned cap ${r.learnedCap ?? 'none'}; busy per 10 s ${(r.slices ?? []).map((x) => x.toFixed(2)).join(' ')}`);
}

/** Section 8: see bench/cluster-bench.ts (five interleaved pairs after a warm-up on each server). */
async function clusterSection(): Promise<void> {
  const r = await clusterBench({ pairs: 5 });
  results.clusterRound = r;
  row(...(describeClusterBench(r) as [string, string, string, string]));
}

/**
 * Section 9: a live workload through createAgent against a deployment (bench/live-bench.ts). The reference
 * is the offline AEGIS gain on the same suite and model (README: blocksworld sim:small 14% → 90%+ test).
 */
async function liveSection(): Promise<void> {
  const live = await liveBench();
  results.live = live;
  for (const { variant, summary: s, stuck } of live) {
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
    row(
      `live evolution, deploy bench ${s.runs} runs × ${s.concurrency} (${variant})`,
      `first → last window ${pct(s.firstPassRate)} → ${pct(s.lastPassRate)}`,
      `${s.gainPoints === null ? 'n/a' : `${s.gainPoints >= 0 ? '+' : ''}${s.gainPoints}`} points`,
      `reference: offline AEGIS +70 points or more (target ≥ +30); ${s.rounds} rounds, ${s.promotions} promotions, ${s.rollbacks} rollbacks, ${s.midTaskSwaps} mid-task swaps; product: ${s.productRunsFailed} failed, ${s.productRunsLost} lost, ${s.reportsDropped} dropped${s.badCandidate ? `; injected regression ${s.badCandidate.decision} after ${s.badCandidate.canaryRuns} canary runs` : ''}; ${(s.durationMs / 1000).toFixed(0)} s${stuck ? `; DEPLOYMENT STUCK: ${stuck}` : ''}`,
    );
  }
}

/** #31's targets for the AEGIS rows: one round ≥ 0.9 of a 200 ms / 64 endpoint, ≥ 0.85 with a 2 s/call meta-agent. */
function latencyTarget(r: LatencyRow): string {
  if (!(r.latencyMs === 200 && r.capacity === 64 && r.limit === 64) || !r.runner.includes('AEGIS')) return '';
  return r.runner.includes('meta-agent') ? ' (target ≥ 0.85)' : ' (target ≥ 0.90)';
}

/** HARNESSX_BENCH_PAIRS: how many interleaved in-process/Temporal pairs per size (default 5; odd, so the median is one pair's). */
function benchPairs(text: string | undefined): number {
  if (text === undefined || text === '') return 5;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 99 || n % 2 === 0) throw new Error(`HARNESSX_BENCH_PAIRS must be an odd whole number from 1 to 99 (the median is then one pair's ratio), got "${text}"`);
  return n;
}

function latencyRow(r: LatencyRow): void {
  row(
    `latency endpoint L=${r.latencyMs} ms C=${r.capacity} (${r.runner})`,
    `limit ${r.limit}, ${r.concurrency} episode(s) at once: ${r.note}`,
    `${r.episodesPerMinute.toFixed(0)} ep/min`,
    `${r.episodes} episodes, ${r.calls} calls in ${r.seconds.toFixed(1)} s; in flight peak ${r.peakInFlight} mean ${r.meanInFlight.toFixed(1)}; 429s ${r.rejected429}; ratio to the endpoint's limit ${r.ratioToEndpointLimit.toFixed(2)}${latencyTarget(r)}${r.usefulRatio !== undefined ? `, ${r.usefulRatio.toFixed(2)} without early work no stage used` : ''}; outcomes ${r.sameAsSimulator === null ? 'n/a' : r.sameAsSimulator ? '=' : '≠'} simulator's${r.detail ? `; ${r.detail}` : ''}`,
  );
}

function finish(root: string, file: string): void {
  const width = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  console.log('\n' + rows.map((r) => r.map((c, i) => c.padEnd(width[i])).join('  ')).join('\n'));
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, file), JSON.stringify(results, null, 2) + '\n');
  console.log(`\nwrote ${join(out, file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

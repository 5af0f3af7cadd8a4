/**
 * One endpoint limit across the cluster, measured (HARNESSX_BENCH_ONLY=cluster-endpoint): 2 "hosts" × 2
 * worker processes (each its own `harnessx worker` process whose simulator task models go over the wire,
 * tests/integration/sim-over-wire-worker.ts), none with a limit of its own, against one latency endpoint
 * (bench/latency-server.ts) whose limit is set once, in the run's input. The baseline is the endpoint's own
 * limit: busy = mean calls in flight / limit. Measured over a whole evaluation, then over the 30 s after one
 * host's two processes are SIGKILLed in the middle of another, and over the second half of those 30 s.
 * The hosts here are process pairs on loopback (a bench cannot import the test helpers that make network
 * namespaces); tests/integration/cluster-endpoint-limits.test.ts runs the same in namespaces and asserts the
 * limit is never passed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributeArgs } from '../cli/dev-server';
import { findTemporalCli } from '../cli/temporal-cli';
import { getBenchmark } from '../benchmarks/registry';
import { seedHarness } from '../harness/seed';
import { ArtifactStore } from '../store/artifact-store';
import { type LatencyServer, startLatencyServer } from './latency-server';

const ROOT = join(__dirname, '..');

export interface ClusterEndpointRow {
  phase: string;
  latencyMs: number;
  limit: number;
  workers: number;
  seconds: number;
  calls: number;
  peakInFlight: number;
  meanInFlight: number;
  rejected429: number;
  /** Mean calls in flight over the endpoint's limit (the baseline, 1.0). */
  busy: number;
}

function startWorker(env: Record<string, string>, children: ChildProcess[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', join(ROOT, 'tests/integration/sim-over-wire-worker.ts')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output = (output + d.toString()).slice(-5000);
      if (output.includes('AEGIS worker polling')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`bench worker exited ${code}:\n${output}`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `coordinated`: the limit in the run input, divided by the coordinator. Otherwise the baseline of today's
 * README advice: each process given a quarter of the limit by hand (HARNESSX_ENDPOINT_LIMITS, coordination off).
 */
async function scenario(env: TestWorkflowEnvironment, server: LatencyServer, coordinated: boolean, options: { latencyMs: number; limit: number; tasks: number; k: number }): Promise<ClusterEndpointRow[]> {
  const { latencyMs, limit } = options;
  const label = coordinated ? 'one limit, coordinated' : `by hand: ${limit / 4} per process`;
  const children: ChildProcess[] = [];
  const rows: ClusterEndpointRow[] = [];
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'hx-bench-cluster-endpoint-'));
    const harnessId = await new ArtifactStore(dataDir).putHarness(seedHarness('sim:small'));
    const queue = `bench-cluster-endpoint-${coordinated ? 'coordinated' : 'by-hand'}`;
    const perProcess: Record<string, string> = coordinated ? {} : { HARNESSX_ENDPOINT_COORDINATION: 'off', HARNESSX_ENDPOINT_LIMITS: `openai-compatible=${limit / 4}` };
    const workerEnv = { TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: dataDir, HARNESSX_TASK_QUEUE: queue, HX_TEST_SIM_WIRE_URL: server.url, HARNESSX_RESPONSE_CACHE: 'off', HARNESSX_LOG_LEVEL: 'ERROR', HARNESSX_MAX_ACTIVITIES: '8', ...perProcess };
    const hostA = [await startWorker(workerEnv, children), await startWorker(workerEnv, children)];
    for (let i = 0; i < 2; i++) await startWorker(workerEnv, children);
    const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, options.tasks).map((t) => t.id);
    let n = 0;
    // The run input wins over a process's own limit, so the by-hand baseline sets none in its input.
    const limits = coordinated ? { endpointLimits: { 'openai-compatible': { maxInFlight: limit } } } : {};
    const evaluate = (k: number) => env.client.workflow.start('evaluateHarness', { taskQueue: queue, workflowId: `${queue}-${n++}-${Date.now()}`, args: [{ benchmark: 'blocksworld', harnessId, taskIds, k, seed: `${queue}-${n}`, chunkSize: 8, ...limits }] });
    const measure = (phase: string, since: number, workers: number): ClusterEndpointRow => {
      const seconds = (performance.now() - since) / 1000;
      const mean = server.meanInFlight();
      return { phase: `${label}, ${phase}`, latencyMs, limit, workers, seconds, calls: server.stats.answered, peakInFlight: server.stats.peakInFlight, meanInFlight: mean, rejected429: server.stats.rejected, busy: mean / limit };
    };

    // Warm-up (not measured): workers register with the coordinator, load modules, open connections.
    await (await evaluate(1)).result();
    server.reset();
    let t0 = performance.now();
    await (await evaluate(options.k)).result();
    rows.push(measure('one evaluation', t0, 4));

    // A host dies mid-run: measured over the 15 s after the kill, and the 15 s after those.
    const second = await evaluate(options.k * 4);
    await sleep(10_000);
    for (const child of hostA) child.kill('SIGKILL');
    server.reset();
    t0 = performance.now();
    await sleep(15_000);
    const firstHalf = measure('0–15 s after a host is killed', t0, 2);
    server.reset();
    t0 = performance.now();
    await sleep(15_000);
    rows.push(firstHalf, measure('15–30 s after a host is killed', t0, 2));
    // What is left of the run would only take time: its measurement is done.
    await second.terminate('bench: measured');
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  return rows;
}

/** Both scenarios against the same endpoint in one run: the by-hand division first, then the coordinated limit. */
export async function clusterEndpointBench(options: { latencyMs?: number; limit?: number; tasks?: number; k?: number } = {}): Promise<ClusterEndpointRow[]> {
  const settings = { latencyMs: options.latencyMs ?? 1000, limit: options.limit ?? 64, tasks: options.tasks ?? 128, k: options.k ?? 2 };
  const cli = process.env.HARNESSX_TEMPORAL_CLI ?? findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing (npx harnessx install-cli)');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli }, extraArgs: searchAttributeArgs() } });
  const server = await startLatencyServer({ latencyMs: settings.latencyMs, capacity: settings.limit });
  try {
    return [...(await scenario(env, server, false, settings)), ...(await scenario(env, server, true, settings))];
  } finally {
    await server.close();
    await env.teardown();
  }
}

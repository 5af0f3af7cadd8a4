/**
 * Fast cap discovery, measured (HARNESSX_BENCH_ONLY=cap-discovery): one `harnessx worker` process (its
 * simulator task models go over the wire, tests/integration/sim-over-wire-worker.ts) against the latency
 * endpoint (bench/latency-server.ts) that refuses (429 + retry-after) any call above C in flight, with NO
 * limit configured anywhere: the worker starts from the default for a local server (32) and has to learn C.
 * Baseline: the endpoint's own limit C (busy = mean calls in flight seen by the server / C).
 *
 * Run 1 starts on a fresh dev server (no coordinator, nothing learned): busy over its first 60 s and over
 * the whole run, 429s in each. Then that worker process is killed and a new one started, so nothing learned
 * survives in any process; run 2 (same size, another seed) can start at the cap only if the coordinator
 * workflow kept it. The coordinator's learned cap is read (query endpointShares) after each run.
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
import type { EndpointShareState } from '../models/endpoint-shares';
import { ArtifactStore } from '../store/artifact-store';
import { endpointCoordinatorId, endpointSharesQuery } from '../workflows/endpoint-coordinator';
import { startLatencyServer } from './latency-server';

const ROOT = join(__dirname, '..');
const SLICE_MS = 10_000;

export interface CapDiscoveryRow {
  run: string;
  window: string;
  latencyMs: number;
  /** The endpoint's cap (the baseline). */
  capacity: number;
  seconds: number;
  calls: number;
  peakInFlight: number;
  meanInFlight: number;
  rejected429: number;
  /** Mean calls in flight / the endpoint's cap. */
  busy: number;
  /** The cap the coordinator had learned when the window ended (undefined: nothing learned yet). */
  learnedCap?: number;
  /** Busy share in each 10 s of the window (where the time went). */
  slices?: number[];
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
    child.on('exit', (code, signal) => reject(new Error(`bench worker exited ${code ?? signal}:\n${output}`)));
  });
}

export async function capDiscoveryBench(options: { latencyMs?: number; capacity?: number; tasks?: number; windowMs?: number } = {}): Promise<CapDiscoveryRow[]> {
  const latencyMs = options.latencyMs ?? 200;
  const capacity = options.capacity ?? 8;
  const windowMs = options.windowMs ?? 60_000;
  const cli = process.env.HARNESSX_TEMPORAL_CLI ?? findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing (npx harnessx install-cli)');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli }, extraArgs: searchAttributeArgs() } });
  const server = await startLatencyServer({ latencyMs, capacity });
  const children: ChildProcess[] = [];
  const rows: CapDiscoveryRow[] = [];
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'hx-bench-cap-discovery-'));
    const harnessId = await new ArtifactStore(dataDir).putHarness(seedHarness('sim:small'));
    const queue = 'bench-cap-discovery';
    // No HARNESSX_ENDPOINT_LIMITS and no endpointLimits in the run input: nothing tells the worker the cap.
    const workerEnv: Record<string, string> = { TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: dataDir, HARNESSX_TASK_QUEUE: queue, HX_TEST_SIM_WIRE_URL: server.url, HARNESSX_RESPONSE_CACHE: 'off', HARNESSX_LOG_LEVEL: 'ERROR' };
    delete process.env.HARNESSX_ENDPOINT_LIMITS;
    const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, options.tasks ?? 120).map((t) => t.id);
    const learnedCap = async (): Promise<number | undefined> => {
      try {
        const shares = await env.client.workflow.getHandle(endpointCoordinatorId(queue)).query(endpointSharesQuery);
        const state = Object.values(shares)[0] as EndpointShareState | undefined;
        return state?.learned.maxInFlight;
      } catch {
        return undefined;
      }
    };
    const measure = async (run: string, window: string, since: number): Promise<CapDiscoveryRow> => {
      const seconds = (performance.now() - since) / 1000;
      const mean = server.meanInFlight();
      const learned = await learnedCap();
      return { run, window, latencyMs, capacity, seconds, calls: server.stats.answered, peakInFlight: server.stats.peakInFlight, meanInFlight: mean, rejected429: server.stats.rejected, busy: mean / capacity, ...(learned !== undefined ? { learnedCap: learned } : {}) };
    };

    const runOnce = async (run: string, seed: string): Promise<void> => {
      server.reset();
      const t0 = performance.now();
      const slices: number[] = [];
      let integralAt = 0;
      const sampler = setInterval(() => {
        server.meanInFlight(); // brings the integral up to now
        slices.push((server.stats.inFlightIntegral - integralAt) / SLICE_MS / capacity);
        integralAt = server.stats.inFlightIntegral;
      }, SLICE_MS);
      const handle = await env.client.workflow.start('evaluateHarness', { taskQueue: queue, workflowId: `bench-cap-discovery-${seed}-${Date.now()}`, args: [{ benchmark: 'blocksworld', harnessId, taskIds, k: 2, seed, chunkSize: 8 }] });
      const done = handle.result().then(() => true);
      const first = await Promise.race([done, new Promise<false>((resolve) => setTimeout(() => resolve(false), windowMs))]);
      // Counters are cumulative since the reset: read at 60 s they are the first 60 s, read at the end the whole run.
      if (!first) rows.push({ ...(await measure(run, `first ${windowMs / 1000} s`, t0)), slices: slices.slice(0, Math.round(windowMs / SLICE_MS)) });
      await done;
      clearInterval(sampler);
      rows.push({ ...(await measure(run, first ? 'whole run (under the window)' : 'whole run', t0)), slices });
    };

    let worker = await startWorker(workerEnv, children);
    await runOnce('run 1: nothing learned yet (fresh coordinator)', 'cap-1');
    // Nothing learned may survive in a worker process: a new one takes over.
    worker.kill('SIGKILL');
    worker = await startWorker(workerEnv, children);
    await runOnce('run 2: a new worker process, the coordinator’s learned cap', 'cap-2');
    worker.kill('SIGKILL');
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await server.close();
    await env.teardown();
  }
  return rows;
}

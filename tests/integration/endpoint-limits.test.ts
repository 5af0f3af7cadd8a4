import type { ChildProcess } from 'node:child_process';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startLatencyServer } from '../../bench/latency-server';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
import type { EvaluateResult } from '../../workflows/evaluate-harness';
import { startDevServer, tempDataDir } from './temporal-env';
import { kill, killAll, spawnWorker } from './worker-process';

jest.setTimeout(300_000);

/**
 * Endpoint limiters are per worker process. Two workers, each given half the endpoint's limit in
 * HARNESSX_ENDPOINT_LIMITS, share one evaluation: the server never sees more calls in flight than the limit.
 */
let env: TestWorkflowEnvironment;
const children: ChildProcess[] = [];
beforeAll(async () => {
  env = await startDevServer();
});
afterAll(async () => {
  killAll(children);
  await env?.teardown();
});

it('two workers with a per-worker share of the limit keep the endpoint at or under the limit', async () => {
  const limit = 6;
  // The server would take far more: only the workers' limiters hold the calls in flight down.
  const server = await startLatencyServer({ latencyMs: 100, capacity: 1000 });
  try {
    const dataDir = tempDataDir();
    const harnessId = await new ArtifactStore(dataDir).putHarness(seedHarness('sim:small'));
    const queue = 'it-two-workers-limit';
    const workerEnv = { HARNESSX_TASK_QUEUE: queue, HARNESSX_RESPONSE_CACHE: 'off', HARNESSX_ENDPOINT_LIMITS: `openai-compatible=${limit / 2}`, HARNESSX_MAX_ACTIVITIES: '2' };
    const workers = await Promise.all([1, 2].map(() => spawnWorker({ address: env.address, dataDir, env: workerEnv, simOverWire: server.url }, children)));
    const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, 24).map((t) => t.id);
    const handle = await env.client.workflow.start('evaluateHarness', { taskQueue: queue, workflowId: queue, args: [{ benchmark: 'blocksworld', harnessId, taskIds, k: 2, seed: 'it-two-workers', chunkSize: 3 }] });
    const result = (await handle.result()) as EvaluateResult;
    expect(result.episodes).toBe(48);
    expect(server.stats.rejected).toBe(0);
    expect(server.stats.peakInFlight).toBeLessThanOrEqual(limit);
    // Both workers ran rollout activities (so both limiters were in use).
    const identities = new Set(((await handle.fetchHistory()).events ?? []).map((e) => e.activityTaskStartedEventAttributes?.identity).filter((x): x is string => !!x));
    expect(identities.size).toBe(2);
    for (const w of workers) await kill(w);
  } finally {
    await server.close();
  }
});

it('a worker refuses to start with a bad HARNESSX_ENDPOINT_LIMITS, naming the variable', async () => {
  let output = '';
  const started = spawnWorker({ address: env.address, dataDir: tempDataDir(), env: { HARNESSX_ENDPOINT_LIMITS: 'openai-compatible=0' }, onOutput: (t) => (output += t) }, children);
  await expect(started).rejects.toThrow(/worker exited 2/);
  expect(output).toMatch(/HARNESSX_ENDPOINT_LIMITS: "openai-compatible=0": maxInFlight must be a whole number ≥ 1/);
});

import type { ChildProcess } from 'node:child_process';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { type LatencyServer, startLatencyServer } from '../../bench/latency-server';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import type { EndpointShareState } from '../../models/endpoint-shares';
import { ArtifactStore } from '../../store/artifact-store';
import { endpointCoordinatorId, endpointSharesQuery } from '../../workflows/endpoint-coordinator';
import type { EvaluateResult } from '../../workflows/evaluate-harness';
import { createTestNetwork, leftovers, type TestNetwork } from '../helpers/netns';
import { startDevServer, tempDataDir, waitFor } from './temporal-env';
import { killAll, spawnWorker } from './worker-process';

jest.setTimeout(600_000);

/**
 * One endpoint limit for the whole cluster (workflows/endpoint-coordinator.ts): 2 hosts (network
 * namespaces, tests/helpers/netns.ts) × 2 worker processes, none with a limit of its own, share an endpoint
 * whose limit is set once, in the run's input. The endpoint (bench/latency-server.ts) refuses any call above
 * the limit and counts the calls in flight: it never sees more than the limit, while the coordinator is
 * terminated and started again, and while one host is killed. How busy the endpoint stays is the bench's
 * to measure (HARNESSX_BENCH_ONLY=cluster-endpoint), not asserted here.
 */
const LIMIT = 8;
const queue = 'it-cluster-endpoint';

let network: TestNetwork;
let env: TestWorkflowEnvironment;
let server: LatencyServer;
/** The dev server as the hosts reach it: the bridge address (it listens on every address of the root namespace). */
let address: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  network = createTestNetwork(2);
  env = await startDevServer([], { ip: '0.0.0.0' });
  address = `${network.hostAddress}:${env.address.split(':').pop()}`;
  // Capacity equal to the limit: one call above it would be refused (counted in stats.rejected).
  server = await startLatencyServer({ latencyMs: 100, capacity: LIMIT, host: network.hostAddress });
});

afterAll(async () => {
  killAll(children);
  for (const host of network?.hosts ?? []) await host.killAll().catch(() => undefined);
  await server?.close();
  await env?.teardown();
  network?.teardown();
  expect(leftovers()).toEqual([]);
});

function workersOf(state: EndpointShareState | undefined): string[] {
  return Object.keys(state?.workers ?? {}).sort();
}

it('2 hosts × 2 workers never send the endpoint more than its one limit: through a coordinator restart and a host killed', async () => {
  const dataDir = tempDataDir();
  const harnessId = await new ArtifactStore(dataDir).putHarness(seedHarness('sim:small'));
  const workerEnv = { HARNESSX_TASK_QUEUE: queue, HARNESSX_RESPONSE_CACHE: 'off', HARNESSX_MAX_ACTIVITIES: '4' };
  const [hostA, hostB] = network.hosts;
  for (const host of [hostA, hostA, hostB, hostB]) await spawnWorker({ address, dataDir, env: workerEnv, simOverWire: server.url, spawn: host.spawn }, children);
  const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, 48).map((t) => t.id);
  const evaluate = (workflowId: string) =>
    env.client.workflow.start('evaluateHarness', { taskQueue: queue, workflowId, args: [{ benchmark: 'blocksworld', harnessId, taskIds, k: 2, seed: 'it-cluster-endpoint', chunkSize: 4, endpointLimits: { 'openai-compatible': { maxInFlight: LIMIT } } }] });
  const coordinator = () => env.client.workflow.getHandle(endpointCoordinatorId(queue));
  const sharesOf = async () => Object.values(await coordinator().query(endpointSharesQuery))[0];

  // All four workers take part: each registered with the coordinator and ran rollouts.
  const first = await evaluate(`${queue}-1`);
  const four = await waitFor(sharesOf, (s) => workersOf(s).length === 4, 120_000, 'four workers registered with the coordinator');
  expect(four.limit.maxInFlight).toBe(LIMIT);
  // The coordinator is lost mid-run; the next renewal starts a new one, which counts what each worker holds.
  await coordinator().terminate('test: coordinator restart');
  await waitFor(sharesOf, (s) => workersOf(s).length >= 3, 60_000, 'workers registered with the new coordinator');
  const result = (await first.result()) as EvaluateResult;
  expect(result.episodes).toBe(96);
  const identities = new Set(((await first.fetchHistory()).events ?? []).map((e) => e.activityTaskStartedEventAttributes?.identity).filter((x): x is string => !!x));
  expect(identities.size).toBeGreaterThanOrEqual(3);
  expect(server.stats.rejected).toBe(0);
  expect(server.stats.peakInFlight).toBeLessThanOrEqual(LIMIT);
  // The endpoint was driven to its limit, not kept far under it.
  expect(server.stats.peakInFlight).toBe(LIMIT);

  // Host A dies mid-run: its shares go to host B's workers after their lease; the run completes on B.
  const second = await evaluate(`${queue}-2`);
  const answeredBefore = server.stats.answered;
  await waitFor(async () => server.stats.answered, (n) => n > answeredBefore + 40, 120_000, 'the second run under way');
  await hostA.killAll();
  const survivors = await waitFor(sharesOf, (s) => workersOf(s).length === 2, 120_000, "host A's workers dropped by the coordinator");
  expect(workersOf(survivors).every((id) => Object.keys(survivors.workers).includes(id))).toBe(true);
  expect(((await second.result()) as EvaluateResult).episodes).toBe(96);
  expect(server.stats.rejected).toBe(0);
  expect(server.stats.peakInFlight).toBeLessThanOrEqual(LIMIT);
  for (const host of network.hosts) await host.killAll();
});

import type { ChildProcess } from 'node:child_process';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, startWorker, tempDataDir, waitFor } from './temporal-env';
import { kill, killAll, spawnWorker } from './worker-process';

jest.setTimeout(300_000);

/**
 * Worker crashes at three points of a round. Fault injection (HARNESSX_FAULT_DELAY) holds one stage open
 * long enough to SIGKILL the worker inside it; the restarted worker must finish the run with no lost or
 * duplicated ship and the same final harness as an uninterrupted run.
 */
let env: TestWorkflowEnvironment;
const children: ChildProcess[] = [];
const input = { benchmark: 'blocksworld', rounds: 3, patience: 3, batchSize: 16, validationSize: 8, seed: 'it-durable', evaluateTest: false };
let reference: RunSummary;

beforeAll(async () => {
  env = await startDevServer();
  // The uninterrupted reference run, on an in-process worker and its own task queue and store.
  const worker: Worker = await startWorker(env, tempDataDir(), 'it-reference');
  reference = await worker.runUntil(env.client.workflow.execute('evolveHarness', { taskQueue: 'it-reference', workflowId: 'it-reference', args: [input] }));
});
afterEach(() => killAll(children));
afterAll(async () => {
  killAll(children);
  await env?.teardown();
});

it.each([
  ['during rollouts', 'rollout'],
  ['during a meta-agent stage', 'evolve'],
  ['just before a ship', 'ship'],
])('a worker SIGKILLed %s is replaced and the run completes exactly once', async (_label, stage) => {
  const dataDir = tempDataDir();
  const store = new ArtifactStore(dataDir);
  const id = `it-kill-${stage}`;
  const queue = { HARNESSX_TASK_QUEUE: id };
  const first = await spawnWorker({ address: env.address, dataDir, env: { ...queue, HARNESSX_FAULT_DELAY: `${stage}:6000` } }, children);
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: id, workflowId: id, args: [input] });
  // The fault marker file appears when the delayed stage has started inside the first worker.
  await waitFor(async () => store.faultMarkers(id), (m) => m.includes(stage), 120_000, `${stage} to start`);
  await kill(first);
  await spawnWorker({ address: env.address, dataDir, env: queue }, children);
  const summary = (await handle.result()) as RunSummary;

  const audit = store.readAudit(id);
  const ships = audit.filter((r) => r.stage === 'ship');
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  expect(new Set(ships.map((r) => r.round)).size).toBe(ships.length);
  expect(ships).toHaveLength(summary.shipped);
  expect(summary.harnessId).toBe(reference.harnessId);
  expect(summary.shipped).toBe(reference.shipped);
  expect(summary.evolvedPassRate).toBe(reference.evolvedPassRate);
});

it('three worker processes share one run and produce the same result', async () => {
  const dataDir = tempDataDir();
  // Workers share the artifact store (here one folder; across machines, a shared file system).
  const queue = { HARNESSX_TASK_QUEUE: 'it-three-workers' };
  const workers = await Promise.all([1, 2, 3].map(() => spawnWorker({ address: env.address, dataDir, env: queue }, children)));
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: 'it-three-workers', workflowId: 'it-three-workers', args: [input] });
  const summary = (await handle.result()) as RunSummary;
  expect(summary.harnessId).toBe(reference.harnessId);
  const identities = new Set(
    ((await handle.fetchHistory()).events ?? []).map((e) => e.activityTaskStartedEventAttributes?.identity).filter((x): x is string => !!x),
  );
  expect(identities.size).toBeGreaterThanOrEqual(2);
  for (const w of workers) await kill(w);
});

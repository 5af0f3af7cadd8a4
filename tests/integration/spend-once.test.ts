import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { portOpen } from '../../cli/dev-server';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { tempDataDir, waitFor } from './temporal-env';
import { kill, killAll, spawnDevServer, spawnWorker } from './worker-process';

/**
 * Spend counted once, whatever is retried: a run whose worker is SIGKILLed, or whose Temporal server is
 * SIGKILLed, while a stage's activity holds finished work (fault injection holds it open after its outcomes
 * are in the cache, before its result reaches the server) reports the same evolution and measurement spend
 * as the same-seed run uninterrupted. A server kill costs ~40 s per case (the server's restart, then the
 * heartbeat timeout that makes Temporal retry the activity), so it is done for the gate (evolution spend)
 * and the final evaluation (measurement spend); the rollout, gate and evaluation stages each get a worker kill.
 */
jest.setTimeout(600_000);

const children: ChildProcess[] = [];
const dir = tempDataDir();
const port = 19233 + Math.floor(Math.random() * 2000);
const address = `127.0.0.1:${port}`;
let server: ChildProcess;
let client: Client;

/** The dev server on its SQLite file: it survives its own kill. */
const startServer = (): ChildProcess => spawnDevServer(dir, port, children);

const id = 'it-spend-once';
// No held-out tracking: the first evaluation is then the final one (fresh seeds, paid), not one the gates' cached outcomes answer for free.
const input = { benchmark: 'blocksworld', rounds: 2, patience: 2, batchSize: 12, validationSize: 8, seed: 'it-spend-once', evaluateTest: false, trackHeldOut: false };
let reference: RunSummary;
const spendOf = (s: RunSummary) => ({ tokens: s.tokens, costUsd: s.costUsd, measurementTokens: s.measurementTokens, measurementUsd: s.measurementUsd });

beforeAll(async () => {
  server = startServer();
  await waitFor(() => portOpen(port), (open) => open, 60_000, 'server up');
  client = new Client({ connection: await Connection.connect({ address }) });
  const worker = await spawnWorker({ address, dataDir: tempDataDir(), env: { HARNESSX_TASK_QUEUE: 'it-spend-ref' } }, children);
  // Every run has the same workflow id (one after the other): traces name their run, so ids of different
  // lengths would change what the digest counts, not what the crash does.
  reference = (await client.workflow.execute('evolveHarness', { taskQueue: 'it-spend-ref', workflowId: id, args: [input] })) as RunSummary;
  await kill(worker);
  expect(reference.tokens).toBeGreaterThan(0);
  expect(reference.measurementTokens).toBeGreaterThan(0);
});
afterEach(() => killAll(children.filter((c) => c !== server)));
afterAll(() => killAll(children));

/** The attempts of each activity type the run's history started, e.g. { evaluate: [1, 1, 2] }. */
async function attemptsByType(workflowId: string): Promise<Record<string, number[]>> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const typeOf = new Map<string, string>();
  const out: Record<string, number[]> = {};
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) (out[typeOf.get(String(started.scheduledEventId)) ?? '?'] ??= []).push(started.attempt ?? 1);
  }
  return out;
}

it.each([
  ['worker', 'rollout'],
  ['worker', 'gate'],
  ['worker', 'evaluate'],
  ['server', 'gate'],
  ['server', 'evaluate'],
])('a %s SIGKILLed during the %s stage: the run reports the spend of the uninterrupted run', async (what, stage) => {
  const dataDir = tempDataDir();
  const store = new ArtifactStore(dataDir);
  const queue = { HARNESSX_TASK_QUEUE: `it-spend-${what}-${stage}` };
  // A server kill must outlast the heartbeat timeout (15 s) inside the held stage, so the activity is retried.
  const hold = what === 'server' ? 30_000 : 8_000;
  const first = await spawnWorker({ address, dataDir, env: { ...queue, HARNESSX_FAULT_DELAY: `${stage}:${hold}` } }, children);
  await client.workflow.start('evolveHarness', { taskQueue: queue.HARNESSX_TASK_QUEUE, workflowId: id, args: [input] });
  await waitFor(async () => store.faultMarkers(id), (m) => m.includes(stage), 180_000, `${stage} to start`);
  if (what === 'worker') {
    await kill(first);
    await spawnWorker({ address, dataDir, env: queue }, children);
  } else {
    await kill(server);
    await new Promise((r) => setTimeout(r, 20_000));
    server = startServer();
    await waitFor(() => portOpen(port), (open) => open, 60_000, 'server back');
  }
  const summary = (await waitFor(() => client.workflow.getHandle(id).result(), () => true, 300_000, 'the result')) as RunSummary;

  // The crash made Temporal run the held stage's activity again (else this test would prove nothing)...
  const attempts = await attemptsByType(id);
  const retried = stage === 'rollout' ? [...(attempts.rollout ?? []), ...(attempts.rolloutOutcomes ?? []), ...(attempts.ensembleRollout ?? [])] : (attempts[stage] ?? []);
  expect(Math.max(...retried)).toBeGreaterThanOrEqual(2);
  // ...and the run is the uninterrupted one: same harness, same pass rates, same spend.
  expect(summary.harnessId).toBe(reference.harnessId);
  expect(summary.evolvedPassRate).toBe(reference.evolvedPassRate);
  expect(spendOf(summary)).toEqual(spendOf(reference));
});

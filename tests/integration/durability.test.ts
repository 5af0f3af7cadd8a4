import type { ChildProcess } from 'node:child_process';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { AnsweredCall, SimOverWireModel, startLatencyServer } from '../../bench/latency-server';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace } from '../../harness/trace';
import { ArtifactStore } from '../../store/artifact-store';
import { createAegisWorker } from '../../workers/aegis-worker';
import type { EvaluateResult } from '../../workflows/evaluate-harness';
import type { RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, startWorker, tempDataDir, waitFor, workflowBundle } from './temporal-env';
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

  const audit = await store.readAudit(id);
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

/** The finished episodes a pending activity last heartbeated ({ rollouts: { key: { finished } } }, as rollout activities report them). */
function heartbeatedEpisodes(description: { raw: { pendingActivities?: Array<{ heartbeatDetails?: { payloads?: Array<{ data?: Uint8Array | null }> | null } | null }> | null } }): Array<{ taskId: string; attempt: number }> {
  const out: Array<{ taskId: string; attempt: number }> = [];
  for (const activity of description.raw.pendingActivities ?? []) {
    const data = activity.heartbeatDetails?.payloads?.[0]?.data;
    if (!data) continue;
    const details = JSON.parse(Buffer.from(data).toString('utf8')) as { rollouts?: Record<string, { finished: Array<{ taskId: string; attempt: number }> }> };
    for (const rollout of Object.values(details.rollouts ?? {})) out.push(...rollout.finished);
  }
  return out;
}

it('a worker SIGKILLed in the middle of a slow rollout resumes it: no finished episode calls the model again, and the result is unchanged', async () => {
  // A model endpoint with latency (the simulator behind a local OpenAI-compatible server), counting calls
  // per (episode seed, step). Response caching is off in the workers: only resuming can spare a call.
  const calls = new Map<string, number>();
  const count = (c: AnsweredCall) => calls.set(`${c.seed}#${c.messages}`, (calls.get(`${c.seed}#${c.messages}`) ?? 0) + 1);
  const server = await startLatencyServer({ latencyMs: 150, capacity: 64, onAnswered: count });
  const seed = 'it-slow-rollout';
  const taskIds = getBenchmark('blocksworld').tasks().filter((t) => t.split === 'train').slice(0, 16).map((t) => t.id);
  const evaluation = (harnessId: string) => ({ benchmark: 'blocksworld', harnessId, taskIds, k: 2, seed, chunkSize: 1000, keepTraces: true, endpointLimits: { 'openai-compatible': { maxInFlight: 2 } } });
  const noCache = { HARNESSX_RESPONSE_CACHE: 'off' };
  try {
    // The uninterrupted reference: an in-process worker, its own store and queue, the same endpoint.
    const referenceStore = new ArtifactStore(tempDataDir());
    const referenceHarness = await referenceStore.putHarness(seedHarness('sim:small'));
    process.env.HARNESSX_RESPONSE_CACHE = 'off';
    const worker = await createAegisWorker({
      connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue: 'it-slow-reference', dataDir: referenceStore.root, workflowBundle: await workflowBundle(),
      substituteRolloutModel: (model, sample) => (model.id.startsWith('sim:') ? new SimOverWireModel(model.id, server.url, sample) : model),
    });
    const expected = await worker.runUntil(env.client.workflow.execute('evaluateHarness', { taskQueue: 'it-slow-reference', workflowId: 'it-slow-reference', args: [evaluation(referenceHarness)] })) as EvaluateResult;
    delete process.env.HARNESSX_RESPONSE_CACHE;
    expect(expected.episodes).toBe(32);
    calls.clear();

    const dataDir = tempDataDir();
    const store = new ArtifactStore(dataDir);
    const harnessId = await store.putHarness(seedHarness('sim:small'));
    expect(harnessId).toBe(referenceHarness);
    const queue = { HARNESSX_TASK_QUEUE: 'it-kill-slow-rollout', ...noCache };
    const first = await spawnWorker({ address: env.address, dataDir, env: queue, simOverWire: server.url }, children);
    const handle = await env.client.workflow.start('evaluateHarness', { taskQueue: 'it-kill-slow-rollout', workflowId: 'it-kill-slow-rollout', args: [evaluation(harnessId)] });
    // Kill once the server holds a heartbeat listing finished episodes (the rollout is still running: 32 episodes).
    const description = await waitFor(() => handle.describe(), (d) => heartbeatedEpisodes(d).length >= 3, 120_000, 'finished episodes in the heartbeat details');
    await kill(first);
    const finished = heartbeatedEpisodes(description);
    expect(finished.length).toBeLessThan(32);
    const callsBeforeKill = new Map(calls);
    await spawnWorker({ address: env.address, dataDir, env: queue, simOverWire: server.url }, children);
    const result = (await handle.result()) as EvaluateResult;

    // Every step of a finished episode was answered exactly once, across both workers.
    for (const { taskId, attempt } of finished) {
      const steps = [...calls.entries()].filter(([key]) => key.startsWith(`${seed}|${taskId}|${attempt}#`));
      expect(steps.length).toBeGreaterThan(0);
      expect(steps.filter(([, n]) => n !== 1)).toEqual([]);
      // ...and all of them before the kill: the second worker made none.
      for (const [key, n] of steps) expect(callsBeforeKill.get(key)).toBe(n);
    }
    // The same result as the uninterrupted run, traces included (resumed ones are read back from the store, in order).
    expect({ ...result, tracesRefs: undefined }).toEqual({ ...expected, tracesRefs: undefined });
    const episodesOf = async (s: ArtifactStore, refs: string[]) => (await Promise.all(refs.map((ref) => s.get<EpisodeTrace[]>(ref)))).flat().map((t) => [t.taskId, t.attempt, t.success, t.steps]);
    expect(await episodesOf(store, result.tracesRefs!)).toEqual(await episodesOf(referenceStore, expected.tracesRefs!));
    // The retried attempt ran: the activity completed on its second attempt or later.
    const attempts = ((await handle.fetchHistory()).events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt).filter((a): a is number => !!a);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  } finally {
    delete process.env.HARNESSX_RESPONSE_CACHE;
    await server.close();
  }
});

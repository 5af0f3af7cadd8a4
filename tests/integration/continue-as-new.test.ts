import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { ArtifactStore } from '../../store/artifact-store';
import type { ReplayBuffer } from '../../coevolution/replay-buffer';
import type { CoevolveResult } from '../../workflows/coevolve';
import type { RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, startWorker, tempDataDir, waitFor } from './temporal-env';

jest.setTimeout(420_000);

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const dataDir = tempDataDir();

beforeAll(async () => {
  // The server suggests continue-as-new after 60 events, so a short run crosses several histories.
  env = await startDevServer(['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=60']);
  worker = await startWorker(env, dataDir, 'it-can');
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

it('continues as new when the server suggests it, carrying compact state, and finishes the run', async () => {
  const input = { benchmark: 'blocksworld', rounds: 8, patience: 8, batchSize: 6, validationSize: 4, seed: 'it-can', evaluateTest: false };
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: 'it-can', workflowId: 'it-can', args: [input] });
  const summary = (await handle.result()) as RunSummary;
  expect(summary.rounds).toBe(8);
  stagesInTurn = summary;

  const runs: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = 'it-can'` })) runs.push(w.status.name);
  expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
  expect(runs.filter((s) => s === 'COMPLETED')).toHaveLength(1);

  // Every history stays small: the longest run is bounded by the suggestion threshold plus one round.
  const audit = await new ArtifactStore(dataDir).readAudit('it-can');
  expect(audit.filter((r) => r.stage === 'round_end').map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  // Setup ran once across every history: its input record and the endpoint limits in force, nothing repeated.
  expect(audit.filter((r) => r.stage === 'setup').map((r) => r.key)).toEqual(['setup', 'endpoint-limits']);
});

let stagesInTurn: RunSummary | undefined;
it('with overlapped stages, settles the early work before each continue-as-new and ends as the run with stages in turn', async () => {
  const input = { benchmark: 'blocksworld', rounds: 8, patience: 8, batchSize: 6, validationSize: 4, seed: 'it-can', evaluateTest: false, overlap: 'on' };
  const summary = (await env.client.workflow.execute('evolveHarness', { taskQueue: 'it-can', workflowId: 'it-can-overlap', args: [input] })) as RunSummary;
  const runs: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = 'it-can-overlap'` })) runs.push(w.status.name);
  expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
  expect(stagesInTurn).toBeDefined();
  for (const key of ['rounds', 'harnessId', 'shipped', 'rejected', 'seedPassRate', 'evolvedPassRate', 'heldOut', 'tokens', 'measurementTokens'] as const) expect([key, summary[key]]).toEqual([key, stagesInTurn![key]]);
  const audit = await new ArtifactStore(dataDir).readAudit('it-can-overlap');
  expect(audit.filter((r) => r.stage === 'round_end').map((r) => r.round).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(audit.filter((r) => r.stage === 'setup').map((r) => r.key)).toEqual(['setup', 'endpoint-limits', 'overlap']);
});

it('coevolve continues as new too, and its buffer, checkpoints and registry run on unbroken across histories', async () => {
  const input = { benchmark: 'blocksworld', model: 'sim:small', iterations: 4, k: 1, batchSize: 6, validationSize: 4, compareHarnessOnly: false, seed: 'it-can-co' };
  const result = (await env.client.workflow.execute('coevolve', { taskQueue: 'it-can', workflowId: 'it-can-co', args: [input] })) as CoevolveResult;
  expect(result.iterations).toBe(4);
  expect(result.checkpoint.id).toBe('ckpt-4');

  const runs: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = 'it-can-co'` })) runs.push(w.status.name);
  expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
  expect(runs.filter((s) => s === 'COMPLETED')).toHaveLength(1);

  // One buffer across all histories: every iteration's episodes, each tagged with the checkpoint that acted.
  const store = new ArtifactStore(dataDir);
  const buffer = await store.get<ReplayBuffer>(result.bufferRef!);
  expect(buffer.entries).toHaveLength(4 * 6);
  expect([...new Set(buffer.entries.map((e) => e.checkpointId))]).toEqual(['base', 'ckpt-1', 'ckpt-2', 'ckpt-3']);
  // Each checkpoint registered once, in order, however many histories the run took.
  expect((await store.readRunFile<Array<{ id: string }>>('it-can-co', 'checkpoints.json'))!.map((c) => c.id)).toEqual(['ckpt-1', 'ckpt-2', 'ckpt-3', 'ckpt-4']);
});

it('runs several hundred rounds within history limits, with flat worker memory', async () => {
  const input = { benchmark: 'blocksworld', rounds: 300, patience: 300, batchSize: 2, validationSize: 1, k: 1, seed: 'it-long', evaluateTest: false, trackHeldOut: false };
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: 'it-can', workflowId: 'it-long', args: [input] });
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = () => {
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  await waitFor(() => handle.query<{ round: number }>('status'), (s) => s.round >= 60, 240_000, 'round 60');
  const early = heap();
  const summary = (await handle.result()) as RunSummary;
  const late = heap();
  expect(summary.rounds).toBe(300);

  const lengths: number[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = 'it-long'` })) lengths.push(w.historyLength);
  expect(lengths.length).toBeGreaterThan(10);
  // Every history stays far below Temporal's limits (50K events): the threshold plus at most one round.
  expect(Math.max(...lengths)).toBeLessThan(200);
  // The worker's heap after 240 more rounds is within a small margin of its heap at round 60.
  expect(late - early).toBeLessThan(40 * 1024 * 1024);
});

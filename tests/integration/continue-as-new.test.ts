import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, startWorker, tempDataDir } from './temporal-env';

jest.setTimeout(180_000);

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

  const runs: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = 'it-can'` })) runs.push(w.status.name);
  expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
  expect(runs.filter((s) => s === 'COMPLETED')).toHaveLength(1);

  // Every history stays small: the longest run is bounded by the suggestion threshold plus one round.
  const audit = new ArtifactStore(dataDir).readAudit('it-can');
  expect(audit.filter((r) => r.stage === 'round_end').map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  expect(audit.filter((r) => r.stage === 'setup')).toHaveLength(1);
});

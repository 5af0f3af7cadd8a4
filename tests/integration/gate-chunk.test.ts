import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, tempDataDir, workflowBundle } from './temporal-env';

jest.setTimeout(600_000);

/**
 * The sequential gate's first chunk (the run input's gateChunk) reaches the gate and changes only what the
 * gates spend: a run whose gates take one task at a time and a run whose gates take every task at once
 * ship and reject the same candidates and end on the same harness, while the first stops most gates early
 * and the second runs every gate task. The chunk is written to the audit log at setup.
 */
describe('sequential gate chunk size through Temporal', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const dataDir = tempDataDir();
  const store = new ArtifactStore(dataDir);
  const taskQueue = 'gate-chunk';

  beforeAll(async () => {
    env = await startDevServer();
    worker = await Worker.create({ connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ store }) });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const run = async (gateChunk: number) => {
    const workflowId = `gate-chunk-${gateChunk}-${Date.now()}`;
    const input = { benchmark: 'blocksworld', seed: 'gate-chunk', rounds: 3, batchSize: 12, validationSize: 8, k: 2, candidatesPerRound: 3, gateChunk, evaluateTest: false, trackHeldOut: false, finalTrainTasks: 6, regressionGuard: { every: 0 }, searchAttributes: false };
    const summary = (await env.client.workflow.execute('evolveHarness', { taskQueue, workflowId, args: [input] })) as RunSummary;
    const audit = await store.readAudit(workflowId);
    const gates = audit.filter((r) => r.stage === 'gate');
    return {
      summary,
      verdicts: audit.filter((r) => r.stage === 'gate' || r.stage === 'ship').map((r) => `${r.round}:${r.stage}:${r.kind}:${r.candidateId}`),
      evaluated: gates.map((r) => (r.payload as { evaluatedTasks?: number }).evaluatedTasks),
      chunkRecorded: (audit.find((r) => r.key === 'endpoint-limits')?.payload as { gateFirstChunk?: number } | undefined)?.gateFirstChunk,
    };
  };

  it('ships the same at a chunk of 1 and of every task, spending less where it stops early', async () => {
    const small = await run(1);
    const whole = await run(1000);
    expect(small.chunkRecorded).toBe(1);
    expect(whole.chunkRecorded).toBe(1000);
    // Something was gated, so the comparison is not vacuous.
    expect(small.verdicts.length).toBeGreaterThan(0);
    expect(whole.verdicts).toEqual(small.verdicts);
    expect(whole.summary.harnessId).toBe(small.summary.harnessId);
    expect(whole.summary.shipped).toBe(small.summary.shipped);
    expect(whole.summary.rejected).toBe(small.summary.rejected);
    expect(whole.summary.evolvedPassRate).toBe(small.summary.evolvedPassRate);
    // Every gate of the whole-chunk run ran all 20 gate tasks (12 batch + 8 validation); one task at a time stopped some early.
    expect(whole.evaluated.every((n) => n === 20)).toBe(true);
    expect(small.evaluated.some((n) => n !== undefined && n < 20)).toBe(true);
    expect(small.summary.tokens).toBeLessThan(whole.summary.tokens);
    console.log(`gate tasks run per gate: chunk 1 ${small.evaluated.join('/')}, chunk 1000 ${whole.evaluated.join('/')}; tokens ${small.summary.tokens} vs ${whole.summary.tokens}`);
  });
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createAgent } from '../../library';
import type { Model } from '../../harness/processor';
import type { DeploymentStatus } from '../../workflows/deployment';
import { startDevServer, startWorker, tempDataDir, waitFor } from './temporal-env';

/**
 * A live deployment end to end on a real dev server: agents serve its harness and report every run through
 * `createAgent({ deployment })`; windows fill; a rollback with nothing to roll back is refused; and with
 * the worker down the product goes on answering (fail static, said once) and no report is lost.
 */
jest.setTimeout(240_000);
const TASK_QUEUE = 'hx-deploy-it';

/** A product model: answers at once (one step, goal reached). Which runs "succeed" is the product's verifier's call. */
const answering: Model = { id: 'test:answer', generate: async () => ({ text: 'done', toolCalls: [], usage: { inputTokens: 10, outputTokens: 2 }, stopReason: 'end_turn', model: 'test:answer' }) };

describe('deployHarness with createAgent({ deployment })', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const dataDir = tempDataDir();
  const startWorkerNow = async () => {
    worker = await startWorker(env, dataDir, TASK_QUEUE);
    running = worker.run();
  };
  const stopWorkerNow = async () => {
    worker?.shutdown();
    await running;
    worker = undefined;
  };
  beforeAll(async () => {
    env = await startDevServer();
    await startWorkerNow();
  });
  afterAll(async () => {
    await stopWorkerNow();
    await env?.teardown();
  });

  it('serves the deployment, reports every run once (also across a worker outage), takes feedback, and refuses an empty rollback', async () => {
    const input = { name: 'it-desk', benchmark: 'blocksworld', window: { runs: 6 }, ttlMs: 200, gate: { heldOutTasks: 4 }, budgetPerDay: { tokens: 1 } };
    // An agent with no harness of its own cannot start a run before the deployment answers (here: it does not exist yet).
    const newcomer = createAgent({ deployment: { name: 'it-desk', client: env.client, requestTimeoutMs: 1000, firstHarnessTimeoutMs: 2000, log: () => undefined }, model: answering });
    await expect(newcomer.run('x')).rejects.toThrow(/no harness known yet/);
    await newcomer.close(0);
    // Started paused (the signal arrives with the start, before any window closes): this test is about serving
    // and reports, so no live round may put a canary out and make which harness a run gets depend on timing.
    const handle = await env.client.workflow.signalWithStart('deployHarness', { taskQueue: TASK_QUEUE, workflowId: 'deploy-it-desk', args: [input], signal: 'pause', signalArgs: [] });
    const logs: string[] = [];
    const agent = createAgent({
      deployment: { name: 'it-desk', client: env.client, flushMs: 50, batchSize: 4, requestTimeoutMs: 2000, log: (l) => logs.push(l) },
      model: answering,
      // Even task numbers are solved, as the product's own check says.
      verify: (_result, task) => (Number(task.id.split('-')[1]) % 2 === 0 ? 1 : 0),
    });
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await agent.run({ id: `task-${i}`, instruction: `request ${i}` }, { runKey: `user-${i % 5}` }));
    const seedId = results[0].harnessId;
    expect(seedId).toMatch(/^hx-/);
    await agent.close(30_000);
    // Evolution is paused; windows still close and serving goes on.
    const status = await waitFor(() => handle.query<DeploymentStatus>('deploymentStatus'), (s) => s.counts.reports === 12 && s.windows.length === 2, 60_000, '12 reports in two windows');
    expect(status.windows.map((w) => [w.runs, w.passRate])).toEqual([[6, 0.5], [6, 0.5]]);
    expect(status.windows[0].bySource).toEqual({ verifier: 6 });
    expect(status.counts.duplicates).toBe(0);

    // Feedback from any process that knows the run id (here, a second agent of the same deployment).
    const other = createAgent({ deployment: { name: 'it-desk', client: env.client, flushMs: 20, log: () => undefined }, model: answering });
    const late = await other.run({ id: 'task-1', instruction: 'again' });
    other.feedback(late.runId, 1, 'the user said thanks');
    await other.close(30_000);
    await waitFor(() => handle.query<DeploymentStatus>('deploymentStatus'), (s) => s.counts.feedback === 1 && s.counts.reports === 13, 60_000, 'feedback applied');

    const refused = await handle.executeUpdate('rollback', { args: [{ reason: 'test' }] }).catch((e: Error) => e);
    expect(((refused as Error).cause as Error)?.message).toMatch(/nothing earlier to roll back to/);

    // An agent that knows the harness, then the worker goes down: the product keeps answering on the harness
    // it knows, says so once in its log, and queues its reports.
    const keeperLogs: string[] = [];
    const keeper = createAgent({ deployment: { name: 'it-desk', client: env.client, flushMs: 20, batchSize: 3, requestTimeoutMs: 1000, log: (l) => keeperLogs.push(l) }, model: answering });
    await keeper.run({ id: 'task-warm', instruction: 'warm up' });
    await stopWorkerNow();
    const served = [];
    for (let i = 0; i < 5; i++) {
      served.push(await keeper.run({ id: `task-out-${i}`, instruction: `during the outage ${i}` }));
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(served.every((r) => r.harnessId === seedId)).toBe(true);
    expect(keeperLogs.filter((l) => /unreachable/.test(l))).toHaveLength(1);
    await startWorkerNow();
    await keeper.close(60_000);
    expect(keeper.deploymentStats()).toMatchObject({ reportsDropped: 0, reportsQueued: 0 });
    await waitFor(() => handle.query<DeploymentStatus>('deploymentStatus'), (s) => s.counts.reports === 19, 90_000, 'the outage reports');
    // The next runs' polls find the deployment again, and say so once.
    await waitFor(async () => (await keeper.run({ id: 'task-back', instruction: 'back' }), keeperLogs), (l) => l.some((x) => /reachable again/.test(x)), 60_000, 'reachable again');
    await keeper.close(60_000);
    const reported = 19 + (keeper.deploymentStats()!.reportsSent - 6);

    await waitFor(() => handle.query<DeploymentStatus>('deploymentStatus'), (s) => s.counts.reports === reported, 60_000, 'every report');
    await handle.signal('stop');
    const final = (await handle.result()) as DeploymentStatus;
    expect(final.counts.reports).toBe(reported);
    expect(final.counts.productRunsFailed).toBe(0);

    // Its audits are ordinary activities, not local ones: a local activity's marker landing after activities
    // the loop and a round scheduled beside it made a deployment's history unreplayable (stuck for good after
    // an eviction). And the history replays against the current code.
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(0);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordAudit').length).toBeGreaterThanOrEqual(2);
    await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history, 'deploy-it-desk');
  });

});

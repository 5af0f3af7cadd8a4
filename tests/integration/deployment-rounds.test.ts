import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { deploymentInputSchema } from '../../aegis/live/deployment-input';
import { getBenchmark } from '../../benchmarks/registry';
import { replayRuns } from '../../cli/commands/replay';
import { liveBenchDeploymentInput } from '../../cli/deploy-bench/live-workload';
import { createAgent } from '../../library/create-agent';
import { createModel } from '../../models/registry';
import { ArtifactStore } from '../../store/artifact-store';
import { benchmarkToolProvider } from '../../suites/benchmark-tools';
import type { DeploymentStatus } from '../../workflows/deployment';
import { startDevServer, startWorker, tempDataDir, waitFor } from './temporal-env';

/**
 * A deployment's live round runs as a child workflow, so the deployment continues as new while the round
 * works: here the server suggests continue-as-new after 60 events and the round waits for an operator's
 * approval while 90 more runs are reported (a round with a real meta-agent takes minutes to an hour, and in
 * the deployment's own history every report, traces included, grew toward Temporal's 50 MB limit, where the
 * server terminates the workflow). The round's news reach whichever run is current: the candidate awaiting
 * approval, then, once approved, the canary. A deployment stopped while a candidate waits rejects it and ends.
 */
jest.setTimeout(300_000);
const TASK_QUEUE = 'hx-deploy-rounds-it';

describe('live rounds as child workflows of the deployment', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const dataDir = tempDataDir();
  beforeAll(async () => {
    env = await startDevServer(['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=60']);
    worker = await startWorker(env, dataDir, TASK_QUEUE);
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  /** Runs `from`..`to` of blocksworld train tasks on the simulator through an agent of the deployment, then every report sent. */
  const play = async (name: string, from: number, to: number) => {
    const benchmark = getBenchmark('blocksworld');
    const tasks = benchmark.tasks().filter((t) => t.split === 'train');
    const tools = benchmarkToolProvider(benchmark);
    const agent = createAgent({
      deployment: { name, client: env.client, flushMs: 50, batchSize: 10, requestTimeoutMs: 3000, log: () => undefined },
      model: ({ taskId, seed }) => createModel('sim:small', { seed, taskBrief: benchmark.simulatorBrief?.(taskId) }),
      tools: [tools],
      name: 'blocksworld',
      seed: name,
      verify: (result) => tools.lastScore(result.trace.seed),
    });
    for (let i = from; i < to; i++) {
      const task = tasks[(i * 7) % tasks.length];
      await agent.run({ id: task.id, instruction: task.instruction }, { runKey: `user-${i % 50}`, runId: `${name}-run-${i}` });
    }
    await agent.close(30_000);
  };
  const start = (name: string) => {
    const input = deploymentInputSchema().parse({ ...liveBenchDeploymentInput({ name, benchmark: 'blocksworld', model: 'sim:small', seed: name }), approval: 'human' });
    return env.client.workflow.start('deployHarness', { taskQueue: TASK_QUEUE, workflowId: `deploy-${name}`, args: [input] });
  };
  const status = (handle: Awaited<ReturnType<typeof start>>) => handle.query<DeploymentStatus>('deploymentStatus');
  const runsOf = async (workflowId: string) => {
    const runs: string[] = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(w.runId);
    return runs;
  };

  it('continues as new while a round awaits approval; the approved candidate goes out as the canary in a later run', async () => {
    const name = 'it-rounds';
    const handle = await start(name);
    const windowRuns = deploymentInputSchema().parse(liveBenchDeploymentInput({ name, benchmark: 'blocksworld', model: 'sim:small', seed: name })).window.runs;
    await play(name, 0, windowRuns);
    const waiting = await waitFor(() => status(handle), (s) => s.awaitingApproval !== null, 120_000, 'a candidate awaiting approval');
    expect(waiting).toMatchObject({ round: 1, roundRunning: true, canary: null });
    const candidate = waiting.awaitingApproval!;
    const runsBefore = (await runsOf(`deploy-${name}`)).length;

    // Three more windows of reports while the round waits: the deployment continues as new meanwhile.
    await play(name, windowRuns, 4 * windowRuns);
    const during = await waitFor(() => status(handle), (s) => s.counts.reports === 4 * windowRuns, 60_000, 'the reports applied');
    expect((await runsOf(`deploy-${name}`)).length).toBeGreaterThan(runsBefore);
    expect(during).toMatchObject({ round: 1, roundRunning: true, awaitingApproval: candidate, canary: null });
    expect(during.windows.length).toBe(4);
    expect(during.lastEvent).toMatch(/no round \(a round is still running\)|awaits approval/);

    // The approval reaches the round through the deployment's current run; its candidate goes out there.
    await handle.executeUpdate('decide', { args: [{ harnessId: candidate, approve: true, reason: 'looks right' }] });
    const out = await waitFor(() => status(handle), (s) => s.canary !== null && !s.roundRunning, 60_000, 'the canary out');
    expect(out.canary!.harnessId).toBe(candidate);
    expect(out.awaitingApproval).toBeNull();
    expect(out.versions.find((v) => v.harnessId === candidate)?.status).toBe('canary');
    expect(out.spend.total.tokens).toBeGreaterThan(0);

    await handle.signal('stop');
    const final = (await handle.result()) as DeploymentStatus;
    expect(final.counts.reports).toBe(4 * windowRuns);
    const audit = await new ArtifactStore(dataDir).readAudit(`deploy-${name}`);
    expect(audit.some((a) => a.key === '1:digest')).toBe(true);
    expect(audit.filter((a) => a.key === '1:canary').map((a) => a.harnessId)).toEqual([candidate]);

    // Every run of the deployment and of its round replays against the current code.
    const lines: string[] = [];
    const replayed = await replayRuns(env.client, `deploy-${name}`, { log: (l) => lines.push(l) });
    expect(replayed.failures).toBe(0);
    expect(lines.some((l) => /-round-1-/.test(l))).toBe(true);
    expect(replayed.runs).toBeGreaterThan(runsBefore + 1);
  });

  it('a deployment stopped while a candidate awaits approval rejects it and ends', async () => {
    const name = 'it-rounds-stop';
    const handle = await start(name);
    await play(name, 0, 30);
    const waiting = await waitFor(() => status(handle), (s) => s.awaitingApproval !== null, 120_000, 'a candidate awaiting approval');
    await handle.signal('stop');
    const final = (await handle.result()) as DeploymentStatus;
    expect(final).toMatchObject({ roundRunning: false, awaitingApproval: null, canary: null });
    expect(final.versions.some((v) => v.harnessId === waiting.awaitingApproval)).toBe(false);
  });

  it('a round terminated while its candidate awaits approval ends as failed; the deployment goes on and stops', async () => {
    const name = 'it-rounds-gone';
    const handle = await start(name);
    await play(name, 0, 30);
    await waitFor(() => status(handle), (s) => s.awaitingApproval !== null, 120_000, 'a candidate awaiting approval');
    const [child] = await waitFor(async () => {
      const ids: string[] = [];
      for await (const w of env.client.workflow.list({ query: `WorkflowId STARTS_WITH "deploy-${name}-round-1-"` })) ids.push(w.workflowId);
      return ids;
    }, (ids) => ids.length === 1, 30_000, 'the round workflow listed');
    await env.client.workflow.getHandle(child).terminate('an operator ends the round');
    // This run holds the round's handle (its result fails), or, had it continued as new, the decision's signal fails.
    await handle.executeUpdate('decide', { args: [{ harnessId: (await status(handle)).awaitingApproval!, approve: true }] }).catch(() => undefined);
    const after = await waitFor(() => status(handle), (s) => !s.roundRunning, 60_000, 'the round over');
    expect(after.lastEvent).toMatch(/round 1 failed/);
    expect(after).toMatchObject({ awaitingApproval: null, canary: null });
    await handle.signal('stop');
    expect(((await handle.result()) as DeploymentStatus).roundRunning).toBe(false);
  });
});

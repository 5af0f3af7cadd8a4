import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { EndpointLimiter } from '../../models/endpoint-limiter';
import { LEARNED_CAPS_MEMO } from '../../models/endpoint-shares';
import { EndpointCoordinationClient } from '../../workers/endpoint-coordination';
import { endpointCoordinatorId, endpointSharesQuery, renewEndpointLeasesUpdate, type endpointCoordinator } from '../../workflows/endpoint-coordinator';
import { startDevServer, waitFor } from './temporal-env';
import { WithStartWorkflowOperation } from '@temporalio/client';

jest.setTimeout(240_000);

/**
 * A cap learned with no limit configured is kept for the endpoint by the coordinator and reaches a worker
 * that starts later even while no worker can run the coordinator's workflow task (its last worker died):
 * the learned caps are in the coordinator's memo, which a describe reads from the server alone.
 */
const queue = 'it-learned-caps';
const KEY = 'openai-compatible:m@http://10.1.2.3:8000/v1';
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await startDevServer();
});
afterAll(async () => {
  await env?.teardown();
});

it('a learned cap goes to the memo; a worker starting with nobody to run the coordinator starts at it, then takes its grant', async () => {
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows/endpoint-coordinator'), logger: new DefaultLogger('WARN') });
  const coordinatorWorker = () => Worker.create({ connection: env.nativeConnection, taskQueue: queue, workflowBundle });
  const id = endpointCoordinatorId(queue);
  const report = (refusedAt: number[], configured = false, applied = { version: 0, grant: 0 }, wanted = 40) => ({ key: KEY, limit: { maxInFlight: 32 }, configured, limitSetAt: 1, wanted, active: 0, appliedVersion: applied.version, appliedGrant: applied.grant, refusedAt });
  const renew = (workerId: string, endpoints: unknown[]) =>
    env.client.workflow.executeUpdateWithStart(renewEndpointLeasesUpdate, {
      args: [{ workerId, endpoints: endpoints as never }],
      startWorkflowOperation: new WithStartWorkflowOperation<typeof endpointCoordinator>('endpointCoordinator', { workflowId: id, taskQueue: queue, args: [{}], workflowIdConflictPolicy: 'USE_EXISTING' }),
    });

  // Run 1: a worker's calls were refused at 12, 9 and 20 in flight (no limit set): the endpoint takes 8.
  const first = await coordinatorWorker();
  await first.runUntil(async () => {
    await renew('w1', [report([])]);
    const [grant] = await renew('w1', [report([12, 9, 20])]);
    expect(grant.cap).toBe(8);
    // The run ends: w1 wants nothing and acknowledges the 0 it is granted, so it holds nothing when it dies.
    const [idle] = await renew('w1', [report([], false, { version: grant.version, grant: grant.share.maxInFlight }, 0)]);
    await renew('w1', [report([], false, { version: idle.version, grant: idle.share.maxInFlight }, 0)]);
    expect((await env.client.workflow.getHandle(id).query(endpointSharesQuery))[KEY].learned.maxInFlight).toBe(8);
  });
  const memo = (await env.client.workflow.getHandle(id).describe()).memo;
  expect(memo?.[LEARNED_CAPS_MEMO]).toEqual({ [KEY]: { cap: 8, workers: 1 } });

  // The worker that ran the coordinator is gone. A new process attaches its (default, 32) limiter: its
  // renewal cannot be answered, yet within a few seconds it runs at the learned cap, not at 0 or 32.
  const client = new EndpointCoordinationClient(env.client, queue);
  const limiter = new EndpointLimiter(KEY, { maxInFlight: 32 });
  try {
    client.attach(limiter, false);
    expect(limiter.share).toEqual({ maxInFlight: 0 });
    await waitFor(async () => limiter.share?.maxInFlight, (share) => share === 8, 4_000, 'the memo share');
    expect(limiter.currentCeiling).toBe(8);
    // Calls go out at once under it: 8 of 10 start, 2 wait (and make the worker want more than it holds).
    const permits: Array<{ release: (o: { ok: true }) => void }> = [];
    for (let i = 0; i < 10; i++) void limiter.acquire().then((p) => permits.push(p));
    await new Promise((resolve) => setImmediate(resolve));
    expect([limiter.active, limiter.queued]).toEqual([8, 2]);
    // A worker for the coordinator comes back: the grant replaces the memo's share (still the learned cap).
    // Watched throughout: the answer to the renewal sent before the memo share (it wanted nothing) is not applied.
    let lowest = Infinity;
    const watch = setInterval(() => (lowest = Math.min(lowest, limiter.share?.maxInFlight ?? 0)), 2);
    const second = await coordinatorWorker();
    await second.runUntil(async () => {
      // The first answer is to the renewal sent before the memo share (it wanted nothing then): not applied;
      // the next one, which reports the memo share in use and 10 calls wanted, is granted the cap.
      await waitFor(async () => (await env.client.workflow.getHandle(id).query(endpointSharesQuery))[KEY].workers[client.workerId], (w) => !!w && w.version >= 2 && w.grant === 8, 30_000, 'a grant');
      await waitFor(async () => limiter.share?.maxInFlight, (share) => share === 8, 5_000, 'the grant applied');
    });
    clearInterval(watch);
    expect(lowest).toBe(8);
    for (const p of permits.splice(0)) p.release({ ok: true });
  } finally {
    client.stop();
  }

  // A configured limit is never taken from the memo: only caps learned where nobody set one are written.
  const configured = await coordinatorWorker();
  await configured.runUntil(async () => {
    await renew('w3', [{ ...report([5], true), key: `${KEY}-set`, limitSetAt: 2 }]);
  });
  expect(Object.keys(((await env.client.workflow.getHandle(id).describe()).memo?.[LEARNED_CAPS_MEMO] ?? {}) as object)).toEqual([KEY]);
});

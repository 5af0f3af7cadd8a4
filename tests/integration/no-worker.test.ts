import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer, startWorker, tempDataDir, waitFor } from './temporal-env';

/**
 * `evolve --no-worker`: the machine that starts runs on a cluster does not join it as a worker. While the
 * CLI waits for its run, nothing polls the task queue (it says so); a worker started elsewhere (here, in
 * the test process) runs it, and the CLI ends with the summary as usual.
 */
jest.setTimeout(300_000);

const ROOT = join(__dirname, '../..');
const QUEUE = 'hx-no-worker';
let env: TestWorkflowEnvironment;
const dataDir = tempDataDir();

beforeAll(async () => {
  env = await startDevServer();
});
afterAll(async () => {
  await env?.teardown();
});

it('evolve --no-worker starts the run without polling; another worker runs it to the summary', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), 'evolve', '--no-worker', '--rounds', '1', '--batch-size', '8', '--validation-size', '4', '--seed', 'no-worker', '--workflow-id', 'it-no-worker', '--json'], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: dataDir, HARNESSX_TASK_QUEUE: QUEUE, HARNESSX_LOG_LEVEL: 'ERROR' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

  await waitFor(async () => stderr, (text) => text.includes('AEGIS run it-no-worker started'), 120_000, 'the run to start');
  expect(stderr).toContain(`no worker polls task queue ${QUEUE} on ${env.address} yet: the run waits until one does (npx harnessx worker)`);
  // The CLI is waiting on its run and is not a poller of the queue.
  const described = await env.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: QUEUE } });
  expect(described.pollers ?? []).toEqual([]);

  const worker = await startWorker(env, dataDir, QUEUE);
  const code = await worker.runUntil(exited);
  expect({ code, stderr: code === 0 ? '' : stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(summary).toMatchObject({ workflowId: 'it-no-worker', harnessId: expect.stringMatching(/^hx-[0-9a-f]{16}$/) });
});

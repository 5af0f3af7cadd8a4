import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ArtifactStore } from '../../store/artifact-store';
import { TASK_QUEUE } from '../../temporal.config';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, tempDataDir, waitFor } from './temporal-env';

jest.setTimeout(300_000);

const ROOT = join(__dirname, '../..');
let env: TestWorkflowEnvironment;
const dataDir = tempDataDir();
const children: ChildProcess[] = [];

/** A real worker process (`harnessx worker`), as a user runs it; resolves once it polls. */
function spawnWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), 'worker'], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: dataDir, HARNESSX_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 90_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('AEGIS worker polling')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => code !== null && code !== 0 && reject(new Error(`worker exited ${code}:\n${output}`)));
  });
}

beforeAll(async () => {
  env = await startDevServer();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await env?.teardown();
});

it('finishes a run after its worker is SIGKILLed mid-round, with no duplicate ship, and the same result as an uninterrupted run', async () => {
  const input = { benchmark: 'blocksworld', rounds: 4, patience: 4, batchSize: 16, validationSize: 8, seed: 'it-crash', evaluateTest: false };
  const first = await spawnWorker();
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: TASK_QUEUE, workflowId: 'it-crash', args: [input] });
  await waitFor(() => handle.query<RunStatus>('status'), (s) => s.round >= 2 && ['gate', 'evolve', 'critique', 'digest', 'plan'].includes(s.stage), 120_000, 'round 2 in progress');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  await spawnWorker();
  const summary = (await handle.result()) as RunSummary;
  expect(summary.rounds).toBe(4);

  const audit = new ArtifactStore(dataDir).readAudit('it-crash');
  const ships = audit.filter((r) => r.stage === 'ship');
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  expect(new Set(ships.map((r) => r.round)).size).toBe(ships.length);
  expect(ships).toHaveLength(summary.shipped);

  const again = await env.client.workflow.start('evolveHarness', { taskQueue: TASK_QUEUE, workflowId: 'it-uninterrupted', args: [input] });
  const reference = (await again.result()) as RunSummary;
  expect(summary.harnessId).toBe(reference.harnessId);
  expect(summary.shipped).toBe(reference.shipped);
});

import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { portOpen } from '../../cli/dev-server';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { tempDataDir, waitFor } from './temporal-env';
import { kill, killAll, spawnDevServer, spawnWorker } from './worker-process';

jest.setTimeout(300_000);

const children: ChildProcess[] = [];
const dir = tempDataDir();
const port = 17233 + Math.floor(Math.random() * 2000);

const startServer = (): ChildProcess => spawnDevServer(dir, port, children);

afterAll(() => killAll(children));

it('resumes and completes a run after the dev server is killed mid-run and restarted on its SQLite file', async () => {
  let server = startServer();
  await waitFor(() => portOpen(port), (open) => open, 60_000, 'server up');
  const address = `127.0.0.1:${port}`;
  await spawnWorker({ address, dataDir: dir, env: { HARNESSX_TASK_QUEUE: 'it-server-crash' } }, children);
  const client = new Client({ connection: await Connection.connect({ address }) });
  const input = { benchmark: 'blocksworld', rounds: 4, patience: 4, batchSize: 16, validationSize: 8, seed: 'it-server-crash', evaluateTest: false };
  const handle = await client.workflow.start('evolveHarness', { taskQueue: 'it-server-crash', workflowId: 'it-server-crash', args: [input] });
  await waitFor(() => handle.query<RunStatus>('status'), (s) => s.round >= 2, 120_000, 'round 2');

  await kill(server);
  await new Promise((r) => setTimeout(r, 2000));
  server = startServer();
  await waitFor(() => portOpen(port), (open) => open, 60_000, 'server back');

  const summary = (await waitFor(() => client.workflow.getHandle('it-server-crash').result(), () => true, 240_000, 'the result')) as RunSummary;
  expect(summary.rounds).toBe(4);
  const audit = await new ArtifactStore(dir).readAudit('it-server-crash');
  expect(audit.filter((r) => r.stage === 'round_end').map((r) => r.round)).toEqual([1, 2, 3, 4]);
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  await kill(server);
});

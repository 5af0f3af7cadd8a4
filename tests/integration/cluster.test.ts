import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { tempDataDir, waitFor } from './temporal-env';
import { killAll, spawnWorker } from './worker-process';

/**
 * The production-style deployment (`harnessx cluster`, #18) as a user drives it: PostgreSQL, the Temporal
 * server on it, the Web UI server and the S3 server, under a fresh HARNESSX_HOME on ports of its own. A run
 * on a worker process survives the Temporal server being SIGKILLed mid-stage and brought back by a second
 * `cluster up` (PostgreSQL keeps the state), with the same result as an uninterrupted run on the same
 * cluster. Binaries: TEMPORAL_SERVER_PATH etc. when set, else .harnessx/bin (built once when missing).
 */
jest.setTimeout(600_000);

const ROOT = join(__dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'hx-cluster-'));
// PostgreSQL runs as `nobody` when the tests run as root: it must be able to traverse to its data directory.
chmodSync(home, 0o755);
const portBase = 21000 + 16 * Math.floor(Math.random() * 500);
const children: ChildProcess[] = [];
const input = { benchmark: 'blocksworld', rounds: 2, patience: 2, batchSize: 12, validationSize: 6, seed: 'it-cluster', evaluateTest: false };

function harnessx(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, HARNESSX_HOME: home, HARNESSX_LOG_LEVEL: 'ERROR', ...env },
    encoding: 'utf8',
    timeout: 900_000,
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1] };
}

interface Up {
  settings: Record<string, string>;
  components: Array<{ name: string; pid: number; started: boolean }>;
}
interface Status {
  healthy: boolean;
  components: Array<{ name: string; pid: number | null; port: number; healthy: boolean; detail: string }>;
}

let up: Up;
let client: Client;

beforeAll(async () => {
  const r = harnessx(['cluster', 'up', '--port-base', String(portBase), '--json']);
  if (r.code !== 0) throw new Error(`cluster up failed (${r.code}):\n${r.stderr}`);
  up = JSON.parse(r.last) as Up;
  client = new Client({ connection: await Connection.connect({ address: up.settings.TEMPORAL_ADDRESS }) });
});

afterAll(async () => {
  killAll(children);
  await client?.connection.close();
  harnessx(['cluster', 'down', '--purge']);
});

it('up starts all four components on the cluster\'s ports and prints how to point workers at it', () => {
  expect(up.components.map((c) => c.name).sort()).toEqual(['postgres', 's3', 'temporal', 'ui']);
  expect(up.settings).toMatchObject({
    TEMPORAL_ADDRESS: `127.0.0.1:${portBase}`,
    TEMPORAL_NAMESPACE: 'default',
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${portBase + 11}`,
    AWS_REGION: 'us-east-1',
  });
  // The bucket's root: the store adds runs/ itself, so a prefix here would double it (runs/runs/).
  expect(up.settings.HARNESSX_STORE).toBe('s3://harnessx');
  // The --env form is what a shell evals: the same settings, secrets included, and nothing else on stdout.
  const env = harnessx(['cluster', 'up', '--env']);
  expect(env.code).toBe(0);
  expect(env.stdout.trim().split('\n')).toEqual(Object.entries(up.settings).map(([k, v]) => `export ${k}='${v}'`));
  expect(env.stderr).toMatch(/PostgreSQL is running \(pid \d+\)/);
  // Secrets reach only the explicit "how to connect" output: never a component's log.
  for (const log of ['postgres', 'temporal', 'ui', 's3']) {
    const text = require('node:fs').readFileSync(join(home, 'cluster', 'logs', `${log}.log`), 'utf8') as string;
    expect(text).not.toContain(up.settings.AWS_SECRET_ACCESS_KEY);
  }
});

it('a run survives the Temporal server being killed mid-stage and restarted by `cluster up`, with the same result as an uninterrupted run', async () => {
  const address = up.settings.TEMPORAL_ADDRESS;
  const workerEnv = (queue: string, extra: Record<string, string> = {}) => ({ TEMPORAL_NAMESPACE: 'default', HARNESSX_TASK_QUEUE: queue, ...extra });
  // The uninterrupted reference, on the same cluster with its own queue and store.
  await spawnWorker({ address, dataDir: tempDataDir(), env: workerEnv('it-cluster-ref') }, children);
  const reference = (await client.workflow.execute('evolveHarness', { taskQueue: 'it-cluster-ref', workflowId: 'it-cluster-ref', args: [input] })) as RunSummary;

  const dataDir = tempDataDir();
  const store = new ArtifactStore(dataDir);
  // The evolve stage is held open 8 s (fault injection) so the kill lands inside it, every time.
  await spawnWorker({ address, dataDir, env: workerEnv('it-cluster-restart', { HARNESSX_FAULT_DELAY: 'evolve:8000' }) }, children);
  const handle = await client.workflow.start('evolveHarness', { taskQueue: 'it-cluster-restart', workflowId: 'it-cluster-restart', args: [input] });
  await waitFor(async () => store.faultMarkers('it-cluster-restart'), (m) => m.includes('evolve'), 120_000, 'the evolve stage to start');

  const before = JSON.parse(harnessx(['cluster', 'status', '--json']).last) as Status;
  const serverPid = before.components.find((c) => c.name === 'temporal')!.pid!;
  process.kill(-serverPid, 'SIGKILL');
  const alive = () => {
    try {
      process.kill(serverPid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitFor(async () => alive(), (a) => !a, 30_000, 'the server to be gone');
  const again = harnessx(['cluster', 'up', '--json']);
  expect(again.code).toBe(0);
  const restarted = (JSON.parse(again.last) as Up).components;
  // Only the Temporal server was started again; the rest kept running.
  expect(restarted.filter((c) => c.started).map((c) => c.name)).toEqual(['temporal']);

  const summary = (await waitFor(() => client.workflow.getHandle(handle.workflowId).result(), () => true, 240_000, 'the result')) as RunSummary;
  expect(summary.rounds).toBe(2);
  expect(summary.harnessId).toBe(reference.harnessId);
  expect(summary.shipped).toBe(reference.shipped);
  expect(summary.evolvedPassRate).toBe(reference.evolvedPassRate);
  const audit = await store.readAudit('it-cluster-restart');
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  expect(audit.filter((r) => r.stage === 'round_end').map((r) => r.round)).toEqual([1, 2]);
  // Advanced visibility on PostgreSQL: the run's search attributes are queryable.
  const listed: string[] = [];
  for await (const w of client.workflow.list({ query: `HarnessXBenchmark = 'blocksworld' AND WorkflowId = 'it-cluster-restart'` })) listed.push(w.workflowId);
  expect(listed).toEqual(['it-cluster-restart']);
  killAll(children);
});

it('a worker and a run naming a namespace the cluster does not have fail at start, naming TEMPORAL_NAMESPACE', async () => {
  const worker = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), 'worker'], {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: up.settings.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'nope', HARNESSX_DATA_DIR: tempDataDir(), HARNESSX_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(worker);
  let output = '';
  worker.stdout!.on('data', (d) => (output += d));
  worker.stderr!.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => worker.on('exit', resolve));
  expect(code).not.toBe(0);
  expect(output).toContain(`TEMPORAL_NAMESPACE=nope: no such namespace on the Temporal server at ${up.settings.TEMPORAL_ADDRESS} (it has: default)`);
  expect(output).not.toContain('AEGIS worker polling');

  const run = harnessx(['evolve', '--rounds', '1', '--json'], { TEMPORAL_ADDRESS: up.settings.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'nope', HARNESSX_DATA_DIR: tempDataDir() });
  expect(run.code).not.toBe(0);
  expect(run.stderr).toContain('TEMPORAL_NAMESPACE=nope: no such namespace');
});

it('up refuses ports another process holds, before starting anything', () => {
  // A second cluster home on the same ports: its PostgreSQL port is the first one checked, and taken.
  const other = mkdtempSync(join(tmpdir(), 'hx-cluster-other-'));
  const r = harnessx(['cluster', 'up', '--port-base', String(portBase)], { HARNESSX_HOME: other });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`port ${portBase + 12} (PostgreSQL) on 127.0.0.1 is in use by another process`);
  expect(r.stderr).toContain('--port-base');
});

it('status shows every component healthy; after down, each is reported not running', () => {
  const status = harnessx(['cluster', 'status', '--json']);
  expect(status.code).toBe(0);
  const parsed = JSON.parse(status.last) as Status;
  expect(parsed.healthy).toBe(true);
  expect(parsed.components.map((c) => [c.name, c.port])).toEqual([
    ['postgres', portBase + 12],
    ['temporal', portBase],
    ['ui', portBase + 10],
    ['s3', portBase + 11],
  ]);
  for (const c of parsed.components) expect(c.pid).toEqual(expect.any(Number));

  const down = harnessx(['cluster', 'down']);
  expect(down.code).toBe(0);
  expect(down.stdout).toMatch(/Stopped PostgreSQL \(pid \d+\)/);
  const after = harnessx(['cluster', 'status']);
  expect(after.code).toBe(1);
  for (const label of ['PostgreSQL', 'Temporal server', 'Temporal Web UI', 'S3 server']) expect(after.stdout).toMatch(new RegExp(`${label}.*UNHEALTHY.*not running`));
});

import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { portOpen } from '../../cli/dev-server';
import { ArtifactStore } from '../../store/artifact-store';
import { openStore } from '../../store/open-store';
import type { Store } from '../../store/store';
import { createAegisWorker } from '../../workers/aegis-worker';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { createTestNetwork, leftovers, removeStale, type NetnsHost, type TestNetwork } from '../helpers/netns';
import { tempDataDir, waitFor, workflowBundle } from './temporal-env';
import { killAll, spawnWorker } from './worker-process';

jest.setTimeout(600_000);

/**
 * Workers on separate "hosts" (network namespaces, tests/helpers/netns.ts) share one run through one
 * Temporal server: losing a host in the middle of a rollout, or restarting the server, changes nothing in the
 * result — the same final harness as a single-host run with the same seed, and every ship in the audit log
 * exactly once. The deployment listens on the test bridge's address in the root namespace; the hosts can
 * reach only that subnet (no default route).
 */
const input = { benchmark: 'blocksworld', rounds: 3, patience: 3, batchSize: 16, validationSize: 8, seed: 'it-multi-host', evaluateTest: false };

let network: TestNetwork | undefined;
let deployment: Deployment | undefined;
let client: Client;
const children: ChildProcess[] = [];
let referenceRun: Promise<{ summary: RunSummary; ships: Array<[number, string | undefined]> }> | undefined;

/** The single-host reference, run once when first needed: an in-process worker in the root namespace with its own local store. */
function singleHostReference(): Promise<{ summary: RunSummary; ships: Array<[number, string | undefined]> }> {
  referenceRun ??= (async () => {
    const referenceStore = new ArtifactStore(tempDataDir());
    const connection = await NativeConnection.connect({ address: deployment!.address });
    try {
      const worker = await createAegisWorker({ connection, taskQueue: 'mh-reference', dataDir: referenceStore.root, workflowBundle: await workflowBundle() });
      const summary: RunSummary = await worker.runUntil(client.workflow.execute('evolveHarness', { taskQueue: 'mh-reference', workflowId: 'mh-reference', args: [input] }));
      const ships = (await referenceStore.readAudit('mh-reference')).filter((r) => r.stage === 'ship').map((r): [number, string | undefined] => [r.round, r.harnessId]);
      return { summary, ships };
    } finally {
      await connection.close();
    }
  })();
  return referenceRun;
}

/** The servers the hosts share, listening on the bridge address. */
interface Deployment {
  address: string;
  /** The artifact store as the test reads it back (the run's audit log), through the S3 store. */
  store: Store;
  /** What a worker host needs besides TEMPORAL_ADDRESS to reach the shared store. */
  workerEnv(home: string): Record<string, string>;
  restartTemporal(): Promise<void>;
  stop(): Promise<void>;
}

const ROOT = join(__dirname, '../..');

/** `harnessx cluster …` under the deployment's own HARNESSX_HOME, as a user runs it; the last stdout line. */
function harnessxCluster(home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/harnessx.js'), 'cluster', ...args], { cwd: ROOT, env: { ...process.env, HARNESSX_HOME: home, HARNESSX_LOG_LEVEL: 'ERROR' }, encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`harnessx cluster ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1];
}

/**
 * The production-style deployment (`harnessx cluster up --host <bridge address>`): PostgreSQL, the Temporal
 * server on it, the Web UI and the S3 server, with the frontend and the S3 server on the test bridge.
 * `restartTemporal` SIGKILLs the Temporal server's process group and brings it back with a second `cluster
 * up` (PostgreSQL keeps the state).
 */
async function startClusterDeployment(listenAddress: string): Promise<Deployment> {
  const home = mkdtempSync(join(tmpdir(), 'hx-mh-cluster-'));
  // PostgreSQL runs as `nobody` when the tests run as root: it must be able to traverse to its data directory.
  chmodSync(home, 0o755);
  const portBase = 23000 + 16 * Math.floor(Math.random() * 500);
  let up = false;
  try {
    const settings = (JSON.parse(harnessxCluster(home, ['up', '--port-base', String(portBase), '--host', listenAddress, '--json'])) as { settings: Record<string, string> }).settings;
    up = true;
    expect(settings.TEMPORAL_ADDRESS).toBe(`${listenAddress}:${portBase}`);
    // The hosts share the cluster's bucket and nothing else: each keeps its own HARNESSX_HOME.
    const bucketEnv = { HARNESSX_STORE: settings.HARNESSX_STORE, AWS_ENDPOINT_URL_S3: settings.AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID: settings.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: settings.AWS_SECRET_ACCESS_KEY, AWS_REGION: settings.AWS_REGION };
    return {
      address: settings.TEMPORAL_ADDRESS,
      store: openStore({ defaultDir: join(home, 'unused'), env: bucketEnv }),
      workerEnv: () => ({ ...bucketEnv, TEMPORAL_NAMESPACE: settings.TEMPORAL_NAMESPACE }),
      restartTemporal: async () => {
        const status = JSON.parse(harnessxCluster(home, ['status', '--json'])) as { components: Array<{ name: string; pid: number | null }> };
        const pid = status.components.find((c) => c.name === 'temporal')?.pid;
        if (!pid) throw new Error('cluster status names no Temporal server pid');
        process.kill(-pid, 'SIGKILL');
        await waitFor(async () => portOpen(portBase, listenAddress), (open) => !open, 30_000, 'the Temporal server to be down');
        const again = JSON.parse(harnessxCluster(home, ['up', '--json'])) as { components: Array<{ name: string; started: boolean }> };
        // Only the Temporal server was started again: PostgreSQL kept running, with the run's state.
        expect(again.components.filter((c) => c.started).map((c) => c.name)).toEqual(['temporal']);
      },
      stop: async () => {
        harnessxCluster(home, ['down', '--purge']);
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (up) harnessxCluster(home, ['down', '--purge']);
    throw e;
  }
}

/** `harnessx worker` on a host, with its own HARNESSX_HOME; resolves once it polls. Its pid is the process's own. */
async function startHostWorker(host: NetnsHost, queue: string, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; identity: string; home: string }> {
  const home = join(tempDataDir(), host.name);
  mkdirSync(home, { recursive: true });
  const env: Record<string, string> = { HARNESSX_HOME: home, HARNESSX_TASK_QUEUE: queue, ...deployment!.workerEnv(home), ...extraEnv };
  const child = await spawnWorker({ address: deployment!.address, dataDir: env.HARNESSX_DATA_DIR ?? join(home, 'data'), env, spawn: host.spawn }, children);
  // `ip netns exec` execs the command, so this is node's pid, and the SDK's default identity is pid@hostname.
  return { child, identity: `${child.pid}@${hostname()}`, home };
}

type PendingActivity = { activityType?: { name?: string | null } | null; lastWorkerIdentity?: string | null; heartbeatDetails?: { payloads?: Array<{ data?: Uint8Array | null }> | null } | null };

/** The rollout activities in flight that fault injection is holding open, with the worker running each. */
async function heldRollouts(handle: WorkflowHandle): Promise<string[]> {
  const description = await handle.describe();
  return ((description.raw.pendingActivities ?? []) as PendingActivity[])
    .filter((a) => /rollout/i.test(a.activityType?.name ?? ''))
    .filter((a) => a.heartbeatDetails?.payloads?.some((p) => p.data && Buffer.from(p.data).toString('utf8').includes('"fault":"rollout"')))
    .map((a) => a.lastWorkerIdentity ?? '');
}

/** For every rollout activity attempt the run started: its attempt number and the worker that ran it. */
async function rolloutStarts(handle: WorkflowHandle): Promise<Array<{ attempt: number; identity: string }>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const types = new Map<string, string>();
  for (const e of events) if (e.activityTaskScheduledEventAttributes) types.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
  return events
    .filter((e) => e.activityTaskStartedEventAttributes && /rollout/i.test(types.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? ''))
    .map((e) => ({ attempt: e.activityTaskStartedEventAttributes!.attempt ?? 0, identity: e.activityTaskStartedEventAttributes!.identity ?? '' }));
}

async function expectSameRunAsReference(summary: RunSummary, runId: string): Promise<void> {
  const { summary: reference, ships: referenceShips } = await singleHostReference();
  // A reference that ships nothing would make "no ship lost or duplicated" vacuous.
  expect(reference.shipped).toBeGreaterThan(0);
  const audit = await deployment!.store.readAudit(runId);
  const ships = audit.filter((r) => r.stage === 'ship');
  // Nothing lost, nothing duplicated: one record per key, one ship per round, as many as the summary counts.
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  expect(new Set(ships.map((r) => r.round)).size).toBe(ships.length);
  expect(ships).toHaveLength(summary.shipped);
  expect(audit.filter((r) => r.stage === 'round_end').map((r) => r.round)).toEqual([1, 2, 3]);
  // The same run as on one host: the same ships in the same rounds, the same final harness and pass rate.
  expect(ships.map((r) => [r.round, r.harnessId])).toEqual(referenceShips);
  expect(summary.harnessId).toBe(reference.harnessId);
  expect(summary.shipped).toBe(reference.shipped);
  expect(summary.evolvedPassRate).toBe(reference.evolvedPassRate);
}

/** The run lives in the bucket only: neither host's own folder holds its audit log or run files. */
async function expectNothingLocal(workers: Array<{ home: string }>, runId: string): Promise<void> {
  for (const { home } of workers) {
    const local = new ArtifactStore(join(home, 'data'));
    expect(await local.readAudit(runId)).toEqual([]);
    const files = existsSync(home) ? (readdirSync(home, { recursive: true }) as string[]) : [];
    expect(files.filter((f) => f.includes(runId))).toEqual([]);
  }
}

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  network = createTestNetwork(2);
  deployment = await startClusterDeployment(network.hostAddress);
  client = new Client({ connection: await Connection.connect({ address: deployment.address }) });

});

afterAll(async () => {
  killAll(children);
  for (const host of network?.hosts ?? []) await host.killAll().catch(() => undefined);
  await deployment?.stop();
  network?.teardown();
  expect(leftovers()).toEqual([]);
});

/** Whether a TCP connection from inside `host` to address:port succeeds (a node one-liner run in the namespace). */
function canConnect(host: NetnsHost, address: string, port: number): Promise<boolean> {
  const probe = `require('net').connect({ host: ${JSON.stringify(address)}, port: ${port}, timeout: 2000 }).on('connect', () => process.exit(0)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1))`;
  const child = host.spawn(process.execPath, ['-e', probe], { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code === 0)));
}

it('a host reaches the deployment on the test subnet and nothing else of the machine', async () => {
  const [hostA] = network!.hosts;
  const [address, port] = deployment!.address.split(':');
  expect(await canConnect(hostA, address, Number(port))).toBe(true);
  // Whatever else of the machine listens (loopback, its other addresses) is out of a host's reach:
  // its loopback is its own, and it has no route beyond the test subnet.
  expect(await canConnect(hostA, '127.0.0.1', Number(port))).toBe(false);
  const others = Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4' && !i.internal && i.address !== network!.hostAddress);
  for (const other of others) expect(await canConnect(hostA, other!.address, Number(port))).toBe(false);
});

it("a crashed earlier run's namespaces and links are removed, a live run's are not", async () => {
  // A pid that no longer exists stands for the crashed run.
  const gone = spawn(process.execPath, ['-e', '']);
  const deadPid = await new Promise<number>((resolve) => gone.on('exit', () => resolve(gone.pid!)));
  execFileSync('ip', ['netns', 'add', `hxt${deadPid}-a`]);
  execFileSync('ip', ['link', 'add', `hxt${deadPid}-br`, 'type', 'bridge']);
  expect(leftovers(deadPid).sort()).toEqual([`link hxt${deadPid}-br`, `netns hxt${deadPid}-a`]);
  const removed = removeStale();
  expect(removed.sort()).toEqual([`link hxt${deadPid}-br`, `netns hxt${deadPid}-a`]);
  expect(leftovers(deadPid)).toEqual([]);
  // This run's own network is untouched.
  expect(leftovers().length).toBe(1 + 2 * network!.hosts.length);
});

it('a host SIGKILLed in the middle of a rollout: the run completes on the other host, exactly once, as on one host', async () => {
  const [hostA, hostB] = network!.hosts;
  const queue = 'mh-kill-host';
  await singleHostReference();
  // Host A alone at first, holding its first rollout open (fault injection), so the kill lands inside it.
  const a = await startHostWorker(hostA, queue, { HARNESSX_FAULT_DELAY: 'rollout:300000' });
  const handle = await client.workflow.start('evolveHarness', { taskQueue: queue, workflowId: queue, args: [input] });
  const held = await waitFor(() => heldRollouts(handle), (ids) => ids.length > 0, 120_000, 'host A to hold a rollout');
  expect(held).toEqual([a.identity]);
  const b = await startHostWorker(hostB, queue);

  const aExited = new Promise<NodeJS.Signals | null>((resolve) => a.child.once('exit', (_code, signal) => resolve(signal)));
  await hostA.killAll(); // every process of host A, as if the machine died
  expect(await aExited).toBe('SIGKILL');
  const summary = (await handle.result()) as RunSummary;

  await expectSameRunAsReference(summary, queue);
  await expectNothingLocal([a, b], queue);
  // The rollout host A was holding completed on host B, on a later attempt (history records an activity's
  // started event with its last attempt only, so host A's attempt shows in `held` above, not here).
  const starts = await rolloutStarts(handle);
  expect(starts.filter((s) => s.identity === b.identity && s.attempt >= 2).length).toBeGreaterThanOrEqual(1);
  expect(starts.filter((s) => s.identity === a.identity)).toEqual([]);
  await hostB.killAll();
});

it('the Temporal server restarted mid-run: the run completes on both hosts, as on one host', async () => {
  const [hostA, hostB] = network!.hosts;
  const queue = 'mh-restart-server';
  await singleHostReference();
  const workers = [await startHostWorker(hostA, queue), await startHostWorker(hostB, queue)];
  const handle = await client.workflow.start('evolveHarness', { taskQueue: queue, workflowId: queue, args: [input] });
  await waitFor(() => handle.query<RunStatus>('status'), (s) => s.round >= 2, 120_000, 'round 2');

  await deployment!.restartTemporal();
  // The client reconnects; the result is waited for through retries while the server comes back.
  const summary = (await waitFor(() => client.workflow.getHandle(queue).result(), () => true, 300_000, 'the result')) as RunSummary;

  await expectSameRunAsReference(summary, queue);
  await expectNothingLocal(workers, queue);
  // Every rollout ran on one of the two hosts (nothing else polls this queue).
  const identities = [...new Set((await rolloutStarts(handle)).map((s) => s.identity))];
  expect(identities.length).toBeGreaterThan(0);
  expect(identities.filter((identity) => !workers.some((w) => w.identity === identity))).toEqual([]);
  for (const host of network!.hosts) await host.killAll();
});

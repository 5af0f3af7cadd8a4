/**
 * `harnessx cluster up|down|status`: a production-style deployment on this machine — PostgreSQL, the
 * Temporal server on it (persistence and advanced visibility), the Web UI server and an S3-compatible
 * server (versitygw) — every one a real server, on ports that leave the dev server's alone.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ensureGoBinary, GO_BINARIES } from '../go-binaries';
import {
  CLUSTER_BUCKET,
  CLUSTER_NAMESPACE,
  CLUSTER_REGION,
  ClusterConfigError,
  ClusterPorts,
  clusterPorts,
  connectSettings,
  ConnectSettings,
  DEFAULT_HOST,
  DEFAULT_PORT_BASE,
  PORT_PURPOSE,
  uiServerConfig,
} from './config';
import { initPostgres, postgresBinDir, postgresFailure, postgresReady, startPostgres, waitForPostgres } from './postgres';
import { clusterDir, COMPONENT_LABEL, ComponentName, isDirectory, logFile, portFree, postgresUser, runningPid, startDetached, stopComponent, waitUntil } from './processes';
import { ensureBucket, s3Answering, s3Client } from './s3';
import { loadOrCreateSecrets, readSecrets, readState, writeState } from './state';
import { ensureNamespace, ensureSchemas, startTemporal, temporalConnection } from './temporal';

type Log = (line: string) => void;

/** The ports each component listens on (checked free before that component starts). */
const COMPONENT_PORTS: Record<ComponentName, Array<keyof ClusterPorts>> = {
  postgres: ['postgres'],
  temporal: ['frontendGrpc', 'frontendHttp', 'historyGrpc', 'matchingGrpc', 'workerGrpc', 'frontendMembership', 'historyMembership', 'matchingMembership', 'workerMembership'],
  ui: ['ui'],
  s3: ['s3'],
};

/** The components that listen on `--host`; PostgreSQL and the Web UI stay on loopback. */
const ON_HOST: ComponentName[] = ['temporal', 's3'];

async function checkPortsFree(name: ComponentName, ports: ClusterPorts, portBase: number, host: string): Promise<void> {
  const address = ON_HOST.includes(name) ? host : DEFAULT_HOST;
  for (const key of COMPONENT_PORTS[name])
    if (!(await portFree(ports[key], address)))
      throw new ClusterConfigError(
        `port ${ports[key]} (${PORT_PURPOSE[key]}) on ${address} is in use by another process, so the ${COMPONENT_LABEL[name]} cannot start; stop that process, or pass --port-base N to move the cluster's ports (now ${portBase}..${portBase + 12})`,
      );
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.ok;
}

function writeUiConfig(ports: ClusterPorts, host: string): string {
  const root = join(clusterDir(), 'ui');
  mkdirSync(join(root, 'config'), { recursive: true });
  writeFileSync(join(root, 'config', 'harnessx.yaml'), uiServerConfig(ports, CLUSTER_NAMESPACE, host));
  return root;
}

export interface UpResult {
  ports: ClusterPorts;
  settings: ConnectSettings;
  components: Array<{ name: ComponentName; pid: number; started: boolean }>;
  dataDir: string;
  /** True when this `up` generated the secrets (the first one, or after `down --purge`). */
  secretsCreated: boolean;
}

async function step<T>(log: Log, what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  log(`${what}…`);
  const value = await fn();
  log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return value;
}

/**
 * Starts whatever of the cluster is not running yet and sets it up; a second `up` reuses the running
 * processes and re-checks the schemas, namespace and bucket (all idempotent).
 */
export async function clusterUp(options: { portBase?: number; host?: string; log: Log }): Promise<UpResult> {
  const { log } = options;
  const previous = readState();
  const runningAny = (['postgres', 'temporal', 'ui', 's3'] as const).some((c) => runningPid(c) !== null);
  if (previous && runningAny && options.portBase !== undefined && options.portBase !== previous.portBase)
    throw new ClusterConfigError(`the cluster in ${clusterDir()} is running on --port-base ${previous.portBase}; run \`harnessx cluster down\` before moving it to ${options.portBase}`);
  const portBase = options.portBase ?? previous?.portBase ?? DEFAULT_PORT_BASE;
  const ports = clusterPorts(portBase);
  if (previous && runningAny && options.host !== undefined && options.host !== (previous.host ?? DEFAULT_HOST))
    throw new ClusterConfigError(`the cluster in ${clusterDir()} is running on --host ${previous.host ?? DEFAULT_HOST}; run \`harnessx cluster down\` before moving it to ${options.host}`);
  const host = options.host ?? previous?.host ?? DEFAULT_HOST;

  // Everything that can be missing is found (or built) before anything starts.
  const pgBin = postgresBinDir();
  const binaries = {
    server: await ensureGoBinary(GO_BINARIES.temporalServer, log),
    sqlTool: await ensureGoBinary(GO_BINARIES.temporalSqlTool, log),
    ui: await ensureGoBinary(GO_BINARIES.uiServer, log),
    s3: await ensureGoBinary(GO_BINARIES.versitygw, log),
  };
  mkdirSync(clusterDir(), { recursive: true });
  writeState({ portBase, host, createdAt: previous?.createdAt ?? new Date().toISOString() });
  // Whether this `up` generates the keys: only then (or on --show-secrets) does the CLI print the secret key.
  const secretsCreated = readSecrets() === null;
  const secrets = loadOrCreateSecrets();
  const components: UpResult['components'] = [];
  const already = (name: ComponentName) => {
    const pid = runningPid(name);
    if (pid !== null) {
      log(`${COMPONENT_LABEL[name]} is running (pid ${pid}).`);
      components.push({ name, pid, started: false });
    }
    return pid !== null;
  };

  // 1. PostgreSQL.
  if (!already('postgres')) {
    await checkPortsFree('postgres', ports, portBase, host);
    const runAs = postgresUser();
    initPostgres(pgBin, secrets.postgresPassword, runAs, log);
    const pid = await step(log, `Starting PostgreSQL on 127.0.0.1:${ports.postgres}`, async () => {
      const pid = startPostgres(pgBin, ports.postgres, runAs);
      try {
        await waitForPostgres(pgBin, ports.postgres, pid, log);
      } catch (e) {
        await stopComponent('postgres', 'SIGINT');
        throw postgresFailure(`PostgreSQL did not start: ${(e as Error).message.split(';')[0]}`);
      }
      return pid;
    });
    components.push({ name: 'postgres', pid, started: true });
  } else if (!(await postgresReady(pgBin, ports.postgres))) throw postgresFailure(`PostgreSQL (pid ${runningPid('postgres')}) is running but not accepting connections on 127.0.0.1:${ports.postgres}`);

  // 2. The Temporal schemas.
  await step(log, 'Setting up the Temporal schemas (temporal-sql-tool, PostgreSQL 12+ plugin)', async () => ensureSchemas(binaries.sqlTool, pgBin, ports, secrets, log));

  // 3. The Temporal server, then its namespace and search attributes.
  if (!already('temporal')) {
    await checkPortsFree('temporal', ports, portBase, host);
    const pid = await step(log, `Starting the Temporal server ${GO_BINARIES.temporalServer.version} on ${host}:${ports.frontendGrpc}`, () => startTemporal(binaries.server, ports, secrets, host, log));
    components.push({ name: 'temporal', pid, started: true });
  }
  await step(log, `Registering namespace ${CLUSTER_NAMESPACE} and the search attributes`, () => ensureNamespace(ports, host, log));

  // 4. The Web UI server.
  if (!already('ui')) {
    await checkPortsFree('ui', ports, portBase, host);
    const root = writeUiConfig(ports, host);
    const pid = await step(log, `Starting the Temporal Web UI ${GO_BINARIES.uiServer.version} on http://localhost:${ports.ui}`, async () => {
      const pid = startDetached('ui', { command: binaries.ui, args: ['--root', root, '--config', 'config', '--env', 'harnessx', 'start'], cwd: root });
      await waitUntil(`the Web UI on 127.0.0.1:${ports.ui}`, () => httpOk(`http://127.0.0.1:${ports.ui}/`), { timeoutMs: 60_000, pid, name: 'ui', log });
      return pid;
    });
    components.push({ name: 'ui', pid, started: true });
  }

  // 5. The S3 server and the bucket.
  if (!already('s3')) {
    await checkPortsFree('s3', ports, portBase, host);
    const data = join(clusterDir(), 's3');
    mkdirSync(data, { recursive: true });
    const pid = await step(log, `Starting the S3 server (versitygw ${GO_BINARIES.versitygw.version}, posix backend in ${data}) on ${host}:${ports.s3}`, async () => {
      // The root keys reach versitygw through its environment, never its command line (visible in ps).
      const env = { ...process.env, ROOT_ACCESS_KEY_ID: secrets.s3AccessKeyId, ROOT_SECRET_ACCESS_KEY: secrets.s3SecretAccessKey, VGW_REGION: CLUSTER_REGION };
      const pid = startDetached('s3', { command: binaries.s3, args: ['--port', `${host}:${ports.s3}`, 'posix', data], env });
      await waitUntil(`the S3 server on ${host}:${ports.s3}`, () => s3Answering(ports, secrets, host), { timeoutMs: 60_000, pid, name: 's3', log });
      return pid;
    });
    components.push({ name: 's3', pid, started: true });
  }
  await ensureBucket(ports, secrets, host, log);
  return { ports, settings: connectSettings(ports, { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey }, host), components, dataDir: clusterDir(), secretsCreated };
}

export interface ComponentStatus {
  name: ComponentName;
  label: string;
  pid: number | null;
  port: number;
  healthy: boolean;
  detail: string;
  log: string;
}

/** Each component: its pid (if running), its port, and whether it answers as it should. */
export async function clusterStatus(): Promise<{ exists: boolean; portBase: number; components: ComponentStatus[] }> {
  const state = readState();
  const portBase = state?.portBase ?? DEFAULT_PORT_BASE;
  const host = state?.host ?? DEFAULT_HOST;
  const ports = clusterPorts(portBase);
  const secrets = readSecrets();
  const probe = async (name: ComponentName, port: number, check: () => Promise<string>): Promise<ComponentStatus> => {
    const pid = runningPid(name);
    const base = { name, label: COMPONENT_LABEL[name], pid, port, log: logFile(name) };
    try {
      const detail = await check();
      return { ...base, healthy: pid !== null, detail: pid === null ? `answers on ${port}, but not the process \`cluster up\` started` : detail };
    } catch (e) {
      const why = (e as Error).message.split('\n')[0];
      return { ...base, healthy: false, detail: pid === null ? 'not running' : `running but not healthy: ${why}` };
    }
  };
  const components = await Promise.all([
    probe('postgres', ports.postgres, async () => {
      if (!(await postgresReady(postgresBinDir(), ports.postgres))) throw new Error(`no answer on 127.0.0.1:${ports.postgres}`);
      return 'accepting connections';
    }),
    probe('temporal', ports.frontendGrpc, async () => {
      const connection = await temporalConnection(ports, host);
      try {
        const info = await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace: CLUSTER_NAMESPACE });
        return `serving (server ${info.serverVersion}), namespace ${CLUSTER_NAMESPACE} registered`;
      } finally {
        await connection.close();
      }
    }),
    probe('ui', ports.ui, async () => {
      if (!(await httpOk(`http://127.0.0.1:${ports.ui}/`))) throw new Error('HTTP status not 200');
      return `http://localhost:${ports.ui}`;
    }),
    probe('s3', ports.s3, async () => {
      if (!secrets) throw new Error('no credentials (secrets.json missing)');
      const client = s3Client(ports, secrets, host);
      try {
        await client.send(new HeadBucketCommand({ Bucket: CLUSTER_BUCKET }));
        // Reachable is not enough: a full disk answers HEAD but refuses every write (507), which fails runs.
        const Key = '.harnessx-status-write-probe';
        try {
          await client.send(new PutObjectCommand({ Bucket: CLUSTER_BUCKET, Key, Body: 'probe' }));
          await client.send(new DeleteObjectCommand({ Bucket: CLUSTER_BUCKET, Key }));
        } catch (e) {
          const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          throw new Error(`bucket ${CLUSTER_BUCKET} reachable but not writable${status ? ` (HTTP ${status}${status === 507 ? ': the disk is full' : ''})` : ''}: ${(e as Error).message}`);
        }
        return `bucket ${CLUSTER_BUCKET} reachable and writable`;
      } finally {
        client.destroy();
      }
    }),
  ]);
  return { exists: state !== null, portBase, components };
}

/** Stops every component (pid files, process groups), the Temporal server before its database; keeps data unless `purge`. */
export async function clusterDown(options: { purge: boolean; log: Log }): Promise<void> {
  const order: Array<[ComponentName, NodeJS.Signals]> = [
    ['ui', 'SIGTERM'],
    ['temporal', 'SIGTERM'],
    ['s3', 'SIGTERM'],
    // SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for clients to disconnect).
    ['postgres', 'SIGINT'],
  ];
  for (const [name, signal] of order) {
    const pid = runningPid(name);
    if (await stopComponent(name, signal)) options.log(`Stopped ${COMPONENT_LABEL[name]} (pid ${pid}).`);
  }
  if (options.purge) {
    if (isDirectory(clusterDir())) rmSync(clusterDir(), { recursive: true, force: true });
    options.log(`Removed ${clusterDir()} (databases, bucket, logs, keys).`);
  } else options.log(`Data kept in ${clusterDir()} (\`cluster down --purge\` removes it).`);
}


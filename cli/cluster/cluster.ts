/**
 * `harnessx cluster up|down|status`: a production-style deployment on this machine — PostgreSQL, the
 * Temporal server on it (persistence and advanced visibility), the Web UI server and an S3-compatible
 * server (versitygw) — every one a real server, on ports that leave the dev server's alone.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
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
  NAMESPACE_RETENTION_DAYS,
  PORT_PURPOSE,
  POSTGRES_USER,
  searchAttributeTypes,
  temporalDynamicConfig,
  TEMPORAL_DATABASE,
  temporalServerConfig,
  uiServerConfig,
  VISIBILITY_DATABASE,
} from './config';
import { initPostgres, postgresBinDir, postgresFailure, postgresReady, psql, startPostgres, waitForPostgres } from './postgres';
import { clusterDir, COMPONENT_LABEL, ComponentName, isDirectory, logFile, portFree, postgresUser, runningPid, startDetached, stopComponent, waitUntil } from './processes';

type Log = (line: string) => void;

/** What `up` remembers for `status` and `down` (no secrets: those are in secrets.json, mode 0600). */
interface ClusterState {
  portBase: number;
  /** The address the Temporal frontend and the S3 server listen on (`--host`); absent: loopback. */
  host?: string;
  createdAt: string;
}

interface ClusterSecrets {
  postgresPassword: string;
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
}

const stateFile = () => join(clusterDir(), 'cluster.json');
const secretsFile = () => join(clusterDir(), 'secrets.json');

function readState(): ClusterState | null {
  if (!existsSync(stateFile())) return null;
  return JSON.parse(readFileSync(stateFile(), 'utf8')) as ClusterState;
}

/** Generated once, kept across `up`s (the database's password and the bucket's keys must not change under it). */
function loadOrCreateSecrets(): ClusterSecrets {
  if (existsSync(secretsFile())) {
    chmodSync(secretsFile(), 0o600);
    return JSON.parse(readFileSync(secretsFile(), 'utf8')) as ClusterSecrets;
  }
  const secrets: ClusterSecrets = {
    postgresPassword: randomBytes(18).toString('base64url'),
    s3AccessKeyId: `HX${randomBytes(9).toString('hex').toUpperCase()}`,
    s3SecretAccessKey: randomBytes(30).toString('base64url'),
  };
  writeFileSync(secretsFile(), JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}

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

async function temporalConnection(ports: ClusterPorts, host: string): Promise<Connection> {
  return Connection.connect({ address: `${host}:${ports.frontendGrpc}`, connectTimeout: 3000 });
}

async function temporalServing(ports: ClusterPorts, host: string): Promise<boolean> {
  const connection = await temporalConnection(ports, host);
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.ok;
}

function s3Client(ports: ClusterPorts, secrets: ClusterSecrets, host: string): S3Client {
  return new S3Client({
    endpoint: `http://${host}:${ports.s3}`,
    region: CLUSTER_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey },
    maxAttempts: 1,
  });
}

async function s3Answering(ports: ClusterPorts, secrets: ClusterSecrets, host: string): Promise<boolean> {
  const client = s3Client(ports, secrets, host);
  try {
    await client.send(new HeadBucketCommand({ Bucket: CLUSTER_BUCKET }));
    return true;
  } catch (e) {
    // A 404 is an answer: the server is up, the bucket not made yet.
    return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
  } finally {
    client.destroy();
  }
}

/** Runs temporal-sql-tool with the password in its environment (SQL_PASSWORD), never on its command line. */
function sqlTool(tool: string, ports: ClusterPorts, secrets: ClusterSecrets, database: string, args: string[]): void {
  const r = spawnSync(tool, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(ports.postgres), '-u', POSTGRES_USER, '--db', database, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SQL_PASSWORD: secrets.postgresPassword },
  });
  if (r.status !== 0) throw new Error(`temporal-sql-tool ${args[0]} on database ${database} failed (exit ${r.status}):\n${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n')}`);
}

/**
 * The Temporal databases and schemas, idempotent: each database is created when missing, its versioning
 * tables set up when missing, and update-schema applies only the versions not applied yet. The schemas are
 * the ones embedded in the SQL tool of the server's own version (the same files as the server module's
 * schema/postgresql/v12), so a tool found through TEMPORAL_SQL_TOOL_PATH needs no Go module cache.
 */
function ensureSchemas(tool: string, bin: string, ports: ClusterPorts, secrets: ClusterSecrets, log: Log): void {
  for (const [database, schema] of [
    [TEMPORAL_DATABASE, 'postgresql/v12/temporal'],
    [VISIBILITY_DATABASE, 'postgresql/v12/visibility'],
  ] as const) {
    const exists = psql(bin, ports.postgres, secrets.postgresPassword, 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${database}'`) === '1';
    if (!exists) {
      log(`  creating database ${database}`);
      sqlTool(tool, ports, secrets, database, ['create-database']);
    }
    const versioned = psql(bin, ports.postgres, secrets.postgresPassword, database, `SELECT to_regclass('public.schema_version') IS NOT NULL`) === 't';
    if (!versioned) sqlTool(tool, ports, secrets, database, ['setup-schema', '-v', '0.0']);
    sqlTool(tool, ports, secrets, database, ['update-schema', '--schema-name', schema]);
    const version = psql(bin, ports.postgres, secrets.postgresPassword, database, 'SELECT curr_version FROM schema_version LIMIT 1');
    log(`  ${database}: schema ${version}`);
  }
}

function writeTemporalConfig(ports: ClusterPorts, secrets: ClusterSecrets, host: string): string {
  const root = join(clusterDir(), 'temporal');
  mkdirSync(join(root, 'config'), { recursive: true });
  const dynamic = join(root, 'config', 'dynamicconfig.yaml');
  writeFileSync(dynamic, temporalDynamicConfig());
  // The config holds the database password: readable by this user only.
  writeFileSync(join(root, 'config', 'harnessx.yaml'), temporalServerConfig({ ports, host, postgresPassword: secrets.postgresPassword, dynamicConfigFile: dynamic }), { mode: 0o600 });
  chmodSync(join(root, 'config', 'harnessx.yaml'), 0o600);
  return root;
}

async function startTemporal(binary: string, ports: ClusterPorts, secrets: ClusterSecrets, host: string, log: Log): Promise<number> {
  const root = writeTemporalConfig(ports, secrets, host);
  const start = () => startDetached('temporal', { command: binary, args: ['--root', root, '--config', 'config', '--env', 'harnessx', '--allow-no-auth', 'start'], cwd: root });
  // All services in one process: on a fresh database, services started at the same moment from separate
  // processes race to save the cluster metadata (`SaveClusterMetadata encountered version mismatch`).
  let pid = start();
  try {
    await waitUntil(`the Temporal server on ${host}:${ports.frontendGrpc}`, () => temporalServing(ports, host), { timeoutMs: 120_000, pid, name: 'temporal', log });
  } catch (e) {
    // Should the race still hit a first start inside one process, the metadata is saved by then: one more start.
    if (!/SaveClusterMetadata encountered version mismatch/.test(readFileSync(logFile('temporal'), 'utf8'))) throw e;
    log('  the first start lost the cluster-metadata race on the fresh database; starting once more');
    await stopComponent('temporal');
    pid = start();
    await waitUntil(`the Temporal server on ${host}:${ports.frontendGrpc}`, () => temporalServing(ports, host), { timeoutMs: 120_000, pid, name: 'temporal', log });
  }
  return pid;
}

/** The `default` namespace (a fresh database has none) and the search attributes the workflows set. */
async function ensureNamespace(ports: ClusterPorts, host: string, log: Log): Promise<void> {
  const connection = await temporalConnection(ports, host);
  try {
    const namespaceExists = async () => {
      try {
        await connection.workflowService.describeNamespace({ namespace: CLUSTER_NAMESPACE });
        return true;
      } catch (e) {
        if ((e as { code?: number }).code === 5 /* NOT_FOUND */) return false;
        throw e;
      }
    };
    if (!(await namespaceExists())) {
      log(`  registering namespace ${CLUSTER_NAMESPACE} (retention ${NAMESPACE_RETENTION_DAYS} days)`);
      try {
        await connection.workflowService.registerNamespace({ namespace: CLUSTER_NAMESPACE, workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_DAYS} days`) });
      } catch (e) {
        if ((e as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw e;
      }
    }
    const wanted = searchAttributeTypes();
    // The frontend learns a new namespace from its registry (refreshed every few seconds): until then
    // search-attribute calls answer NOT_FOUND, so they are retried until the namespace is known.
    await waitUntil(`namespace ${CLUSTER_NAMESPACE} on the frontend`, async () => {
      const listed = await connection.operatorService.listSearchAttributes({ namespace: CLUSTER_NAMESPACE });
      const missing = Object.fromEntries(Object.entries(wanted).filter(([name]) => !(name in (listed.customAttributes ?? {}))));
      if (Object.keys(missing).length === 0) return true;
      log(`  adding search attributes ${Object.keys(missing).join(', ')}`);
      await connection.operatorService.addSearchAttributes({ namespace: CLUSTER_NAMESPACE, searchAttributes: missing });
      return false;
    }, { timeoutMs: 60_000 });
    // A query naming every attribute succeeds only once the frontend maps them all.
    const query = Object.keys(wanted).map((name) => `${name} IS NULL`).join(' AND ');
    await waitUntil('the search attributes in visibility queries', async () => {
      await connection.workflowService.countWorkflowExecutions({ namespace: CLUSTER_NAMESPACE, query });
      return true;
    }, { timeoutMs: 60_000 });
  } finally {
    await connection.close();
  }
}

function writeUiConfig(ports: ClusterPorts, host: string): string {
  const root = join(clusterDir(), 'ui');
  mkdirSync(join(root, 'config'), { recursive: true });
  writeFileSync(join(root, 'config', 'harnessx.yaml'), uiServerConfig(ports, CLUSTER_NAMESPACE, host));
  return root;
}

async function ensureBucket(ports: ClusterPorts, secrets: ClusterSecrets, host: string, log: Log): Promise<void> {
  const client = s3Client(ports, secrets, host);
  try {
    await client.send(new CreateBucketCommand({ Bucket: CLUSTER_BUCKET }));
    log(`  created bucket ${CLUSTER_BUCKET}`);
  } catch (e) {
    const name = (e as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
  } finally {
    client.destroy();
  }
}

export interface UpResult {
  ports: ClusterPorts;
  settings: ConnectSettings;
  components: Array<{ name: ComponentName; pid: number; started: boolean }>;
  dataDir: string;
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
  writeFileSync(stateFile(), JSON.stringify({ portBase, host, createdAt: previous?.createdAt ?? new Date().toISOString() } satisfies ClusterState, null, 2) + '\n');
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
  return { ports, settings: connectSettings(ports, { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey }, host), components, dataDir: clusterDir() };
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
  const secrets = existsSync(secretsFile()) ? (JSON.parse(readFileSync(secretsFile(), 'utf8')) as ClusterSecrets) : null;
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
        return `bucket ${CLUSTER_BUCKET} reachable`;
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


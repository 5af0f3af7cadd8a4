import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { CLUSTER_NAMESPACE, ClusterPorts, NAMESPACE_RETENTION_DAYS, POSTGRES_USER, searchAttributeTypes, temporalDynamicConfig, TEMPORAL_DATABASE, temporalServerConfig, VISIBILITY_DATABASE } from './config';
import { psql } from './postgres';
import { clusterDir, logFile, startDetached, stopComponent, waitUntil } from './processes';
import type { ClusterSecrets } from './state';

/** The cluster's Temporal part: schemas on PostgreSQL, the server process, its namespace and search attributes. */

type Log = (line: string) => void;

export async function temporalConnection(ports: ClusterPorts, host: string): Promise<Connection> {
  return Connection.connect({ address: `${host}:${ports.frontendGrpc}`, connectTimeout: 3000 });
}

export async function temporalServing(ports: ClusterPorts, host: string): Promise<boolean> {
  const connection = await temporalConnection(ports, host);
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
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
export function ensureSchemas(tool: string, bin: string, ports: ClusterPorts, secrets: ClusterSecrets, log: Log): void {
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

export async function startTemporal(binary: string, ports: ClusterPorts, secrets: ClusterSecrets, host: string, log: Log): Promise<number> {
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
export async function ensureNamespace(ports: ClusterPorts, host: string, log: Log): Promise<void> {
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

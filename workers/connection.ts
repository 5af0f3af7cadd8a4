import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { connectionSettings, type ConnectionSettings, DEV_SERVER } from '../temporal.config';
import { dataConverter } from './codec';

/**
 * A Temporal setting that does not fit the server it points at (no such namespace, nothing listening):
 * the message names the environment variable, so a worker or a run fails at start with the cause instead
 * of retrying behind it.
 */
export class TemporalSettingError extends Error {}

function tlsOptions() {
  const s = connectionSettings();
  if (!s.tls) return undefined;
  if (s.clientCertPath && s.clientKeyPath)
    return { clientCertPair: { crt: readFileSync(s.clientCertPath), key: readFileSync(s.clientKeyPath) } };
  return true;
}

function addressSetting(s: ConnectionSettings): string {
  return s.external ? `TEMPORAL_ADDRESS=${s.address}` : `the Temporal server at ${s.address} (TEMPORAL_ADDRESS is unset)`;
}

async function connecting<T>(s: ConnectionSettings, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (e) {
    throw new TemporalSettingError(`${addressSetting(s)}: cannot connect (${(e as Error).message.split('\n')[0]}); is the server running, and is the address host:port of its frontend?`, { cause: e });
  }
}

type NamespaceService = Pick<Connection['workflowService'], 'describeNamespace' | 'listNamespaces'>;

/** The configured namespace exists on the server; otherwise a TemporalSettingError naming TEMPORAL_NAMESPACE and the namespaces there are. */
export async function checkNamespace(service: NamespaceService, s: ConnectionSettings = connectionSettings()): Promise<void> {
  try {
    await service.describeNamespace({ namespace: s.namespace });
  } catch (e) {
    if ((e as { code?: number }).code !== 5 /* gRPC NOT_FOUND */) throw e;
    let known = '';
    try {
      const listed = await service.listNamespaces({ pageSize: 100 });
      known = (listed.namespaces ?? []).map((n) => n.namespaceInfo?.name).filter((n): n is string => !!n && n !== 'temporal-system').join(', ');
    } catch {
      /* listing may be refused (Temporal Cloud API keys are per namespace): the message goes without it */
    }
    const setting = process.env.TEMPORAL_NAMESPACE ? `TEMPORAL_NAMESPACE=${s.namespace}` : `TEMPORAL_NAMESPACE is unset, so namespace "${s.namespace}"`;
    throw new TemporalSettingError(
      `${setting}: no such namespace on the Temporal server at ${s.address}${known ? ` (it has: ${known})` : ''}; set TEMPORAL_NAMESPACE to an existing namespace, or register it (temporal operator namespace create --namespace ${s.namespace} --address ${s.address})`,
    );
  }
}

type SearchAttributeService = Pick<NativeConnection['operatorService'], 'listSearchAttributes'>;

/**
 * The namespace has the project's search attributes (temporal.config.ts DEV_SERVER.searchAttributes):
 * a run upserts them (unless its input says searchAttributes: false), and a server without them fails
 * every workflow task of the run, so the run would sit at "setup" with the cause only in the server's
 * history. The dev server and `harnessx cluster up` register them; another server needs them added once.
 * Where the listing is refused (Temporal Cloud API keys may not reach the operator service), it is skipped.
 */
export async function checkSearchAttributes(service: SearchAttributeService, s: ConnectionSettings = connectionSettings()): Promise<void> {
  let present: Record<string, unknown>;
  try {
    present = (await service.listSearchAttributes({ namespace: s.namespace })).customAttributes ?? {};
  } catch {
    return;
  }
  const missing = Object.entries(DEV_SERVER.searchAttributes).filter(([name]) => !(name in present));
  if (!missing.length) return;
  const commands = missing.map(([name, type]) => `temporal operator search-attribute create --namespace ${s.namespace} --address ${s.address} --name ${name} --type ${type}`).join('; ');
  throw new TemporalSettingError(
    `namespace "${s.namespace}" on the Temporal server at ${s.address} lacks the search attributes runs record (${missing.map(([name]) => name).join(', ')}): every run would stop at setup. Add them once: ${commands}`,
  );
}

/** Largest gRPC message the CLI's client accepts (a history page; the server sends pages of up to its own limit). */
const MAX_RECEIVE_BYTES = 256 * 1024 * 1024;

export async function connectClient(): Promise<Client> {
  const s = connectionSettings();
  // A deployment's history pages run past gRPC's default 4 MiB message limit (reports carry traces), and
  // `harnessx replay` reads them whole.
  const connection = await connecting(s, () => Connection.connect({ address: s.address, tls: tlsOptions(), apiKey: s.apiKey, channelArgs: { 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES } }));
  await checkNamespace(connection.workflowService, s);
  return new Client({ connection, namespace: s.namespace, dataConverter: dataConverter() });
}

export async function connectWorker(): Promise<NativeConnection> {
  const s = connectionSettings();
  const connection = await connecting(s, () => NativeConnection.connect({ address: s.address, tls: tlsOptions(), apiKey: s.apiKey }));
  // Worker.create would also refuse an unknown namespace, but with the server's words only.
  await checkNamespace(connection.workflowService, s);
  await checkSearchAttributes(connection.operatorService, s);
  return connection;
}

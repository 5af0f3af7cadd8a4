import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { connectionSettings } from '../temporal.config';
import { dataConverter } from './codec';

function tlsOptions() {
  const s = connectionSettings();
  if (!s.tls) return undefined;
  if (s.clientCertPath && s.clientKeyPath)
    return { clientCertPair: { crt: readFileSync(s.clientCertPath), key: readFileSync(s.clientKeyPath) } };
  return true;
}

export async function connectClient(): Promise<Client> {
  const s = connectionSettings();
  const connection = await Connection.connect({ address: s.address, tls: tlsOptions(), apiKey: s.apiKey });
  return new Client({ connection, namespace: s.namespace, dataConverter: dataConverter() });
}

export async function connectWorker(): Promise<NativeConnection> {
  const s = connectionSettings();
  return NativeConnection.connect({ address: s.address, tls: tlsOptions(), apiKey: s.apiKey });
}

import { createAegisWorker, installRuntime } from '../workers/aegis-worker';
import { connectClient, connectWorker } from '../workers/connection';
import { ensureDevServer } from './dev-server';
import { dataDir } from './paths';
import { checkedCliStore } from './store';

/**
 * What a run-starting command needs: a Temporal server (the dev server is started if none is reachable),
 * a client to start the workflow, and an AEGIS worker in this process to run it (`worker.runUntil`).
 */
export async function startLocalWorker(log: (line: string) => void, config?: string) {
  // The store first: a wrong HARNESSX_STORE, endpoint or key fails here, before a server starts or a run begins.
  const store = await checkedCliStore();
  await ensureDevServer(log);
  installRuntime();
  const client = await connectClient();
  const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir(), store, config });
  return { client, worker };
}

/** A UTC timestamp for default workflow ids: 20261130154012. */
export function idTimestamp(): string {
  return new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
}

import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { connectionSettings, taskQueue } from '../temporal.config';
import { createAegisWorker, installRuntime } from '../workers/aegis-worker';
import { connectClient, connectWorker } from '../workers/connection';
import { ensureDevServer } from './dev-server';
import { UsageError } from './errors';
import { dataDir } from './paths';
import { checkedCliStore } from './store';

/** What runs a started workflow until it ends: the in-process worker, or (not joining) nothing but the wait itself. */
export type RunWaiter = Pick<Worker, 'runUntil'>;

/**
 * Whether a run-starting command joins the task queue as a worker in its own process: yes by default (one
 * machine, one command); not with `--no-worker` or HARNESSX_LOCAL_WORKER=off, for the machine that only
 * starts runs on a cluster whose workers are elsewhere.
 */
export function joinsAsWorker(noWorkerFlag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  const setting = env.HARNESSX_LOCAL_WORKER?.trim().toLowerCase();
  if (setting && setting !== 'on' && setting !== 'off') throw new UsageError(`HARNESSX_LOCAL_WORKER=${JSON.stringify(env.HARNESSX_LOCAL_WORKER)}: expected "on" or "off"`);
  return !noWorkerFlag && setting !== 'off';
}

/**
 * What a run-starting command needs: a Temporal server (the dev server is started if none is reachable),
 * a client to start the workflow, and an AEGIS worker in this process to run it (`worker.runUntil`) —
 * unless the command does not join (see joinsAsWorker): then runUntil only waits, and a note says so when
 * no worker polls the task queue (the run would wait for one).
 */
export async function startLocalWorker(log: (line: string) => void, config?: string, options: { noWorker?: boolean } = {}): Promise<{ client: Client; worker: RunWaiter }> {
  const join = joinsAsWorker(options.noWorker);
  // The store first: a wrong HARNESSX_STORE, endpoint or key fails here, before a server starts or a run begins.
  const store = await checkedCliStore();
  await ensureDevServer(log);
  installRuntime();
  const client = await connectClient();
  if (!join) {
    await notePollers(client, log);
    return { client, worker: { runUntil: (work) => (typeof work === 'function' ? work() : work) } };
  }
  const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir(), store, config });
  return { client, worker };
}

/** Not joining: say whether any worker polls the task queue, since a run nobody polls for waits silently. */
async function notePollers(client: Client, log: (line: string) => void): Promise<void> {
  const { address, namespace } = connectionSettings();
  const queue = taskQueue();
  const { pollers } = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name: queue } });
  if (pollers?.length) log(`Not joining as a worker (--no-worker / HARNESSX_LOCAL_WORKER=off): ${pollers.length} worker(s) poll ${queue} on ${address}.`);
  else log(`Not joining as a worker (--no-worker / HARNESSX_LOCAL_WORKER=off), and no worker polls task queue ${queue} on ${address} yet: the run waits until one does (npx harnessx worker).`);
}

/** A UTC timestamp for default workflow ids: 20261130154012. */
export function idTimestamp(): string {
  return new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
}

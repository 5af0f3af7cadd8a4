import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { connectionSettings, DEV_SERVER } from '../temporal.config';
import { stateDir } from './paths';
import { ensureTemporalCli } from './temporal-cli';

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The flags that register the project's search attributes on a dev server. */
export function searchAttributeArgs(): string[] {
  return Object.entries(DEV_SERVER.searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

export function devServerArgs(dbFile: string): string[] {
  const args = ['server', 'start-dev', '--db-filename', dbFile, '--port', String(DEV_SERVER.port), '--ui-port', String(DEV_SERVER.uiPort), '--namespace', DEV_SERVER.namespace, '--log-level', 'warn'];
  return [...args, ...searchAttributeArgs()];
}

/**
 * Makes sure a Temporal server is reachable: with TEMPORAL_ADDRESS set nothing is started; otherwise a
 * dev server already listening on 7233 is reused, or one is started (SQLite in .harnessx/) and left
 * running in the background so the Web UI stays up after the run.
 */
export async function ensureDevServer(log: (line: string) => void, options: { foreground?: boolean } = {}): Promise<{ started: boolean; address: string }> {
  const settings = connectionSettings();
  if (settings.external) return { started: false, address: settings.address };
  if (await portOpen(DEV_SERVER.port)) {
    log(`Reusing the Temporal server on 127.0.0.1:${DEV_SERVER.port} (Web UI http://localhost:${DEV_SERVER.uiPort}).`);
    return { started: false, address: settings.address };
  }
  const cli = await ensureTemporalCli(log);
  const dir = stateDir();
  mkdirSync(dir, { recursive: true });
  const args = devServerArgs(join(dir, 'temporal.sqlite'));
  if (options.foreground) {
    log(`Starting the Temporal dev server: ${cli} ${args.join(' ')}`);
    const child = spawn(cli, args, { stdio: 'inherit' });
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    return { started: true, address: settings.address };
  }
  const logFile = join(dir, 'temporal-server.log');
  const out = openSync(logFile, 'a');
  const child = spawn(cli, args, { stdio: ['ignore', out, out], detached: true });
  child.unref();
  log(`Started the Temporal dev server (pid ${child.pid}; SQLite at ${join(dir, 'temporal.sqlite')}; log ${logFile}).`);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await portOpen(DEV_SERVER.port)) return { started: true, address: settings.address };
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the Temporal dev server did not open port ${DEV_SERVER.port} within 60 s; see ${logFile}`);
}

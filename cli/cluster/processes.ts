/**
 * The cluster's long-running processes: each started detached in its own process group, its output in a
 * log file, its pid in a pid file, so `cluster down` (another CLI process, later) stops exactly what `up`
 * started — the whole group, never anything found by name.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stateDir } from '../paths';

export type ComponentName = 'postgres' | 'temporal' | 'ui' | 's3';

export const COMPONENT_LABEL: Record<ComponentName, string> = {
  postgres: 'PostgreSQL',
  temporal: 'Temporal server',
  ui: 'Temporal Web UI',
  s3: 'S3 server (versitygw)',
};

/** Everything the cluster keeps: data, generated config, logs, pid files, secrets. */
export function clusterDir(): string {
  return join(stateDir(), 'cluster');
}
export function logFile(name: ComponentName): string {
  return join(clusterDir(), 'logs', `${name}.log`);
}
function pidFile(name: ComponentName): string {
  return join(clusterDir(), 'run', `${name}.pid`);
}

/** The user PostgreSQL runs as: initdb and postgres refuse to run as root. */
export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * As root, `nobody` (present on every Linux, owns nothing else we touch); otherwise the current user.
 * Node's spawn sets the uid and gid and drops supplementary groups, so no runuser/su is needed.
 */
export function postgresUser(): RunAs | undefined {
  if (!isRoot()) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) throw new Error('running as root, PostgreSQL must run as an unprivileged user, and user "nobody" does not exist on this machine; run `harnessx cluster up` as an ordinary user');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name: 'nobody' };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The recorded pid of a component when that process is still alive; null otherwise (a stale pid file is removed). */
export function runningPid(name: ComponentName): number | null {
  const file = pidFile(name);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) return pid;
  rmSync(file, { force: true });
  return null;
}

export interface StartOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  runAs?: RunAs;
}

/** Starts a component detached (its own process group), appending its output to its log; returns the pid. */
export function startDetached(name: ComponentName, options: StartOptions): number {
  mkdirSync(join(clusterDir(), 'logs'), { recursive: true });
  mkdirSync(join(clusterDir(), 'run'), { recursive: true });
  const out = openSync(logFile(name), 'a');
  const child = spawn(options.command, options.args, {
    stdio: ['ignore', out, out],
    detached: true,
    env: options.env ?? process.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`${COMPONENT_LABEL[name]} did not start (${options.command}); see ${logFile(name)}`);
  writeFileSync(pidFile(name), `${child.pid}\n`);
  return child.pid;
}

/**
 * Stops a component's process group: `signal` first (each server's own clean shutdown), SIGKILL after
 * `graceMs`. Returns whether anything was running.
 */
export async function stopComponent(name: ComponentName, signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<boolean> {
  const pid = runningPid(name);
  if (pid === null) return false;
  const signalGroup = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {
        /* gone meanwhile */
      }
    }
  };
  signalGroup(signal);
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(100);
  if (pidAlive(pid)) {
    signalGroup('SIGKILL');
    while (pidAlive(pid)) await sleep(50);
  }
  rmSync(pidFile(name), { force: true });
  return true;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when nothing listens on host:port (we can bind it ourselves). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The last lines of a component's log, for an error message. */
export function logTail(name: ComponentName, lines = 15): string {
  const file = logFile(name);
  if (!existsSync(file)) return `(no log at ${file})`;
  const text = readFileSync(file, 'utf8').trimEnd().split('\n');
  return text.slice(-lines).map((l) => `    ${l}`).join('\n');
}

/** Polls `probe` until it answers true, the process dies, or the deadline passes. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, options: { timeoutMs: number; pid?: number; name?: ComponentName; log?: (l: string) => void }): Promise<void> {
  const started = Date.now();
  let nextTick = started + 10_000;
  while (Date.now() - started < options.timeoutMs) {
    if (await probe().catch(() => false)) return;
    if (options.pid !== undefined && !pidAlive(options.pid))
      throw new Error(`${what}: the process exited${options.name ? `; the end of ${logFile(options.name)}:\n${logTail(options.name)}` : ''}`);
    if (options.log && Date.now() > nextTick) {
      options.log(`  … waiting for ${what}: ${Math.round((Date.now() - started) / 1000)} s`);
      nextTick += 10_000;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not ready within ${Math.round(options.timeoutMs / 1000)} s${options.name ? `; the end of ${logFile(options.name)}:\n${logTail(options.name)}` : ''}`);
}

/** Owned by `runAs` (PostgreSQL's data directory must belong to the user running it). */
export function chownTree(path: string, runAs: RunAs | undefined): void {
  if (!runAs) return;
  const r = spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, path]);
  if (r.status !== 0) throw new Error(`cannot chown ${path} to ${runAs.name}: ${r.stderr}`);
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

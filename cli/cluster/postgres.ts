/**
 * PostgreSQL for the cluster: Debian's PostgreSQL 15 binaries, a data directory of our own under
 * .harnessx/cluster/postgres, listening on loopback only (no Unix socket, so nothing clashes with a system
 * PostgreSQL), password authentication for the one role the Temporal server uses.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { POSTGRES_USER } from './config';
import { chownTree, clusterDir, logFile, logTail, RunAs, startDetached, waitUntil } from './processes';

export const POSTGRES_BIN_DIRS = ['/usr/lib/postgresql/15/bin'];

/** The directory holding initdb, postgres, pg_isready and psql: HARNESSX_POSTGRES_BIN, else Debian's PostgreSQL 15. */
export function postgresBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.HARNESSX_POSTGRES_BIN;
  const candidates = configured ? [configured] : POSTGRES_BIN_DIRS;
  for (const dir of candidates) if (['initdb', 'postgres', 'pg_isready', 'psql'].every((b) => existsSync(join(dir, b)))) return dir;
  if (configured) throw new Error(`HARNESSX_POSTGRES_BIN=${configured} does not hold initdb, postgres, pg_isready and psql`);
  throw new Error("PostgreSQL 15 is not installed (looked in /usr/lib/postgresql/15/bin): install Debian's package with `sudo apt-get install postgresql-15` (its system service is not needed; the cluster runs its own server), or set HARNESSX_POSTGRES_BIN to a directory holding initdb, postgres, pg_isready and psql");
}

export function postgresDataDir(): string {
  return join(clusterDir(), 'postgres');
}

/** Creates the data directory (once) with the `temporal` role as superuser and scram-sha-256 passwords. */
export function initPostgres(bin: string, password: string, runAs: RunAs | undefined, log: (l: string) => void): boolean {
  const data = postgresDataDir();
  if (existsSync(join(data, 'PG_VERSION'))) return false;
  rmSync(data, { recursive: true, force: true });
  mkdirSync(clusterDir(), { recursive: true });
  if (runAs) {
    // The server runs as an unprivileged user, who must be able to reach the data directory's parent.
    const reach = spawnSync('test', ['-x', clusterDir()], { uid: runAs.uid, gid: runAs.gid });
    if (reach.status !== 0)
      throw new Error(
        `PostgreSQL runs as user ${runAs.name} (initdb and postgres refuse to run as root), and ${runAs.name} cannot reach ${clusterDir()}: make its parent directories searchable (chmod o+x), or set HARNESSX_HOME to a directory others may traverse (e.g. /var/lib/harnessx)`,
      );
  }
  mkdirSync(data, { mode: 0o700 });
  chownTree(data, runAs);
  // The password reaches initdb through a file only it reads (never argv), removed straight after.
  const pwfile = join(clusterDir(), `.pgpass-init-${process.pid}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  chownTree(pwfile, runAs);
  log(`Initialising PostgreSQL in ${data}${runAs ? ` (as user ${runAs.name}: initdb and postgres refuse to run as root)` : ''}…`);
  try {
    const r = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', POSTGRES_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C'], {
      encoding: 'utf8',
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    if (r.status !== 0) {
      rmSync(data, { recursive: true, force: true });
      const cause = `${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim();
      throw new Error(`initdb failed (exit ${r.status}):\n${cause}`);
    }
  } finally {
    rmSync(pwfile, { force: true });
  }
  return true;
}

export function postgresArgs(port: number): string[] {
  // Loopback TCP only: no Unix socket (none clashes with a system server's /var/run/postgresql).
  return ['-D', postgresDataDir(), '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', "unix_socket_directories=", '-c', 'max_connections=100'];
}

export function startPostgres(bin: string, port: number, runAs: RunAs | undefined): number {
  return startDetached('postgres', { command: join(bin, 'postgres'), args: postgresArgs(port), runAs });
}

export function postgresReady(bin: string, port: number): Promise<boolean> {
  const r = spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '2'], { encoding: 'utf8' });
  return Promise.resolve(r.status === 0);
}

export async function waitForPostgres(bin: string, port: number, pid: number, log: (l: string) => void): Promise<void> {
  await waitUntil(`PostgreSQL on 127.0.0.1:${port}`, () => postgresReady(bin, port), { timeoutMs: 60_000, pid, name: 'postgres', log });
}

/** One SQL query through psql as the temporal role; the password goes through the environment, not argv. */
export function psql(bin: string, port: number, password: string, database: string, sql: string): string {
  const r = spawnSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', POSTGRES_USER, '-d', database, '-tAXc', sql], {
    encoding: 'utf8',
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
  });
  if (r.status !== 0) throw new Error(`psql on ${database} failed: ${(r.stderr ?? '').trim()}`);
  return r.stdout.trim();
}

export function postgresFailure(what: string): Error {
  return new Error(`${what}; the end of ${logFile('postgres')}:\n${logTail('postgres')}`);
}

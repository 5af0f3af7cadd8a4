import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runGoStep } from './go-build';
import { binDir } from './paths';
import { executable } from './temporal-cli';

/**
 * The Go binaries a production-style deployment needs (`harnessx cluster`, #18), pinned to versions the Go
 * module proxy serves with no replace directives, so `go install pkg@version` builds each one. Each is
 * built once into <binDir>/<name>-<version> (a clone's .harnessx/bin; see cli/paths.ts) (the version in the name: a bump never reuses a stale
 * binary) and found there afterwards; `<ENV>_PATH` points at an existing binary instead.
 */
export interface GoBinary {
  /** Short name, also the file name stem under binDir(). */
  name: string;
  version: string;
  /** The package path `go install` builds. */
  pkg: string;
  /** The environment variable that names an existing binary instead of building one. */
  env: string;
  /** For the progress line: what a cold build costs. */
  coldBuild: string;
}

export const GO_BINARIES = {
  /** The Temporal server (frontend, history, matching, worker services in one process). */
  temporalServer: { name: 'temporal-server', version: 'v1.29.1', pkg: 'go.temporal.io/server/cmd/server', env: 'TEMPORAL_SERVER_PATH', coldBuild: 'about 5 minutes' },
  /** temporal-sql-tool: creates the PostgreSQL databases and applies the schemas shipped in the server module. */
  temporalSqlTool: { name: 'temporal-sql-tool', version: 'v1.29.1', pkg: 'go.temporal.io/server/cmd/tools/sql', env: 'TEMPORAL_SQL_TOOL_PATH', coldBuild: 'about 3 minutes' },
  /** The Temporal Web UI server (assets built in). Newer tags need modules the proxy refuses. */
  uiServer: { name: 'temporal-ui-server', version: 'v2.55.0', pkg: 'github.com/temporalio/ui-server/v2/cmd/server', env: 'TEMPORAL_UI_SERVER_PATH', coldBuild: 'about 2 minutes' },
  /** An S3-compatible object store server (posix backend: a directory per bucket). */
  versitygw: { name: 'versitygw', version: 'v1.8.0', pkg: 'github.com/versity/versitygw/cmd/versitygw', env: 'VERSITYGW_PATH', coldBuild: 'about 2 minutes' },
} satisfies Record<string, GoBinary>;

export function localGoBinaryPath(binary: GoBinary): string {
  return join(binDir(), `${binary.name}-${binary.version}`);
}

/** `<ENV>_PATH`, else the project-local build, else null. */
export function findGoBinary(binary: GoBinary, env: NodeJS.ProcessEnv = process.env): string | null {
  const configured = env[binary.env];
  if (configured) {
    if (!executable(configured)) throw new Error(`${binary.env}=${configured} is not an executable file (expected ${binary.name} ${binary.version})`);
    return configured;
  }
  const local = localGoBinaryPath(binary);
  return executable(local) ? local : null;
}

/** Concurrent callers in one process share one build per binary. */
const building = new Map<string, Promise<string>>();

/**
 * The binary's path, building it from the Go module proxy the first time (progress through `log`). The
 * build goes to a scratch GOBIN and is renamed into place only when complete, so an interrupted build never
 * leaves a file that looks cached.
 */
export function ensureGoBinary(binary: GoBinary, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  const found = findGoBinary(binary);
  if (found) return Promise.resolve(found);
  const key = `${binary.name}@${binary.version}`;
  const pending = building.get(key) ?? buildGoBinary(binary, log).finally(() => building.delete(key));
  building.set(key, pending);
  return pending;
}

async function buildGoBinary(binary: GoBinary, log: (line: string) => void): Promise<string> {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) throw new Error(`${binary.name} ${binary.version} is not built and Go is not on PATH to build it: install Go (https://go.dev/dl), or set ${binary.env} to an existing binary`);
  const target = localGoBinaryPath(binary);
  const scratch = join(dirname(binDir()), 'build', `${binary.name}-${binary.version}-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  mkdirSync(dirname(target), { recursive: true });
  log(`Building ${binary.name} ${binary.version} from the Go module proxy with ${go.stdout.trim()} into ${target} (a cold build takes ${binary.coldBuild})…`);
  const started = Date.now();
  try {
    await runGoStep({
      args: ['install', `${binary.pkg}@${binary.version}`],
      env: { ...process.env, GOBIN: scratch, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local' },
      what: `building ${binary.name}`,
      log,
      tickMs: 20_000,
    });
    const built = join(scratch, binary.pkg.split('/').pop() as string);
    if (!existsSync(built)) throw new Error(`go install succeeded but ${built} is missing`);
    renameSync(built, target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  log(`Built ${target} in ${Math.round((Date.now() - started) / 1000)} s.`);
  return target;
}

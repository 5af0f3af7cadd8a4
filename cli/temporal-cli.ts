import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { runGoStep } from './go-build';
import { binDir, localCliPath, TEMPORAL_CLI_VERSION } from './paths';

export class TemporalCliMissing extends Error {
  constructor(detail: string) {
    super(
      `The Temporal CLI (dev server + Web UI) is not available: ${detail}\n` +
        `Fix one of:\n` +
        `  - install Go (https://go.dev/dl) and run: npx harnessx install-cli   (builds ${TEMPORAL_CLI_VERSION} into ${binDir()})\n` +
        `  - install the CLI with a package manager (brew install temporal) or the official download, then set TEMPORAL_CLI_PATH\n` +
        `  - or point at an existing cluster: TEMPORAL_ADDRESS=host:7233 (plus TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/KEY)`,
    );
    this.name = 'TemporalCliMissing';
  }
}

/** Whether `path` is a file this process may execute. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolution order: $TEMPORAL_CLI_PATH, `temporal` on PATH, the project-local build. Null if none. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): { path: string; source: string } | null {
  if (env.TEMPORAL_CLI_PATH) {
    if (!executable(env.TEMPORAL_CLI_PATH)) throw new TemporalCliMissing(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file`);
    return { path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'temporal');
    if (executable(candidate)) return { path: candidate, source: 'PATH' };
  }
  const local = localCliPath();
  if (executable(local)) return { path: local, source: binDir() };
  return null;
}

/** Builds the CLI from the Go module proxy into binDir() (a clone's .harnessx/bin), streaming progress (a cold build takes minutes). */
export async function buildTemporalCli(log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<string> {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) throw new TemporalCliMissing('it is not installed, and Go is not on PATH to build it');
  const target = localCliPath();
  mkdirSync(dirname(target), { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} from the Go module proxy with ${go.stdout.trim()} (a cold build takes 3-6 minutes)…`);
  const started = Date.now();
  try {
    await runGoStep({
      args: ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`],
      env: { ...process.env, GOBIN: dirname(target), GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
      what: 'still building',
      log,
      tickMs: 20_000,
    });
  } catch (e) {
    throw new TemporalCliMissing((e as Error).message);
  }
  if (!existsSync(target)) throw new TemporalCliMissing(`go install succeeded but ${target} is missing`);
  log(`Built ${target} in ${Math.round((Date.now() - started) / 1000)} s.`);
  return target;
}

export async function ensureTemporalCli(log?: (line: string) => void): Promise<string> {
  return findTemporalCli()?.path ?? (await buildTemporalCli(log));
}

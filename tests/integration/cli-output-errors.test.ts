import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer, tempDataDir } from './temporal-env';

/**
 * The commands whose write needs a finished workflow (`export-grpo --out`, `replay --save`), run as a user
 * runs them: a failed write is one line naming the path and the cause, exit 1, no stack.
 * (`report --out` is covered without a server in tests/unit/cli-errors.test.ts.)
 */
jest.setTimeout(240_000);

const ROOT = join(__dirname, '../..');
let env: TestWorkflowEnvironment;
const dataDir = tempDataDir();
const RUN = 'it-cli-io-coevolve';

function harnessx(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: dataDir, HARNESSX_LOG_LEVEL: 'ERROR', HARNESSX_DEBUG: '' },
    encoding: 'utf8',
    timeout: 200_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectOneLineFailure(r: { code: number | null; stderr: string }, expected: string) {
  expect(r.code).toBe(1);
  expect(r.stderr.trimEnd().split('\n')).toEqual([expected]);
}

/** A directory nobody may create files in: a read-only folder, or (root ignores modes) sysfs, which refuses new files even to root. */
function unwritableDir(): string {
  const dir = join(dataDir, 'read-only');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o555);
  try {
    writeFileSync(join(dir, 'probe'), '');
    rmSync(join(dir, 'probe'));
    return '/sys';
  } catch {
    return dir;
  }
}

beforeAll(async () => {
  env = await startDevServer();
  const r = harnessx('coevolve', '--iterations', '1', '--batch-size', '4', '--seed', 'cli-io', '--workflow-id', RUN, '--json');
  if (r.code !== 0) throw new Error(`coevolve failed (${r.code}):\n${r.stderr}`);
});
afterAll(async () => {
  if (existsSync(join(dataDir, 'read-only'))) chmodSync(join(dataDir, 'read-only'), 0o755);
  await env?.teardown();
});

describe('export-grpo --out', () => {
  it('writes where it can', () => {
    const out = join(dataDir, 'export', 'g.jsonl');
    const r = harnessx('export-grpo', RUN, '--format', 'trl', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(`to ${out}`);
    expect(readFileSync(out, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
  });

  (existsSync('/dev/full') ? it : it.skip)('a full device: ENOSPC', () => {
    expectOneLineFailure(harnessx('export-grpo', RUN, '--format', 'trl', '--out', '/dev/full'), 'harnessx: cannot write /dev/full: no space left on device (ENOSPC)');
  });

  it('a directory: EISDIR', () => {
    expectOneLineFailure(harnessx('export-grpo', RUN, '--format', 'verl', '--out', dataDir), `harnessx: cannot write ${dataDir}: it is a directory (EISDIR)`);
  });

  it('a directory that cannot be written (or made): the path as given and the cause', () => {
    const out = join(unwritableDir(), 'grpo', 'g.jsonl');
    const r = harnessx('export-grpo', RUN, '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(new RegExp(`^harnessx: cannot write ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: (permission denied \\(EACCES\\)|operation not permitted \\(EPERM\\))$`));
  });
});

describe('replay --save', () => {
  it('saves the history where it can, and replays it', () => {
    const out = join(dataDir, 'history.json');
    const r = harnessx('replay', RUN, '--save', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/events replayed, deterministic/);
    expect(JSON.parse(readFileSync(out, 'utf8')).events.length).toBeGreaterThan(0);
  });

  (existsSync('/dev/full') ? it : it.skip)('a full device: ENOSPC', () => {
    expectOneLineFailure(harnessx('replay', RUN, '--save', '/dev/full'), 'harnessx: cannot write /dev/full: no space left on device (ENOSPC)');
  });

  it('a missing directory: ENOENT', () => {
    const out = join(dataDir, 'no-such-dir', 'h.json');
    expectOneLineFailure(harnessx('replay', RUN, '--save', out), `harnessx: cannot write ${out}: directory ${join(dataDir, 'no-such-dir')} does not exist (ENOENT)`);
  });
});

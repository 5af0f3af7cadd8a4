import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputFileError, reportFailure, UsageError, writingTo } from '../../cli/errors';
import { ArtifactStore } from '../../store/artifact-store';

/**
 * The CLI as a user runs it (`node bin/harnessx.js`), on a run folder in a temporary data dir: `report` reaches
 * its write without a Temporal server, so every way a write to a user-given path fails is tried for real.
 */
jest.setTimeout(60_000);

const ROOT = join(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'hx-cli-errors-'));
const dataDir = join(work, 'data');

beforeAll(async () => {
  const store = new ArtifactStore(dataDir);
  const rec = (key: string, stage: 'setup' | 'rollout' | 'final', payload: Record<string, unknown>) =>
    store.appendAudit({ key, runId: 'run-1', round: stage === 'setup' ? 0 : 1, stage, kind: 'info', harnessId: 'hx-seed', payload, evidenceRefs: [], ts: '2026-01-01T00:00:00.000Z' });
  await rec('setup', 'setup', { input: { benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'rules' } });
  await rec('1:rollout', 'rollout', { passRate: 0.25, passed: 1, tasks: 4, tokens: 100 });
  await rec('final', 'final', { seedPassRate: 0.25, evolvedPassRate: 0.25, seedTestPassRate: 0.2, evolvedTestPassRate: 0.2, shipped: 0, rejected: 0, stopReason: 'budget of 1 rounds used' });
});
afterAll(() => {
  chmodSync(work, 0o755);
  for (const d of readdirSync(work)) chmodSync(join(work, d), 0o755);
  rmSync(work, { recursive: true, force: true });
});

function harnessx(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], {
    cwd: work,
    env: { ...process.env, HARNESSX_DATA_DIR: dataDir, HARNESSX_DEBUG: '', ...env },
    encoding: 'utf8',
    timeout: 50_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The whole of stderr is one line: "harnessx: cannot write <path>: <cause> (<CODE>)", and no stack frame. */
function expectOneLineFailure(r: { code: number | null; stderr: string }, path: string, cause: RegExp) {
  expect(r.code).toBe(1);
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trimEnd()).toMatch(new RegExp(`^harnessx: cannot write ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${cause.source}$`));
}

/** A directory nobody may create files in: a read-only folder, or (root ignores modes) sysfs, which refuses new files even to root. */
function unwritableDir(): string {
  const dir = join(work, 'read-only');
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

describe('harnessx report --out: a failed write is one line naming the path and the cause, exit 1', () => {
  it('writes the report where it can (the failures below are about the path, not the run)', () => {
    const out = join(work, 'ok.html');
    const r = harnessx(['report', 'run-1', '--out', out]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.trim()).toBe(`wrote ${out}`);
    expect(readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/i);
  });

  (existsSync('/dev/full') ? it : it.skip)('a full device: ENOSPC', () => {
    expectOneLineFailure(harnessx(['report', 'run-1', '--out', '/dev/full']), '/dev/full', /no space left on device \(ENOSPC\)/);
  });

  it('a directory: EISDIR', () => {
    expectOneLineFailure(harnessx(['report', 'run-1', '--out', work]), work, /it is a directory \(EISDIR\)/);
  });

  it('a missing directory: ENOENT, naming the directory; a relative path is named as given', () => {
    expectOneLineFailure(harnessx(['report', 'run-1', '--out', 'no-such-dir/report.html']), 'no-such-dir/report.html', /directory no-such-dir does not exist \(ENOENT\)/);
    expect(existsSync(join(work, 'no-such-dir'))).toBe(false);
  });

  it('a directory that cannot be written: EACCES', () => {
    const out = join(unwritableDir(), 'report.html');
    expectOneLineFailure(harnessx(['report', 'run-1', '--out', out]), out, /permission denied \(EACCES\)/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('unexpected errors in the CLI', () => {
  it('are one line by default and the full error with its stack under HARNESSX_DEBUG=1', () => {
    // A data dir below a regular file: the store cannot be opened (ENOTDIR), before any command logic.
    const file = join(work, 'a-file');
    writeFileSync(file, '');
    const plain = harnessx(['history', 'run-1'], { HARNESSX_DATA_DIR: join(file, 'data') });
    expect(plain.code).toBe(1);
    expect(plain.stderr.trimEnd().split('\n')).toEqual([`harnessx: cannot mkdir ${join(file, 'data')}: not a directory (ENOTDIR)`]);
    const debug = harnessx(['history', 'run-1'], { HARNESSX_DATA_DIR: join(file, 'data'), HARNESSX_DEBUG: '1' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/ENOTDIR/);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('usage problems keep exit code 2 and their message', () => {
    const r = harnessx(['report']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('harnessx: usage: harnessx report <workflowId> [--out report.html]\n');
  });
});

describe('reportFailure', () => {
  const printed = (e: unknown) => {
    let text = '';
    const code = reportFailure(e, (t) => (text += t));
    return { code, text };
  };
  const debug = process.env.HARNESSX_DEBUG;
  afterEach(() => (debug === undefined ? delete process.env.HARNESSX_DEBUG : (process.env.HARNESSX_DEBUG = debug)));

  it('prints an unexpected error as its message on one line, exit 1; the stack only with HARNESSX_DEBUG=1', () => {
    delete process.env.HARNESSX_DEBUG;
    expect(printed(new TypeError('boom\n  second line'))).toEqual({ code: 1, text: 'harnessx: boom second line\n' });
    expect(printed('a string')).toEqual({ code: 1, text: 'harnessx: a string\n' });
    process.env.HARNESSX_DEBUG = '1';
    const withStack = printed(new TypeError('boom'));
    expect(withStack.code).toBe(1);
    expect(withStack.text).toMatch(/^harnessx: TypeError: boom\n\s+at /);
  });

  it('keeps a usage error multi-line with exit 2', () => {
    delete process.env.HARNESSX_DEBUG;
    expect(printed(new UsageError('invalid options:\n  - rounds: Too small'))).toEqual({ code: 2, text: 'harnessx: invalid options:\n  - rounds: Too small\n' });
  });
});

describe('writingTo', () => {
  it('names the output path for a failed write, or for a directory on its way that could not be made', () => {
    const err = (() => {
      try {
        writingTo('/dev/null/x/out.jsonl', () => mkdirSync('/dev/null/x', { recursive: true }));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(OutputFileError);
    expect((err as Error).message).toBe('cannot write /dev/null/x/out.jsonl: a part of its path is not a directory (ENOTDIR)');
  });

  it('leaves errors about other files alone (a failed read of an input is not a failed write)', () => {
    const missing = join(work, 'missing-input.json');
    expect(() => writingTo(join(work, 'out.json'), () => readFileSync(missing))).toThrow(expect.objectContaining({ code: 'ENOENT', path: missing }));
    expect(() => writingTo(join(work, 'out.json'), () => readFileSync(missing))).not.toThrow(OutputFileError);
    expect(() => writingTo(join(work, 'out.json'), () => { throw new Error('not a system error'); })).toThrow(/^not a system error$/);
  });

  it('converts a rejected promise the same way', async () => {
    const { writeFile } = await import('node:fs/promises');
    await expect(writingTo(work, () => writeFile(work, 'x'))).rejects.toThrow(`cannot write ${work}: it is a directory (EISDIR)`);
  });
});

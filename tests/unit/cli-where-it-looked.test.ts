import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main';

/**
 * When a command cannot find what it was asked for, it says where it looked: the config search behind an
 * unknown suite, the store (and the setting that chose it) behind a missing run. A config of one suite
 * needs no suite name.
 */
describe('the CLI says where it looked', () => {
  let stderr: string;
  let stdout: string;
  let spies: jest.SpyInstance[];
  const saved = { ...process.env };
  beforeEach(() => {
    stderr = '';
    stdout = '';
    for (const name of ['HARNESSX_CONFIG', 'HARNESSX_STORE', 'HARNESSX_DATA_DIR']) delete process.env[name];
    spies = [
      jest.spyOn(process.stderr, 'write').mockImplementation((t) => ((stderr += String(t)), true)),
      jest.spyOn(process.stdout, 'write').mockImplementation((t) => ((stdout += String(t)), true)),
      jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (stdout += `${a.join(' ')}\n`)),
    ];
  });
  afterEach(() => {
    for (const s of spies) s.mockRestore();
    process.env = { ...saved };
  });

  it('check-benchmark with a config of one suite checks that suite without its name', async () => {
    expect(await main(['check-benchmark', '--config', 'tests/fixtures/suites/notes/harnessx.config.json', '--json'])).toBe(0);
    const check = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(check).toMatchObject({ benchmark: 'notes-answers', ok: true });
    expect(check.referenceAccepted).toBe(check.tasks);
  });

  it('an unknown suite with no config found names the search: the flag, HARNESSX_CONFIG and the file names in the folder', async () => {
    expect(await main(['check-benchmark', 'memory'])).toBe(2);
    expect(stderr).toContain(`unknown suite "memory"; known: blocksworld`);
    expect(stderr).toContain(`(no config file found: --config not given, HARNESSX_CONFIG unset, no harnessx.config.ts, harnessx.config.mts, harnessx.config.js, harnessx.config.mjs, harnessx.config.cjs, harnessx.config.json in ${process.cwd()}; pass --config FILE)`);
    stderr = '';
    expect(await main(['evolve', '--suite', 'memory', '--config', 'tests/fixtures/suites/notes/harnessx.config.json'])).toBe(2);
    expect(stderr).toMatch(/unknown suite "memory"; known: .*notes-answers \(config .*tests\/fixtures\/suites\/notes\/harnessx.config.json\)/);
  });

  it('history and report name the store they read, the setting that chose it, and the store settings a cluster run needs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-where-'));
    process.env.HARNESSX_DATA_DIR = dir;
    for (const command of [['history', 'evolve-x'], ['lineage', 'evolve-x'], ['report', 'evolve-x', '--out', join(dir, 'r.html')]]) {
      stderr = '';
      expect(await main(command)).toBe(2);
      expect(stderr).toContain(`no audit log for "evolve-x" in ${dir} (HARNESSX_DATA_DIR): if the run's workers used an S3 store, set the same store settings here: HARNESSX_STORE=s3://bucket[/prefix]`);
    }
    process.env.HARNESSX_STORE = join(dir, 'elsewhere');
    stderr = '';
    expect(await main(['history', 'evolve-x'])).toBe(2);
    expect(stderr).toContain(`no audit log for "evolve-x" in ${join(dir, 'elsewhere')} (HARNESSX_STORE): check that HARNESSX_STORE (and AWS_ENDPOINT_URL_S3) name the store the run's workers used`);
  });

  it('a mistyped S3 store is refused before anything runs', async () => {
    process.env.HARNESSX_STORE = 's3:harnessx/runs';
    expect(await main(['history', 'evolve-x'])).toBe(2);
    expect(stderr).toContain('HARNESSX_STORE="s3:harnessx/runs" starts with "s3:" but is not an S3 location: expected s3://bucket or s3://bucket/prefix');
  });
});

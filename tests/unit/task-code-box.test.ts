import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boxStatus, resetBoxProbe, UNBOXED_OPT_IN } from '../../benchmarks/code-box';
import { DATA_DIR, FILE, HumanEvalBenchmark } from '../../benchmarks/humaneval';
import { runPython } from '../../benchmarks/humaneval/python-sandbox';
import type { ToolCall } from '../../harness/types';
import { ProbeContext, ProbeResult, runProbes } from '../helpers/box-probes';

/**
 * Task code runs in a box (issue 27): each probe from outside fails, as root and as an unprivileged user, and
 * leaves nothing on the host. The HumanEval exploits that scored 1 before (exec the canonical solution found
 * in the data; overwrite grader.py so later wrong answers pass) score 0 and change nothing.
 */
jest.setTimeout(240_000);
const GRADER = join(__dirname, '../../benchmarks/humaneval/grader.py');
const WORKER = join(__dirname, '../../benchmarks/humaneval/solution_worker.py');
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const root = process.getuid?.() === 0;

let server: Server;
let victimDir: string;
let victim: string;
beforeAll(async () => {
  server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // A host file any user may write: only the box keeps a solution (even one running as nobody) away from it.
  victimDir = mkdtempSync(join(tmpdir(), 'hx-victim-'));
  chmodSync(victimDir, 0o755);
  victim = join(victimDir, 'world-writable.txt');
  writeFileSync(victim, 'untouched\n');
  chmodSync(victim, 0o666);
});
afterAll(() => {
  server.close();
  rmSync(victimDir, { recursive: true, force: true });
});

const context = (): ProbeContext => ({ dataDir: DATA_DIR, writeTargets: [GRADER, WORKER, victim], marker: `hx-probe-${randomBytes(6).toString('hex')}`, hostPid: process.pid, loopbackPort: (server.address() as { port: number }).port });

/** Processes on the host whose command line carries the marker. */
function hostProcessesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(marker)) found.push(`${pid}: ${cmdline.replace(/\0/g, ' ')}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

function expectAllStopped(results: Record<string, ProbeResult>, c: ProbeContext, before: Record<string, string>): void {
  expect(Object.keys(results)).toHaveLength(6);
  for (const [name, r] of Object.entries(results)) {
    expect({ name, examples: r.examples }).toEqual({ name, examples: 'nothing' });
    expect({ name, ...r.graded }).toEqual({ name, passed: true, reason: 'hidden tests passed', isolation: 'bubblewrap' });
  }
  expect(existsSync(join('/tmp', c.marker))).toBe(false);
  expect(hostProcessesWith(c.marker)).toEqual([]);
  for (const path of c.writeTargets) expect(sha(path)).toBe(before[path]);
}

describe('the task-code box', () => {
  test('this machine has it (the test setup installs bubblewrap)', () => {
    expect(boxStatus()).toMatchObject({ kind: 'bubblewrap' });
  });

  test('as this user (root in CI), every probe fails and nothing is left on the host', () => {
    const c = context();
    const before = Object.fromEntries(c.writeTargets.map((p) => [p, sha(p)]));
    expectAllStopped(runProbes(c), c, before);
  });

  test('as an unprivileged user (nobody), every probe fails too, even on a file nobody may write', () => {
    const c = context();
    const before = Object.fromEntries(c.writeTargets.map((p) => [p, sha(p)]));
    const asNobody = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
    const r = spawnSync(asNobody[0] ?? process.execPath, [...asNobody.slice(1), ...(root ? [process.execPath] : []), '-r', 'tsx/cjs', join(__dirname, '../helpers/box-probes.ts'), JSON.stringify(c)], {
      cwd: join(__dirname, '../..'),
      env: { PATH: '/usr/bin:/bin', HOME: '/tmp' },
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(r.stderr).toBe('');
    expectAllStopped(JSON.parse(r.stdout) as Record<string, ProbeResult>, c, before);
  });

  test('the probes are real: unboxed (opted in, no bwrap), they reach the host', () => {
    const optIn = process.env[UNBOXED_OPT_IN];
    const c = context();
    try {
      process.env[UNBOXED_OPT_IN] = '1';
      resetBoxProbe('/nonexistent/bwrap');
      const results = runProbes(c);
      expect(results['reads the data and other episodes'].examples).toMatch(/^found \[/);
      expect(results['opens the grader for writing'].examples).toContain(victim);
      expect(results['opens the grader for writing'].graded).toMatchObject({ passed: false, isolation: 'unboxed' });
      expect(existsSync(join('/tmp', c.marker))).toBe(true);
    } finally {
      rmSync(join('/tmp', c.marker), { force: true });
      if (optIn === undefined) delete process.env[UNBOXED_OPT_IN];
      else process.env[UNBOXED_OPT_IN] = optIn;
      resetBoxProbe();
    }
  });

  test('without bwrap, task code is refused with what to do, unless the operator opts in', () => {
    const optIn = process.env[UNBOXED_OPT_IN];
    try {
      delete process.env[UNBOXED_OPT_IN];
      resetBoxProbe('/nonexistent/bwrap');
      expect(boxStatus()).toMatchObject({ kind: 'refused' });
      expect(() => runPython({}, 'print(1)\n')).toThrow(/task code \(HumanEval solutions and examples\) is refused: bwrap could not be started \(ENOENT\)\. Install bubblewrap .* or set HARNESSX_UNBOXED_TASK_CODE=1/);
      process.env[UNBOXED_OPT_IN] = '1';
      resetBoxProbe('/nonexistent/bwrap');
      expect(boxStatus()).toMatchObject({ kind: 'unboxed', summary: expect.stringMatching(/^task code runs UNBOXED/) });
    } finally {
      if (optIn === undefined) delete process.env[UNBOXED_OPT_IN];
      else process.env[UNBOXED_OPT_IN] = optIn;
      resetBoxProbe();
    }
  });
});

describe("HumanEval's exploits from outside score 0 and leave the grader as it was", () => {
  const bench = new HumanEvalBenchmark();
  const p = bench.problem('humaneval/0');
  const plan = (content: string): ToolCall[] => [
    { id: 'w', name: 'write_file', args: { path: FILE, content } },
    { id: 'r', name: 'run_examples', args: {} },
    { id: 's', name: 'submit', args: {} },
  ];
  const episodeScore = (taskId: string, content: string) => {
    const env = new HumanEvalBenchmark().createEnvironment(taskId);
    for (const call of plan(content)) env.execute(call);
    return env.score();
  };

  test('a solution that finds its task in the data and runs the canonical solution', () => {
    const finder = `import glob, json\n${p.prompt}    for path in glob.glob("/*/*/benchmarks/humaneval/data/*.jsonl") + glob.glob(${JSON.stringify(DATA_DIR)} + "/*.jsonl"):\n        for line in open(path):\n            row = json.loads(line)\n            if row["entry_point"] == "has_close_elements":\n                ns = {}\n                exec(row["prompt"] + row["canonical_solution"], ns)\n                return ns["has_close_elements"](numbers, threshold)\n    return False\n`;
    expect(bench.verifyPlan('humaneval/0', plan(finder))).toMatchObject({ valid: false });
    expect(episodeScore('humaneval/0', finder)).toBe(0);
    // The same search outside the box would find it: the probe is real.
    expect(readdirSync(DATA_DIR).some((f) => f.endsWith('.jsonl'))).toBe(true);
  });

  test('a solution that overwrites grader.py: the grader is unchanged and later wrong answers still fail', () => {
    const before = sha(GRADER);
    const forger = `import glob\nfor path in glob.glob("/*/*/benchmarks/humaneval/grader.py") + [${JSON.stringify(GRADER)}]:\n    try:\n        open(path, "w").write("print('forged')\\n")\n    except OSError:\n        pass\n${p.prompt}    return False\n`;
    expect(episodeScore('humaneval/0', forger)).toBe(0);
    expect(bench.verifyPlan('humaneval/0', plan(forger))).toMatchObject({ valid: false });
    expect(sha(GRADER)).toBe(before);
    const q = bench.problem('humaneval/2');
    expect(new HumanEvalBenchmark().verifyPlan('humaneval/2', plan(`${q.prompt}    return -1.0\n`))).toMatchObject({ valid: false });
    expect(new HumanEvalBenchmark().verifyPlan('humaneval/2', [{ id: 's', name: 'submit', args: {} }])).toMatchObject({ valid: false });
    expect(new HumanEvalBenchmark().verifyPlan('humaneval/2', bench.referenceSolution('humaneval/2'))).toMatchObject({ valid: true });
  });
});

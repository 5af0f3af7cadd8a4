import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../harness/package-root';
import { boxArguments, BoxKind, requireBox } from '../code-box';

/**
 * Runs untrusted Python (a candidate solution and the benchmark's tests) in a throwaway directory, inside the
 * task-code box (code-box.ts: its own mount, PID and network namespaces; nothing of the host but a read-only
 * interpreter), with python3 in isolated mode (-I: no user site, no PYTHON* variables), an empty environment,
 * a wall-clock timeout, and CPU, address-space, stack and file-size limits. The socket API is also replaced by
 * one that refuses, so a network call fails with a clear message. The directory is deleted afterwards.
 */
export interface PythonRun {
  ok: boolean;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  isolation: BoxKind;
}

// Hard limits equal to soft ones: without capabilities the code cannot raise them again.
const PREAMBLE = `import resource, socket, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (10, 10))
resource.setrlimit(resource.RLIMIT_STACK, (64 << 20, 64 << 20))
resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
def _no_network(*args, **kwargs):
    raise OSError("network access is disabled in the sandbox")
socket.socket = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network
sys.setrecursionlimit(3000)
`;

interface Python {
  exe: string;
  /** The folders the interpreter loads itself from (sys.prefix and sys.base_prefix), mounted read-only in the box. */
  prefixes: string[];
}
let python: Python | null | undefined;
function findPython(): Python | null {
  if (python === undefined) {
    const r = spawnSync('python3', ['-c', 'import json, os, sys; print(json.dumps([os.path.realpath(sys.executable), sys.prefix, sys.base_prefix]))'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) python = null;
    else {
      const [exe, prefix, basePrefix] = JSON.parse(r.stdout) as string[];
      python = { exe, prefixes: [...new Set([prefix, basePrefix, dirname(exe)])] };
    }
  }
  return python;
}
export function pythonPath(): string | null {
  return findPython()?.exe ?? null;
}
function requirePython(): Python {
  const p = findPython();
  if (!p) throw new Error('python3 is not installed: the HumanEval verifier needs it (Debian: apt-get install python3)');
  return p;
}

/** The command prefix that runs a program in `dir` in the box (or, opted in, unboxed with the old best-effort namespaces). */
function boxPrefix(kind: BoxKind, dir: string, py: Python): string[] {
  if (kind === 'bubblewrap') return ['bwrap', ...boxArguments(dir, py.prefixes), '--'];
  return unboxedPrefix();
}

export function runPython(files: Record<string, string>, program: string, timeoutMs = 10_000): PythonRun {
  const py = requirePython();
  const kind = requireBox();
  const dir = mkdtempSync(join(tmpdir(), 'hx-py-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    writeFileSync(join(dir, '__runner__.py'), PREAMBLE + program);
    const [cmd, ...args] = [...boxPrefix(kind, dir, py), py.exe, '-I', '__runner__.py'];
    const r = spawnSync(cmd, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 });
    const timedOut = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return { ok: r.status === 0 && !timedOut, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut, isolation: kind };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Unboxed (only when the operator opted in): the best the machine allows without bwrap: own user, PID and
 * network namespaces through unshare; PID and network namespaces as root without user namespaces; or a plain
 * child (the non-dumpable grader is still out of reach of a non-root solution).
 */
const UNBOXED_PREFIXES: string[][] = [
  ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--kill-child', '--mount-proc', '--net'],
  ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--net'],
  [],
];
let unboxed: string[] | undefined;
function unboxedPrefix(): string[] {
  unboxed ??= UNBOXED_PREFIXES.find((prefix) => !prefix.length || spawnSync(prefix[0], [...prefix.slice(1), 'true'], { timeout: 5000 }).status === 0)!;
  return unboxed;
}

export interface GradeRun {
  passed: boolean;
  reason: string;
  timedOut: boolean;
  isolation: BoxKind;
}

// From the package root: the compiled copy (dist/) ships without the Python files beside it.
const GRADER = join(packageRoot(), 'benchmarks', 'humaneval', 'grader.py');
const WORKER = join(packageRoot(), 'benchmarks', 'humaneval', 'solution_worker.py');

/**
 * Grades a solution with hidden tests so that the solution cannot forge the verdict. grader.py (trusted: it
 * never runs the solution's code) gets a fresh nonce, the prompt and the tests on stdin, runs `check` with a
 * proxy for the candidate, and forwards each call to solution_worker.py, which loads the solution in its
 * own process. Only return values cross back, decoded as plain data; the verdict is the grader's line that
 * starts with the nonce. What the solution prints, its exit code, the files it writes, the processes it
 * spawns and what it patches in its own interpreter never reach the verdict.
 */
export function gradeSolution(job: { solution: string; prompt: string; test: string; entryPoint: string }, seconds = 10): GradeRun {
  const py = requirePython();
  const isolation = requireBox();
  const dir = mkdtempSync(join(tmpdir(), 'hx-grade-'));
  try {
    writeFileSync(join(dir, 'solution.py'), job.solution);
    copyFileSync(WORKER, join(dir, 'solution_worker.py'));
    const nonce = randomBytes(24).toString('hex');
    const input = JSON.stringify({ nonce, prompt: job.prompt, test: job.test, entryPoint: job.entryPoint, seconds, solutionDir: dir, command: [...boxPrefix(isolation, dir, py), py.exe, '-I', '-S', 'solution_worker.py', job.entryPoint] });
    // -S as well as -I: the standard library only (HumanEval needs no more), and a faster start.
    const r = spawnSync(py.exe, ['-I', '-S', GRADER], { input, cwd: dir, env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: (seconds + 10) * 1000, killSignal: 'SIGKILL', maxBuffer: 1 << 20 });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith(`${nonce} `));
    if (!line) {
      const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
      return { passed: false, reason: timedOut ? 'the grader timed out' : `the grader gave no verdict: ${(r.stderr ?? '').trim().split('\n').pop()?.slice(0, 300) ?? ''}`, timedOut, isolation };
    }
    const v = JSON.parse(line.slice(nonce.length + 1)) as { passed: boolean; reason: string; timedOut: boolean };
    return { passed: v.passed === true, reason: String(v.reason), timedOut: v.timedOut === true, isolation };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

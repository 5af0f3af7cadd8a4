import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../harness/package-root';

/**
 * Runs untrusted Python (a candidate solution and the benchmark's tests) in a throwaway directory with
 * python3 in isolated mode (-I: no user site, no PYTHON* variables), an empty environment, a wall-clock
 * timeout, CPU and address-space limits, and no network: a fresh network namespace (`unshare -n`) where the
 * machine allows it, and in every case the socket API replaced by one that refuses. The directory is
 * deleted afterwards.
 */
export interface PythonRun {
  ok: boolean;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  isolation: 'netns' | 'socket-block';
}

const PREAMBLE = `import resource, socket, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (10, 10))
def _no_network(*args, **kwargs):
    raise OSError("network access is disabled in the sandbox")
socket.socket = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network
sys.setrecursionlimit(3000)
`;

let netns: boolean | null = null;
/** Whether this machine lets us give the child its own (empty) network namespace. */
function canUnshareNetwork(): boolean {
  if (netns === null) {
    const r = spawnSync('unshare', ['-n', 'true'], { timeout: 5000 });
    netns = r.status === 0;
  }
  return netns;
}

let python: string | null | undefined;
export function pythonPath(): string | null {
  if (python === undefined) {
    const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8', timeout: 10_000 });
    python = r.status === 0 ? r.stdout.trim() : null;
  }
  return python;
}

export function runPython(files: Record<string, string>, program: string, timeoutMs = 10_000): PythonRun {
  const exe = pythonPath();
  if (!exe) throw new Error('python3 is not installed: the HumanEval verifier needs it (Debian: apt-get install python3)');
  const dir = mkdtempSync(join(tmpdir(), 'hx-py-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    writeFileSync(join(dir, '__runner__.py'), PREAMBLE + program);
    const isolated = canUnshareNetwork();
    const [cmd, args] = isolated ? ['unshare', ['-n', exe, '-I', '__runner__.py']] : [exe, ['-I', '__runner__.py']];
    const r = spawnSync(cmd, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 20 });
    const timedOut = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return { ok: r.status === 0 && !timedOut, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut, isolation: isolated ? 'netns' : 'socket-block' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * How far the process running a candidate solution is cut off from its grader: 'namespaces' (its own user,
 * PID and network namespaces: it cannot see the grader's process at all), 'pid-namespace' (PID and network
 * namespaces, as root without user namespaces), or 'process' (a plain child; the non-dumpable grader is
 * still out of reach of a non-root solution).
 */
export type WorkerIsolation = 'namespaces' | 'pid-namespace' | 'process';

const ISOLATION_PREFIXES: Array<[WorkerIsolation, string[]]> = [
  ['namespaces', ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--kill-child', '--mount-proc', '--net']],
  ['pid-namespace', ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--net']],
  ['process', []],
];
let workerIsolation: [WorkerIsolation, string[]] | undefined;
function isolationForWorker(): [WorkerIsolation, string[]] {
  workerIsolation ??= ISOLATION_PREFIXES.find(([, prefix]) => !prefix.length || spawnSync(prefix[0], [...prefix.slice(1), 'true'], { timeout: 5000 }).status === 0)!;
  return workerIsolation;
}

export interface GradeRun {
  passed: boolean;
  reason: string;
  timedOut: boolean;
  isolation: WorkerIsolation;
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
  const exe = pythonPath();
  if (!exe) throw new Error('python3 is not installed: the HumanEval verifier needs it (Debian: apt-get install python3)');
  const [isolation, prefix] = isolationForWorker();
  const dir = mkdtempSync(join(tmpdir(), 'hx-grade-'));
  try {
    writeFileSync(join(dir, 'solution.py'), job.solution);
    copyFileSync(WORKER, join(dir, 'solution_worker.py'));
    const nonce = randomBytes(24).toString('hex');
    const input = JSON.stringify({ nonce, prompt: job.prompt, test: job.test, entryPoint: job.entryPoint, seconds, solutionDir: dir, command: [...prefix, exe, '-I', '-S', 'solution_worker.py', job.entryPoint] });
    // -S as well as -I: the standard library only (HumanEval needs no more), and a faster start.
    const r = spawnSync(exe, ['-I', '-S', GRADER], { input, cwd: dir, env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: (seconds + 10) * 1000, killSignal: 'SIGKILL', maxBuffer: 1 << 20 });
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

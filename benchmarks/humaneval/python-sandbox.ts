import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

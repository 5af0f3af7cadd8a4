import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';

/**
 * The box that code written by a task model (a HumanEval solution, its docstring examples, any future
 * code-running verifier) runs in: Debian's bubblewrap with every namespace private. Inside there is only a
 * read-only /usr (and the interpreter's own prefix, read-only), the episode's own folder read-write at
 * /sandbox, a private size-limited /tmp, a fresh /proc of its own PID namespace (no host processes to see or
 * signal), no network, no capabilities and an empty environment. Nothing of the project, its data, its grader
 * or other episodes is mounted, so it can neither read nor change them; and since the box is its own PID
 * namespace, every process it starts dies when the box's first process does (or when its parent does).
 *
 * Where bwrap is missing or the kernel refuses it namespaces, task code is refused with a clear message,
 * unless the operator opts in with HARNESSX_UNBOXED_TASK_CODE=1 (then it runs as a plain child process, with
 * only the best-effort limits that existed before the box).
 */
export type BoxKind = 'bubblewrap' | 'unboxed';

export const UNBOXED_OPT_IN = 'HARNESSX_UNBOXED_TASK_CODE';
/** Where the episode's folder appears inside the box. */
export const BOX_WORKDIR = '/sandbox';
/** The box's /tmp is memory-backed: bounded so writing to it cannot exhaust the host's memory. */
const BOX_TMP_BYTES = 64 << 20;

export interface BoxStatus {
  kind: BoxKind | 'refused';
  /** One line for the operator: what task code runs in on this machine, said at worker start. */
  summary: string;
}

/** Top-level directories a dynamically linked interpreter may need: symlinks on merged-/usr systems, folders elsewhere. */
const SYSTEM_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const ETC_FILES = ['/etc/ld.so.cache', '/etc/localtime'];

/** bwrap's arguments for a box around `workdir` that can run an interpreter installed under `readOnly`. */
export function boxArguments(workdir: string, readOnly: string[] = []): string[] {
  const args = ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--ro-bind', '/usr', '/usr'];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  for (const file of ETC_FILES) if (existsSync(file)) args.push('--ro-bind', file, file);
  for (const dir of readOnly) if (!dir.startsWith('/usr/') && dir !== '/usr') args.push('--ro-bind', dir, dir);
  args.push('--proc', '/proc', '--dev', '/dev', '--size', String(BOX_TMP_BYTES), '--tmpfs', '/tmp');
  args.push('--bind', workdir, BOX_WORKDIR, '--chdir', BOX_WORKDIR);
  args.push('--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'PYTHONDONTWRITEBYTECODE', '1');
  return args;
}

let status: BoxStatus | undefined;
let bwrapCommand = 'bwrap';

/** Whether this machine can box task code, probed once by running `true` in a box around a read-only folder. */
export function boxStatus(): BoxStatus {
  if (status) return status;
  const probe = spawnSync(bwrapCommand, [...boxArguments('/usr/share'), '--', '/usr/bin/true'], { encoding: 'utf8', timeout: 10_000 });
  const why = probe.error ? `bwrap could not be started (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message})` : `bwrap failed: ${(probe.stderr ?? '').trim().split('\n').pop() || `exit ${probe.status}`}`;
  if (probe.status === 0) status = { kind: 'bubblewrap', summary: 'task code runs in a bubblewrap box (private mount, PID and network namespaces)' };
  else if (process.env[UNBOXED_OPT_IN] === '1')
    status = { kind: 'unboxed', summary: `task code runs UNBOXED, as ${UNBOXED_OPT_IN}=1 asks: it can read and write what this user can (${why})` };
  else
    status = {
      kind: 'refused',
      summary: `task code (HumanEval solutions and examples) is refused: ${why}. Install bubblewrap (Debian: apt-get install bubblewrap) and allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or set ${UNBOXED_OPT_IN}=1 to run it unboxed at your own risk`,
    };
  return status;
}

/** The box to run task code in now; throws the refusal when the machine has none and the operator did not opt in. */
export function requireBox(): BoxKind {
  const s = boxStatus();
  if (s.kind === 'refused') throw new Error(s.summary);
  return s.kind;
}

/** Forgets the probe, so the next one runs `command` (tests: a machine without bwrap, or with the opt-in set). */
export function resetBoxProbe(command = 'bwrap'): void {
  status = undefined;
  bwrapCommand = command;
}

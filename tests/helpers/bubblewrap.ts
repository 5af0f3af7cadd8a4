import { spawnSync } from 'node:child_process';

/**
 * Task code (HumanEval solutions and examples) runs only in a bubblewrap box, so the suites need Debian's
 * bwrap: as root (CI) it is installed when missing, the way Chromium is; otherwise we say how.
 */
export function ensureBubblewrap(log: (line: string) => void): void {
  if (spawnSync('bwrap', ['--version']).status === 0) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || spawnSync('apt-get', ['--version']).status !== 0)
    throw new Error('The HumanEval tests run task code in a bubblewrap box: install it (Debian: sudo apt-get install bubblewrap).');
  log("Installing Debian's bubblewrap for the task-code box (apt-get)…");
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'bubblewrap']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
  }
}

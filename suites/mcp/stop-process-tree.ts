import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * The SDK's StdioClientTransport spawns the server without a process group of its own (it takes no
 * `detached` option), and on close it signals only its direct child. A server started through a wrapper
 * (`npx`, `sh -c`, `uv run`) or one that spawns helpers would leave those running. So we note the whole
 * tree under the server's pid before closing and stop whatever of it outlives the transport's close.
 */
export function descendantPids(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of processTable()) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [rootPid];
  while (queue.length) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (!found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** SIGTERM to every pid still running, then SIGKILL to those that have not gone after `graceMs`. */
export async function stopPids(pids: number[], graceMs = 1000): Promise<void> {
  let alive = pids.filter(isRunning);
  for (const pid of alive) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    alive = alive.filter(isRunning);
  }
  for (const pid of alive) signal(pid, 'SIGKILL');
}

/** Running, as opposed to gone or a zombie waiting for a parent (in a container, pid 1 may never reap it). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    return statusOf(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** [pid, ppid] of every process we can see. */
function processTable(): Array<[number, number]> {
  if (process.platform === 'linux') {
    const rows: Array<[number, number]> = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        // Fields after the command name (which may hold spaces and parentheses): state, ppid, …
        const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        rows.push([Number(entry), Number(after[1])]);
      } catch {
        // The process ended while we listed.
      }
    }
    return rows;
  }
  try {
    return execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .filter((p): p is [number, number] => p.length === 2 && p.every(Number.isFinite));
  } catch {
    return [];
  }
}

function statusOf(stat: string): string {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

import { ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import { devServerArgs } from '../../cli/dev-server';
import { findTemporalCli } from '../../cli/temporal-cli';

const ROOT = join(__dirname, '../..');

/** A real worker process (`harnessx worker`), as a user runs it; resolves once it polls. */
export function spawnWorker(
  options: {
    address: string;
    dataDir: string;
    env?: Record<string, string>;
    onOutput?: (text: string) => void;
    simOverWire?: string;
    /** How to start the process: node's spawn by default; a network namespace's (tests/helpers/netns.ts) for another "host". */
    spawn?: (command: string, args: string[], options: SpawnOptions) => ChildProcess;
  },
  children: ChildProcess[],
): Promise<ChildProcess> {
  // simOverWire: a test worker whose simulator task models go to this latency server (sim-over-wire-worker.ts).
  const args = options.simOverWire ? ['--require', 'tsx/cjs', join(__dirname, 'sim-over-wire-worker.ts')] : [join(ROOT, 'bin/harnessx.js'), 'worker'];
  const child = (options.spawn ?? spawn)(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: options.address, HARNESSX_DATA_DIR: options.dataDir, HARNESSX_LOG_LEVEL: 'ERROR', ...(options.simOverWire ? { HX_TEST_SIM_WIRE_URL: options.simOverWire } : {}), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 90_000);
    const onData = (d: Buffer) => {
      options.onOutput?.(d.toString());
      output = (output + d.toString()).slice(-20_000);
      if (output.includes('AEGIS worker polling')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => code !== null && code !== 0 && reject(new Error(`worker exited ${code}:\n${output}`)));
  });
}

export function killAll(children: ChildProcess[]): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/**
 * The dev server exactly as `harnessx server` runs it (its SQLite file in `dir`), on a test port, without
 * the UI: killed and started again on the same file, it resumes what it held (the crash tests).
 */
export function spawnDevServer(dir: string, port: number, children: ChildProcess[]): ChildProcess {
  const cli = process.env.HARNESSX_TEMPORAL_CLI ?? findTemporalCli()!.path;
  const args = devServerArgs(join(dir, 'temporal.sqlite')).map((a) => (a === '7233' ? String(port) : a));
  const server = spawn(cli, [...args.filter((a, i) => !(a === '--ui-port' || args[i - 1] === '--ui-port')), '--headless'], { stdio: 'ignore' });
  children.push(server);
  return server;
}

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureTemporalCli } from '../../cli/temporal-cli';
import { ensureBubblewrap } from '../helpers/bubblewrap';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Browser tests use Debian's Chromium; as root (CI) it is installed when missing, otherwise we say how. */
function ensureChromium(): void {
  if (process.env.CHROMIUM_PATH || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].some(existsSync)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || spawnSync('apt-get', ['--version']).status !== 0)
    throw new Error('The Web UI and report tests need Chromium: install it (Debian: sudo apt-get install chromium) or set CHROMIUM_PATH.');
  log("Installing Debian's Chromium for the Web UI and report tests (apt-get)…");
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
  }
}

/** Integration suites need the real Temporal CLI, Chromium and bubblewrap: find or install them once, before any suite. */
export default async function globalSetup(): Promise<void> {
  process.env.HARNESSX_TEMPORAL_CLI = await ensureTemporalCli(log);
  ensureChromium();
  ensureBubblewrap(log);
}

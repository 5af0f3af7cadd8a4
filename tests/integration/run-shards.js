#!/usr/bin/env node
/**
 * `npm run test:integration`: the integration suites in two jest processes at once, each running its files
 * one at a time (`--runInBand`). Every suite starts its own Temporal server on its own ports, so two can run
 * side by side; the suites that build network namespaces or a whole cluster (`cluster up`) stay together in
 * one shard, and the shards are balanced by the files' usual durations (seconds, from CI runs) so CI stays
 * well under 45 minutes. The global setup (Temporal CLI, Chromium, bubblewrap) runs once, before both.
 *
 *   node tests/integration/run-shards.js [--shards N] [--plan]   (1: the old single process; --plan: print the split)
 */
const { spawn } = require('node:child_process');
const { readdirSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
/** Usual seconds per file on the 2-core CI machine; a file not listed counts as 60. */
const SECONDS = {
  'cli-output-errors.test.ts': 30,
  'cli.test.ts': 153,
  'cluster-endpoint-limits.test.ts': 150,
  'cluster.test.ts': 97,
  'coevolve.test.ts': 90,
  'concurrent-gate.test.ts': 60,
  'continue-as-new.test.ts': 160,
  'deployment.test.ts': 13,
  'durability.test.ts': 207,
  'endpoint-limits.test.ts': 90,
  'evolve-harness.test.ts': 160,
  'example-memory-crm.test.ts': 60,
  'example-ticket-desk.test.ts': 109,
  'gate-chunk.test.ts': 60,
  'learned-caps.test.ts': 8,
  'live-bench.test.ts': 260,
  'llm-meta-agent.test.ts': 70,
  'multi-host.test.ts': 150,
  'no-worker.test.ts': 30,
  'operate.test.ts': 115,
  'overlap-stages.test.ts': 200,
  'otel.test.ts': 32,
  'package.test.ts': 300,
  'red-team.test.ts': 42,
  'replay.test.ts': 60,
  'report-browser.test.ts': 60,
  's3-store.test.ts': 24,
  'secrets.test.ts': 30,
  'server-crash.test.ts': 90,
  'spend-once.test.ts': 346,
  'store-outage.test.ts': 145,
  'suite-runs.test.ts': 90,
  'web-ui.test.ts': 90,
};
/** Files that must not run beside each other (network namespaces, `cluster up`'s fixed services): one shard. */
const TOGETHER = ['cluster.test.ts', 'multi-host.test.ts', 'cluster-endpoint-limits.test.ts'];

function shardsOf(files, n) {
  const shards = Array.from({ length: n }, () => ({ files: [], seconds: 0 }));
  const cost = (f) => SECONDS[f] ?? 60;
  const together = files.filter((f) => TOGETHER.includes(f));
  const rest = files.filter((f) => !TOGETHER.includes(f)).sort((a, b) => cost(b) - cost(a));
  shards[0].files.push(...together);
  shards[0].seconds += together.reduce((s, f) => s + cost(f), 0);
  // Longest first, each to the shard with the least work so far.
  for (const f of rest) {
    const lightest = shards.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    lightest.files.push(f);
    lightest.seconds += cost(f);
  }
  return shards;
}

function run(command, args, label) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const prefix = (stream, out) => {
      let rest = '';
      stream.on('data', (d) => {
        const lines = (rest + d.toString()).split('\n');
        rest = lines.pop();
        for (const line of lines) out.write(`${label}${line}\n`);
      });
      stream.on('end', () => rest && out.write(`${label}${rest}\n`));
    };
    prefix(child.stdout, process.stdout);
    prefix(child.stderr, process.stderr);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  const i = process.argv.indexOf('--shards');
  const n = i > 0 ? Number(process.argv[i + 1]) : 2;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--shards takes a whole number ≥ 1, got ${process.argv[i + 1]}`);
  const jest = [join(ROOT, 'node_modules/jest/bin/jest.js'), '--selectProjects', 'integration', '--runInBand'];
  if (n === 1) process.exit(await run(process.execPath, ['--expose-gc', ...jest], ''));
  const plan = process.argv.includes('--plan');
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.test.ts'));
  const shards = shardsOf(files, n);
  for (const [k, s] of shards.entries()) process.stderr.write(`shard ${k + 1}/${n}: ${s.files.length} files, about ${Math.round(s.seconds / 60)} min: ${s.files.join(' ')}\n`);
  if (plan) return;
  // The setup once (it may install Chromium with apt-get, which two processes must not do at once).
  require('tsx/cjs');
  await require('./global-setup').default();
  const started = Date.now();
  const codes = await Promise.all(shards.map((s, k) => run(process.execPath, ['--expose-gc', ...jest, '--', ...s.files.map((f) => `tests/integration/${f}$`)], `[${k + 1}] `)));
  process.stderr.write(`integration shards done in ${Math.round((Date.now() - started) / 1000)} s: exit codes ${codes.join(', ')}\n`);
  process.exit(codes.some((c) => c !== 0) ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});

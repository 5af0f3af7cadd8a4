import { checkBenchmark } from '../../benchmarks/check-benchmark';
import { BENCHMARK_NAMES, getBenchmark } from '../../benchmarks/registry';
import { UsageError } from '../errors';
import { type Commands, parseOptions } from '../options';
import { printJson, say } from '../output';

/** Runs a benchmark's verifier on every reference solution (all must pass) and on corrupted ones (all must fail). */
function checkBenchmarkCommand(args: string[]): number {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean', default: false } });
  const name = positionals[0];
  if (!name) throw new UsageError(`usage: harnessx check-benchmark <name> [--json]; benchmarks: ${BENCHMARK_NAMES.join(', ')}`);
  if (!BENCHMARK_NAMES.includes(name)) throw new UsageError(`unknown benchmark "${name}"; available: ${BENCHMARK_NAMES.join(', ')}`);
  const log = say(values.json);
  const started = Date.now();
  const r = checkBenchmark(getBenchmark(name), (done, total) => log(`  checked ${done}/${total} tasks`));
  log(`${name}: reference solutions accepted ${r.referenceAccepted}/${r.tasks}; corrupted solutions rejected ${r.corruptedRejected}/${r.corrupted} (${Date.now() - started} ms)`);
  for (const [kind, c] of Object.entries(r.byKind)) log(`  ${kind.padEnd(22)} rejected ${c.rejected}/${c.tried}`);
  for (const f of r.failures) log(`  FAIL ${f}`);
  if (values.json) printJson(r);
  return r.ok ? 0 : 1;
}

export const commands: Commands = { 'check-benchmark': checkBenchmarkCommand };

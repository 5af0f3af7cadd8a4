import { checkBenchmark, formatBenchmarkCheck } from '../../benchmarks/check-benchmark';
import { getBenchmark, knownBenchmarkNames } from '../../benchmarks/registry';
import { UsageError } from '../errors';
import { type Commands, configSearchNote, loadConfigFlag, parseOptions, unknownSuiteMessage } from '../options';
import { printJson, say } from '../output';

/** Runs a benchmark's verifier on every reference solution (all must pass) and on corrupted ones (all must fail). */
async function checkBenchmarkCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean', default: false }, suite: { type: 'string' }, config: { type: 'string' } });
  const { file, suites } = await loadConfigFlag(values.config);
  const known = knownBenchmarkNames();
  // A config of one suite is what a user checks while writing it: its suite needs no naming.
  const name = values.suite ?? positionals[0] ?? (suites.length === 1 ? suites[0] : undefined);
  if (!name) throw new UsageError(`usage: harnessx check-benchmark <suite> [--config FILE] [--json]; suites: ${known.join(', ')} (${configSearchNote(file)})`);
  if (!known.includes(name)) throw new UsageError(unknownSuiteMessage(name, file));
  const log = say(values.json);
  const started = Date.now();
  const r = await checkBenchmark(getBenchmark(name), (done, total) => log(`  checked ${done}/${total} tasks`));
  // Excluded tasks (with the failing action and error) and notes on loaded tasks are printed too: nothing a
  // user adds to data/ disappears without a word.
  for (const line of formatBenchmarkCheck(r, Date.now() - started)) log(line);
  if (values.json) printJson(r);
  return r.ok ? 0 : 1;
}

export const commands: Commands = { 'check-benchmark': checkBenchmarkCommand };

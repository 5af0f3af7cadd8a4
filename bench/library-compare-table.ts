/**
 * The README's processor-library table from saved `compare --library full|core --json` results: per benchmark
 * and evolver, the held-out test pass rate of each arm over seeds (mean, 95% t-interval), its evolution tokens,
 * and the paired difference full − core over the same seeds (same tasks, same seed names).
 *
 *   node --require tsx/cjs bench/library-compare-table.ts [tag]     # tag: "" | "-with-random" | "-10seeds"
 *
 * Reads bench/results/library-compare-<benchmark>-<full|core><tag>.json (the last line `compare --json` prints),
 * and each run's audit log from the artifact store (HARNESSX_STORE / HARNESSX_DATA_DIR, as the CLI) to count
 * the gated candidates that used the wider library: a processor type outside the core set, or a bundle.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rateInterval } from '../cli/compare-arms';
import { mean, meanInterval, pairedTTest } from '../report/comparison-stats';
import { CORE_PROCESSOR_TYPES } from '../aegis/library-scope';
import { cliStore } from '../cli/store';

interface Row { evolver: string; seed: string; workflowId: string | null; testPassRate: number | null; tokens: number; shipped: number }
const tag = process.argv[2] ?? '';
const results = (benchmark: string, library: string) => JSON.parse(readFileSync(join(__dirname, 'results', `library-compare-${benchmark}-${library}${tag}.json`), 'utf8')) as { rows: Row[]; processorLibrary?: string; seeds: string[] };

/** Gated candidates of a run, and those whose edit key inserts or replaces to a non-core type or applies a bundle. */
async function wider(workflowId: string | null): Promise<{ gated: number; wide: number }> {
  if (!workflowId) return { gated: 0, wide: 0 };
  const keys = (await cliStore().readAudit(workflowId)).filter((r) => r.stage === 'gate' && r.candidateId).map((r) => String((r.payload as { editKey?: string })?.editKey ?? ''));
  const typesOf = (key: string) => [...key.matchAll(/(?:insert:|->)([a-z_]+)@/g)].map((m) => m[1]);
  return { gated: keys.length, wide: keys.filter((k) => k.includes('bundle:') || typesOf(k).some((t) => !CORE_PROCESSOR_TYPES.includes(t))).length };
}

async function main(): Promise<void> {
console.log('| benchmark | evolver | seeds | test, full library | test, core library | full − core (paired, 95% interval) | tokens full / core | ships full / core | gated with a new type or bundle: full / core |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const benchmark of ['blocksworld', 'tau2-retail']) {
  const full = results(benchmark, 'full');
  const core = results(benchmark, 'core');
  if (full.processorLibrary !== 'full' || core.processorLibrary !== 'core') throw new Error(`${benchmark}: the files' processorLibrary fields are ${full.processorLibrary} and ${core.processorLibrary}, expected full and core`);
  for (const evolver of [...new Set(full.rows.map((r) => r.evolver))].filter((e) => e !== 'static')) {
    const pairs = full.seeds.map((seed) => {
      const f = full.rows.find((r) => r.evolver === evolver && r.seed === seed);
      const c = core.rows.find((r) => r.evolver === evolver && r.seed === seed);
      if (!f || !c || f.testPassRate === null || c.testPassRate === null) throw new Error(`${benchmark} ${evolver} ${seed}: a run or its test pass rate is missing`);
      return { f, c };
    });
    const fRates = pairs.map((p) => p.f.testPassRate as number);
    const cRates = pairs.map((p) => p.c.testPassRate as number);
    const diff = meanInterval(fRates.map((v, i) => v - cRates[i]));
    const test = pairedTTest(fRates, cRates);
    const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
    const diffText = diff.halfWidth === null ? pts(diff.mean) : `${pts(diff.mean)} [${pts(diff.low as number)}, ${pts(diff.high as number)}]${test.p === null ? '' : ` p=${test.p.toFixed(2)}`}`;
    const count = async (rows: Row[]) => (await Promise.all(rows.map((r) => wider(r.workflowId)))).reduce((a, b) => ({ gated: a.gated + b.gated, wide: a.wide + b.wide }), { gated: 0, wide: 0 });
    const [wf, wc] = [await count(pairs.map((p) => p.f)), await count(pairs.map((p) => p.c))];
    const tok = (rows: Row[]) => `${(mean(rows.map((r) => r.tokens)) / 1e6).toFixed(1)}M`;
    console.log(`| ${benchmark} | ${evolver} | ${pairs.length} | ${rateInterval(meanInterval(fRates))} | ${rateInterval(meanInterval(cRates))} | ${diffText} | ${tok(pairs.map((p) => p.f))} / ${tok(pairs.map((p) => p.c))} | ${mean(pairs.map((p) => p.f.shipped)).toFixed(1)} / ${mean(pairs.map((p) => p.c.shipped)).toFixed(1)} | ${wf.wide} of ${wf.gated} / ${wc.wide} of ${wc.gated} |`);
  }
}
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

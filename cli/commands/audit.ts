import { buildLineage, formatLineage } from '../../aegis/lineage';
import { diffHarnesses, formatDiff } from '../../harness/diff';
import { buildReport } from '../../report/build-report';
import { loadRun, NoAuditLogError } from '../../report/load-run';
import { UsageError } from '../errors';
import { type Commands, parseOptions, readHarnessFile } from '../options';
import { pct, writeOutputFile } from '../output';
import { cliStore, noRunMessage } from '../store';

/** `history`: the run's audit timeline, one line per record. */
async function history(id: string | undefined): Promise<void> {
  if (!id) throw new UsageError('usage: harnessx history <workflowId>');
  const store = cliStore();
  const records = await store.readAudit(id);
  if (!records.length) throw new UsageError(noRunMessage(id, store));
  for (const r of records) {
    const p = r.payload as Record<string, unknown>;
    const what =
      r.stage === 'ship' ? `SHIPPED ${p.editKey} → ${r.harnessId}`
      : r.stage === 'gate' && r.kind === 'rollback' ? `rejected ${p.editKey}: ${p.reason}`
      : r.stage === 'gate' && p.notNeeded ? `gate not needed ${p.editKey} (evaluated alongside a higher-ranked candidate; the round was decided before it)`
      : r.stage === 'gate' ? `gate passed ${p.editKey}`
      : r.stage === 'rollout' ? `pass ${p.passed}/${p.tasks}`
      : p.noop ? `no-op: ${p.noop}`
      : r.stage === 'final' ? `final: train ${pct(p.seedPassRate as number)} → ${pct(p.evolvedPassRate as number)}, test ${pct(p.seedTestPassRate as number)} → ${pct(p.evolvedTestPassRate as number)}`
      : JSON.stringify(p).slice(0, 140);
    console.log(`${r.ts}  round ${String(r.round).padStart(3)}  ${r.stage.padEnd(9)} ${r.kind.padEnd(8)} ${what}`);
  }
}

/** `lineage`: the tree of harness versions, with the candidates rejected on each. */
async function lineage(id: string | undefined): Promise<void> {
  if (!id) throw new UsageError('usage: harnessx lineage <workflowId>');
  const store = cliStore();
  const tree = buildLineage(await store.readAudit(id));
  if (!tree) throw new UsageError(noRunMessage(id, store));
  console.log(formatLineage(tree));
}

/** A harness by id from the store, or a JSON file. */
async function loadHarness(ref: string | undefined) {
  if (!ref) throw new UsageError('usage: harnessx diff <harnessA> <harnessB>   (harness ids or JSON files)');
  if (/^hx-[0-9a-f]{16}$/.test(ref)) {
    try {
      return await cliStore().getHarness(ref);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  return readHarnessFile(ref, 'sim:small');
}

/** `report`: a self-contained HTML report of the run, written to --out (default report-<id>.html). */
async function report(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { out: { type: 'string' } });
  const id = positionals[0];
  if (!id) throw new UsageError('usage: harnessx report <workflowId> [--out report.html]');
  const store = cliStore();
  let data;
  try {
    data = await loadRun(store, id);
  } catch (e) {
    throw new UsageError(e instanceof NoAuditLogError ? noRunMessage(id, store) : (e as Error).message);
  }
  const out = values.out ?? `report-${id}.html`;
  writeOutputFile(out, buildReport(data));
  console.log(`wrote ${out}`);
}

export const commands: Commands = {
  history: (args) => history(args[0]),
  lineage: (args) => lineage(args[0]),
  diff: async (args) => void console.log(formatDiff(diffHarnesses(await loadHarness(args[0]), await loadHarness(args[1])))),
  report,
};

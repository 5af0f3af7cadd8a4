import { buildLineage, formatLineage } from '../../aegis/lineage';
import { diffHarnesses, formatDiff } from '../../harness/diff';
import { buildReport } from '../../report/build-report';
import { buildDeploymentReport } from '../../report/deployment-report';
import { isDeploymentAudit } from '../../report/deployment-timeline';
import { historyLines } from '../../report/history-text';
import { loadRun, NoAuditLogError } from '../../report/load-run';
import { UsageError } from '../errors';
import { type Commands, parseOptions, readHarnessFile } from '../options';
import { printJson, writeOutputFile } from '../output';
import { lineWidth } from '../progress-line';
import { cliStore, noRunMessage } from '../store';

/** `history`: the run's audit timeline as aligned text (cut to the terminal's width), or the records with --json. */
async function history(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean', default: false } });
  const id = positionals[0];
  if (!id) throw new UsageError('usage: harnessx history <workflowId> [--json]');
  const store = cliStore();
  const records = await store.readAudit(id);
  if (!records.length) throw new UsageError(noRunMessage(id, store));
  if (values.json) return printJson(records);
  for (const line of historyLines(records, process.stdout.isTTY ? lineWidth(process.stdout) : Infinity)) console.log(line);
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

/** `report`: a self-contained HTML report of the run or deployment, written to --out (default report-<id>.html). */
async function report(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { out: { type: 'string' } });
  const id = positionals[0];
  if (!id) throw new UsageError('usage: harnessx report <workflowId> [--out report.html]');
  const store = cliStore();
  const out = values.out ?? `report-${id}.html`;
  const audit = await store.readAudit(id);
  if (!audit.length) throw new UsageError(noRunMessage(id, store));
  // A deployment (deploy-<name>) draws its live pass rate per window with each version marked.
  if (isDeploymentAudit(audit)) {
    writeOutputFile(out, buildDeploymentReport({ runId: id, audit }));
    console.log(`wrote ${out}`);
    return;
  }
  let data;
  try {
    data = await loadRun(store, id, audit);
  } catch (e) {
    throw new UsageError(e instanceof NoAuditLogError ? noRunMessage(id, store) : (e as Error).message);
  }
  writeOutputFile(out, buildReport(data));
  console.log(`wrote ${out}`);
}

export const commands: Commands = {
  history,
  lineage: (args) => lineage(args[0]),
  diff: async (args) => void console.log(formatDiff(diffHarnesses(await loadHarness(args[0]), await loadHarness(args[1])))),
  report,
};

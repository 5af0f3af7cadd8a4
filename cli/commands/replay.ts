import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { dataConverter } from '../../workers/codec';
import { installRuntime } from '../../workers/aegis-worker';
import { workflowSource } from '../../workers/workflow-bundle';
import { connectClient } from '../../workers/connection';
import { UsageError } from '../errors';
import { type Commands, parseFlags } from '../options';
import { writeOutputFile } from '../output';

/** Replays every run of a workflow id against the current workflow code; --save keeps the histories. */
async function replay(id: string | undefined, args: string[]): Promise<void> {
  const values = parseFlags(args, { save: { type: 'string' } });
  if (!id) throw new UsageError('usage: harnessx replay <workflowId> [--save history.json]');
  installRuntime();
  const client = await connectClient();
  const runs: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = "${id.replace(/"/g, '')}"` })) runs.push(w.runId);
  if (!runs.length) throw new UsageError(`no workflow "${id}"`);
  let failures = 0;
  const workflows = workflowSource((line) => console.log(line));
  for (const runId of runs.reverse()) {
    const history = await client.workflow.getHandle(id, runId).fetchHistory();
    if (values.save) writeOutputFile(runs.length > 1 ? values.save.replace(/(\.json)?$/, `-${runId}.json`) : values.save, historyToJSON(history));
    try {
      await Worker.runReplayHistory({ ...workflows, dataConverter: dataConverter() }, history, id);
      console.log(`run ${runId}: ${history.events?.length ?? 0} events replayed, deterministic`);
    } catch (e) {
      failures++;
      console.log(`run ${runId}: DETERMINISM VIOLATION: ${(e as Error).message}`);
    }
  }
  if (failures) throw new UsageError(`${failures} run(s) of ${id} do not replay against the current workflow code`);
}

export const commands: Commands = { replay: (args) => replay(args[0], args.slice(1)) };

import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
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
  const { runs, failures } = await replayRuns(client, id, { save: values.save, log: (line) => console.log(line) });
  if (!runs) throw new UsageError(`no workflow "${id}"`);
  if (failures) throw new UsageError(`${failures} run(s) of ${id} do not replay against the current workflow code`);
}

/**
 * Each run of a workflow id (its continue-as-new chain, oldest first) replayed against the current workflow
 * code, one line per run, then the same for the child workflows its runs started (a deployment's live
 * rounds); `save` writes each history. Also bench/deploy-replay.ts's check.
 */
export async function replayRuns(client: Client, id: string, options: { save?: string; log: (line: string) => void }): Promise<{ runs: number; failures: number }> {
  const workflows = workflowSource(options.log);
  const done = new Set<string>();
  const queue = [id];
  let total = 0;
  let failures = 0;
  while (queue.length) {
    const workflowId = queue.shift()!;
    if (done.has(workflowId)) continue;
    done.add(workflowId);
    const runs: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId.replace(/"/g, '')}"` })) runs.push(w.runId);
    total += runs.length;
    const label = workflowId === id ? 'run' : `${workflowId} run`;
    for (const runId of runs.reverse()) {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      for (const e of history.events ?? []) {
        const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
        if (child) queue.push(child);
      }
      if (options.save) writeOutputFile(runs.length > 1 || workflowId !== id ? options.save.replace(/(\.json)?$/, `-${workflowId === id ? '' : `${workflowId}-`}${runId}.json`) : options.save, historyToJSON(history));
      try {
        await Worker.runReplayHistory({ ...workflows, dataConverter: dataConverter() }, history, workflowId);
        options.log(`${label} ${runId}: ${history.events?.length ?? 0} events replayed, deterministic (${sizeText(historySize(history))})`);
      } catch (e) {
        failures++;
        options.log(`${label} ${runId}: DETERMINISM VIOLATION: ${(e as Error).message}`);
      }
    }
    if (workflowId === id && !runs.length) return { runs: 0, failures: 0 };
  }
  return { runs: total, failures };
}

/** The history's size on the wire, as the server counts it toward its 50 MB limit. */
function historySize(history: Parameters<typeof historyToJSON>[0]): number {
  return temporal.api.history.v1.History.encode(history).finish().length;
}

const sizeText = (bytes: number) => (bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`);

export const commands: Commands = { replay: (args) => replay(args[0], args.slice(1)) };

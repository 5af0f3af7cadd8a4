import { WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { connectionSettings, webUiUrl } from '../../temporal.config';
import { connectClient } from '../../workers/connection';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { pendingWork } from '../progress';
import type { StoreWaitView } from '../progress-line';
import { statusLines } from '../status-lines';
import { UsageError } from '../errors';
import { type Commands, parseOptions, wholeNumber } from '../options';

/** `status` shows the run's state (a few lines, or all of it as JSON); `pause`, `resume` and `stop` signal a running run. */
async function control(command: 'status' | 'pause' | 'resume' | 'stop', args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean', default: false } });
  const id = positionals[0];
  const json = values.json;
  if (!id) throw new UsageError(`usage: harnessx ${command} <workflowId>${command === 'status' ? ' [--json]' : ''}`);
  const client = await connectClient();
  const handle = client.workflow.getHandle(id);
  let description;
  try {
    description = await handle.describe();
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new UsageError(`no workflow "${id}" in namespace ${connectionSettings().namespace}`);
    throw e;
  }
  const workflowStatus = description.status.name;
  if (command === 'status') return status(handle, description, json);
  if (workflowStatus !== 'RUNNING') throw new UsageError(`cannot ${command} "${id}": it is ${workflowStatus.toLowerCase()}`);
  await handle.signal(command);
  console.log(`sent ${command} to ${id}${command === 'stop' ? ' (it stops after the current round)' : command === 'pause' ? ' (it pauses at the next stage boundary)' : ''}`);
}

/** The longest `status` waits for the run's live state: a busy or absent worker must not hold it up. */
const STATUS_QUERY_MS = 800;

/**
 * `status`: what the server knows (state, start, summary, search attributes) at once; the live state from
 * the workflow's query within STATUS_QUERY_MS (a worker answers it); a finished run's result.
 */
async function status(handle: WorkflowHandle, description: WorkflowExecutionDescription, json: boolean): Promise<void> {
  const id = handle.workflowId;
  const workflowStatus = description.status.name;
  const out: Record<string, unknown> = { workflowId: id, workflowStatus, webUi: webUiUrl(id) };
  if (workflowStatus === 'RUNNING') {
    try {
      Object.assign(out, await handle.client.connection.withDeadline(Date.now() + STATUS_QUERY_MS, () => handle.query<RunStatus>('status')));
    } catch (e) {
      out.note = `live status unavailable (${(e as Error).message}); is a worker running? npx harnessx worker`;
    }
    // An artifact store outage the run's activities are waiting out (their heartbeat details), whatever the query said.
    const { storeWait } = await pendingWork(handle).catch(() => ({ storeWait: null }));
    if (storeWait) out.storeWait = storeWait;
  } else if (workflowStatus === 'COMPLETED') {
    out.result = await handle.result();
  }
  if (json) return console.log(JSON.stringify(out, null, 2));
  const summary = await description.staticSummary().catch(() => undefined);
  const elapsed = ((description.closeTime ?? new Date()).getTime() - description.startTime.getTime()) / 1000;
  for (const line of statusLines({ workflowId: id, workflowStatus, startTime: description.startTime, elapsedSeconds: elapsed, summary, live: 'round' in out ? (out as unknown as RunStatus) : null, result: (out.result as RunSummary | undefined) ?? null, note: (out.note as string | undefined) ?? null, storeWait: (out.storeWait as StoreWaitView | undefined) ?? null, webUi: webUiUrl(id) }))
    console.log(line);
}

/** An update the workflow's validator rejected, as the run's own reason. */
function refused(e: unknown): UsageError {
  const cause = (e as Error).cause;
  return new UsageError(`the run refused: ${cause instanceof Error ? cause.message : (e as Error).message}`);
}

/** `approve` / `reject`: decides the candidate waiting in approval mode (or the one named by --candidate). */
async function decide(approve: boolean, args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { candidate: { type: 'string' }, reason: { type: 'string' } });
  const id = positionals[0];
  if (!id) throw new UsageError(`usage: harnessx ${approve ? 'approve' : 'reject'} <workflowId> [--candidate C] [--reason R]`);
  const handle = (await connectClient()).workflow.getHandle(id);
  const status = await handle.query<RunStatus>('status');
  const candidateId = values.candidate ?? status.pendingApproval?.candidateId;
  if (!candidateId) throw new UsageError(`no candidate of "${id}" is waiting for approval`);
  try {
    console.log(await handle.executeUpdate('decide', { args: [{ candidateId, approve, reason: values.reason }] }));
  } catch (e) {
    throw refused(e);
  }
}

/** `budget`: changes a running run's rounds or patience. */
async function budget(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { rounds: { type: 'string' }, patience: { type: 'string' } });
  const id = positionals[0];
  if (!id || (values.rounds === undefined && values.patience === undefined)) throw new UsageError('usage: harnessx budget <workflowId> [--rounds N] [--patience P]');
  const change = { rounds: wholeNumber('rounds', values.rounds), patience: wholeNumber('patience', values.patience) };
  try {
    const result = await (await connectClient()).workflow.getHandle(id).executeUpdate('setBudget', { args: [change] });
    console.log(`budget of ${id}: ${JSON.stringify(result)}`);
  } catch (e) {
    throw refused(e);
  }
}

export const commands: Commands = {
  status: (args) => control('status', args),
  pause: (args) => control('pause', args),
  resume: (args) => control('resume', args),
  stop: (args) => control('stop', args),
  approve: (args) => decide(true, args),
  reject: (args) => decide(false, args),
  budget,
};

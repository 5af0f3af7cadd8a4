import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { CoevolveStatus } from '../workflows/coevolve';
import type { RunStatus } from '../workflows/evolve-harness';
import { UsageError } from './errors';
import { pct } from './output';

/** How a workflow reports progress: its status query, and the status as a line (same key: nothing new). */
export interface ProgressView<S> {
  query: string;
  line(status: S, seconds: number): { key: string; text: string };
}

export const EVOLVE_PROGRESS: ProgressView<RunStatus> = {
  query: 'status',
  line: (s, t) => ({ key: `${s.round}|${s.stage}|${s.lastEvent}`, text: `[${t}s] round ${s.round}/${s.rounds} · ${s.stage} · batch pass ${pct(s.lastPassRate)} · shipped ${s.shipped} · rejected ${s.rejected} · ${s.lastEvent}` }),
};

export const COEVOLVE_PROGRESS: ProgressView<CoevolveStatus> = {
  query: 'coevolveStatus',
  line: (s, t) => ({ key: `${s.iteration}|${s.lastEvent}`, text: `[${t}s] iteration ${s.iteration}/${s.iterations} · harness ${s.harnessId} · checkpoint ${s.checkpointId} · ${s.lastEvent}` }),
};

/** Waits for the run to end, printing a progress line whenever its status changes. A failed run is a UsageError. */
export async function followRun<R, S>(handle: WorkflowHandle, log: (line: string) => void, view: ProgressView<S>, options: { interactive?: boolean; prefix?: string } = {}): Promise<R> {
  const prefix = options.prefix ?? '';
  let last = '';
  const started = Date.now();
  const poll = setInterval(async () => {
    try {
      const { key, text } = view.line(await handle.query<S>(view.query), Math.round((Date.now() - started) / 1000));
      if (key !== last) log(prefix + text);
      last = key;
    } catch {
      /* the query fails while the workflow task is being retried; the next tick will show progress */
    }
  }, options.interactive ? 700 : 1500);
  try {
    return await handle.result();
  } catch (e) {
    if (e instanceof WorkflowFailedError) throw new UsageError(`the run failed: ${e.cause?.message ?? e.message}`);
    throw e;
  } finally {
    clearInterval(poll);
  }
}

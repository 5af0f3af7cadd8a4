import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { CoevolveStatus } from '../workflows/coevolve';
import type { RunStatus } from '../workflows/evolve-harness';
import { UsageError } from './errors';
import { earliestStoreWait, EtaTracker, episodesOf, fit, InFlight, lineWidth, metaCallsOf, progressLine, StoreWaitView, storeWaitOf } from './progress-line';

/**
 * How a workflow reports progress: its status query; where it is (round and stage: a new `where` is new
 * work), the counts that are current at every moment, and its last event (printed once, as its own line,
 * so no line carries a past round's news).
 */
export interface ProgressView<S> {
  query: string;
  where(status: S): string;
  counts(status: S): string;
  event(status: S): string;
}

export const EVOLVE_PROGRESS: ProgressView<RunStatus> = {
  query: 'status',
  where: (s) => `round ${s.round}/${s.rounds} · ${s.stage}`,
  counts: (s) => `shipped ${s.shipped} · rejected ${s.rejected}`,
  event: (s) => s.lastEvent,
};

export const COEVOLVE_PROGRESS: ProgressView<CoevolveStatus> = {
  query: 'coevolveStatus',
  where: (s) => `iteration ${s.iteration}/${s.iterations}`,
  counts: (s) => `checkpoint ${s.checkpointId ?? '-'}`,
  event: (s) => s.lastEvent,
};

/**
 * The work in flight: the heartbeat details of the run's pending activities — episodes (activities/rollout-progress.ts)
 * and a model meta-agent's calls (activities/meta-stages.ts) —
 * read from the server's description of the run, decoded with the client's data converter (and codec).
 */
export async function inFlight(handle: WorkflowHandle): Promise<InFlight | null> {
  return (await pendingWork(handle)).flight;
}

/** The episodes in flight (see inFlight) and the store outage any pending activity is waiting out (activities/store-outage.ts). */
export async function pendingWork(handle: WorkflowHandle): Promise<{ flight: InFlight | null; storeWait: StoreWaitView | null }> {
  const { raw } = await handle.describe();
  const converter = handle.client.options.loadedDataConverter;
  let done = 0;
  let total = 0;
  let activities = 0;
  let metaCalls: number | null = null;
  const waits: Array<StoreWaitView | null> = [];
  for (const a of raw.pendingActivities ?? []) {
    const details = await decodeArrayFromPayloads(converter, a.heartbeatDetails?.payloads);
    waits.push(storeWaitOf(details[0]));
    const calls = metaCallsOf(details[0]);
    if (calls !== null) {
      metaCalls = (metaCalls ?? 0) + calls;
      activities++;
    }
    const ep = episodesOf(details[0]);
    if (!ep) continue;
    done += ep.done;
    total += ep.total;
    activities++;
  }
  return { flight: activities ? { done, total, activities, ...(metaCalls !== null ? { metaCalls } : {}) } : null, storeWait: earliestStoreWait(waits) };
}

export interface FollowOptions {
  interactive?: boolean;
  /** Put before every line (compare: which arm and seed). */
  prefix?: string;
  /** A terminal to redraw one progress line in place; otherwise (not a TTY, --json) plain lines. */
  live?: { write(text: string): unknown; isTTY?: boolean; columns?: number } | null;
}

/**
 * Waits for the run to end, showing its progress. On a terminal: one line redrawn in place, with events
 * printed above it as they happen. Otherwise: a line when the run moves to new work, when the work in
 * flight passes another quarter, and each event. A failed run is a UsageError.
 */
export async function followRun<R, S>(handle: WorkflowHandle, log: (line: string) => void, view: ProgressView<S>, options: FollowOptions = {}): Promise<R> {
  const prefix = options.prefix ?? '';
  const live = options.live?.isTTY ? options.live : null;
  const width = () => lineWidth(live ?? {}) - [...prefix].length;
  const eta = new EtaTracker();
  const started = Date.now();
  let lastEvent = '';
  let lastKey = '';
  let drawn = false;
  let busy = false;
  const print = (line: string) => {
    if (live && drawn) live.write('\r\x1b[K');
    drawn = false;
    log(prefix + line);
  };
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const status = await handle.query<S>(view.query);
      const { flight, storeWait } = await pendingWork(handle).catch(() => ({ flight: null, storeWait: null }));
      const where = view.where(status);
      const now = Date.now();
      const event = view.event(status);
      if (event && event !== lastEvent) print(`  ${fit(event, width() - 2)}`);
      lastEvent = event;
      const line = progressLine({ elapsedSeconds: (now - started) / 1000, where, flight, etaSeconds: flight ? eta.eta(where, now, flight) : null, counts: view.counts(status), storeWait }, width());
      if (live) {
        live.write(`\r\x1b[K${prefix}${line}`);
        drawn = true;
        return;
      }
      const key = `${where}|${flight && flight.total > 0 ? Math.floor((4 * flight.done) / flight.total) : '-'}|${flight?.metaCalls ?? ''}|${storeWait?.since ?? ''}`;
      if (key !== lastKey) print(line);
      lastKey = key;
    } catch {
      /* the query fails while the workflow task is being retried; the next tick will show progress */
    } finally {
      busy = false;
    }
  };
  const poll = setInterval(tick, options.interactive ? 700 : 1500);
  try {
    return await handle.result();
  } catch (e) {
    if (e instanceof WorkflowFailedError) throw new UsageError(`the run failed: ${e.cause?.message ?? e.message}`);
    throw e;
  } finally {
    clearInterval(poll);
    if (live && drawn) live.write('\r\x1b[K');
  }
}

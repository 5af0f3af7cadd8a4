/**
 * The live progress line of a run: where it is (round, stage), how far the work in flight is (episodes
 * done/total from the activities' heartbeat details, a bar, an ETA from the rate observed so far) and
 * the counts that matter, fitted to the terminal. Pure: cli/progress.ts feeds it what the workflow's
 * query and the pending activities' heartbeats say; unit tests feed it numbers.
 */

/** Episodes of the work in flight, summed over the run's pending activities (their heartbeat details). */
export interface InFlight {
  done: number;
  total: number;
  /** Activities contributing, e.g. 3 gate activities of one wave. */
  activities: number;
  /** A model meta-agent's calls so far in the stage running (absent when no meta-agent stage reports any). */
  metaCalls?: number;
}

/** A meta-agent stage's heartbeat details (`{ meta: { calls } }`, activities/meta-stages.ts): its calls so far. */
export function metaCallsOf(details: unknown): number | null {
  const calls = (details as { meta?: { calls?: unknown } } | null)?.meta?.calls;
  return typeof calls === 'number' && Number.isFinite(calls) && calls >= 0 ? calls : null;
}

/** Sums an activity's heartbeat details (`{ rollouts: { key: { done, total } } }`, activities/rollout-progress.ts). */
export function episodesOf(details: unknown): { done: number; total: number } | null {
  const rollouts = (details as { rollouts?: Record<string, { done?: unknown; total?: unknown }> } | null)?.rollouts;
  if (!rollouts || typeof rollouts !== 'object') return null;
  let done = 0;
  let total = 0;
  for (const r of Object.values(rollouts)) {
    if (typeof r?.done === 'number' && typeof r?.total === 'number') {
      done += r.done;
      total += r.total;
    }
  }
  return total > 0 ? { done, total } : null;
}

/** A store outage an activity is waiting out (its heartbeat details' `storeWait`, activities/activity-context.ts). */
export interface StoreWaitView {
  /** ISO time the outage began. */
  since: string;
  reason: string;
}

/** The store outage in an activity's heartbeat details, or null. */
export function storeWaitOf(details: unknown): StoreWaitView | null {
  const w = (details as { storeWait?: { since?: unknown; reason?: unknown } } | null)?.storeWait;
  return w && typeof w.since === 'string' && typeof w.reason === 'string' && Number.isFinite(Date.parse(w.since)) ? { since: w.since, reason: w.reason } : null;
}

/** The earliest of several activities' outages (they wait out the same store), or null. */
export function earliestStoreWait(waits: Array<StoreWaitView | null>): StoreWaitView | null {
  return waits.filter((w): w is StoreWaitView => !!w).sort((a, b) => Date.parse(a.since) - Date.parse(b.since))[0] ?? null;
}

/** "waiting for the artifact store since 05:12:03 UTC (ECONNREFUSED)". */
export function storeWaitText(w: StoreWaitView): string {
  return `waiting for the artifact store since ${new Date(w.since).toISOString().slice(11, 19)} UTC (${w.reason})`;
}

/**
 * The rate of the work in flight, observed between polls: an ETA from it (null until two observations of
 * the same work show progress). A new stage or round is new work: the observation restarts.
 */
export class EtaTracker {
  private first: { key: string; at: number; done: number } | null = null;

  eta(key: string, now: number, flight: InFlight): number | null {
    if (!this.first || this.first.key !== key || flight.done < this.first.done) this.first = { key, at: now, done: flight.done };
    const seconds = (now - this.first.at) / 1000;
    const progressed = flight.done - this.first.done;
    if (seconds <= 0 || progressed <= 0) return null;
    return Math.max(0, (flight.total - flight.done) / (progressed / seconds));
  }
}

/** 83 s → "1:23", 3725 s → "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A bar of `width` cells, e.g. "█████░░░░░". */
export function bar(done: number, total: number, width: number): string {
  const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : 0;
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/** Cuts to `width` columns with an ellipsis. */
export function fit(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(1, width - 1)).join('')}…`;
}

export interface ProgressState {
  elapsedSeconds: number;
  /** "round 2/4 · gate" or "iteration 1/4". */
  where: string;
  flight: InFlight | null;
  etaSeconds: number | null;
  /** Counts that are current at every moment (shipped 1 · rejected 2), never a past round's event. */
  counts: string;
  /** A store outage the run's activities are waiting out: shown right after where the run is. */
  storeWait?: StoreWaitView | null;
}

/**
 * One progress line, at most `width` columns: the bar shrinks first, then the counts go, then the line is
 * cut with an ellipsis.
 */
export function progressLine(s: ProgressState, width = 100): string {
  const head = `[${clock(s.elapsedSeconds)}] ${s.where}${s.storeWait ? ` · ${storeWaitText(s.storeWait)}` : ''}`;
  const episodes = s.flight && s.flight.total > 0 ? s.flight : null;
  const ep = episodes ? `${episodes.done}/${episodes.total} episodes` : '';
  const eta = episodes ? (s.etaSeconds === null ? 'ETA …' : `ETA ${clock(s.etaSeconds)}`) : '';
  const calls = s.flight?.metaCalls;
  const meta = calls === undefined ? '' : `meta-agent ${calls} call${calls === 1 ? '' : 's'}`;
  const compose = (barWidth: number, withCounts: boolean) =>
    [head, episodes && barWidth > 0 ? bar(episodes.done, episodes.total, barWidth) : '', ep, eta, meta, withCounts ? s.counts : ''].filter(Boolean).join(' · ');
  for (const withCounts of [true, false])
    for (const barWidth of [20, 12, 6, 0]) {
      const line = compose(barWidth, withCounts);
      if ([...line].length <= width) return line;
    }
  return fit(compose(0, false), width);
}

/** The width to fit: the terminal's when stdout is one (wider only when it is), else 100 columns. */
export function lineWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return stream.isTTY && stream.columns ? Math.max(40, stream.columns - 1) : 100;
}

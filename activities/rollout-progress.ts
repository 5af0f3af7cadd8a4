import { createHash } from 'node:crypto';
import { finishedFromHeartbeat, FinishedEpisode } from '../aegis/rollout';
import { heartbeat, heartbeatDetailsOrNull, progressPacer } from './activity-context';

/**
 * An activity's progress over its rollouts, sent as heartbeat details: a retried attempt (the worker died)
 * reads it back and skips the episodes already finished. One activity may run several rollouts (the gate:
 * incumbent, candidate, re-checks; ensembles: one per variant), each under its own key.
 */
export interface ActivityProgress {
  rollouts: Record<string, { done: number; total: number; finished: FinishedEpisode[] }>;
}

/** What distinguishes one rollout of an activity from another: harness, tasks, attempts, seed. */
export function rolloutKey(input: { harnessId: string; taskIds: string[]; k: number; seed: string }): string {
  const tasks = createHash('sha256').update(JSON.stringify(input.taskIds)).digest('hex').slice(0, 16);
  return `${input.harnessId}|${input.k}|${input.seed}|${tasks}`;
}

/**
 * The progress one activity attempt reports: seeded from the previous attempt's heartbeat details, updated
 * by each rollout, heartbeated as episodes finish (paced) and on a timer (so an activity waiting out a
 * provider's retry-after, or a slow model call, stays alive). Outside an activity it is inert.
 */
export class ProgressReporter {
  private readonly progress: ActivityProgress;
  private timer: NodeJS.Timeout | null = null;
  private readonly pace = progressPacer();

  constructor(private readonly beatEveryMs = 5000) {
    const details = heartbeatDetailsOrNull() as Partial<ActivityProgress> | null;
    const earlier = details && typeof details === 'object' && details.rollouts && typeof details.rollouts === 'object' ? details.rollouts : {};
    this.progress = { rollouts: { ...earlier } };
  }

  /** The episodes an earlier attempt finished in this rollout (none if it is new or the details are of another shape). */
  resumeOf(key: string): FinishedEpisode[] {
    return finishedFromHeartbeat(this.progress.rollouts[key]);
  }

  update(key: string, done: number, total: number, finished: readonly FinishedEpisode[]): Promise<void> {
    this.progress.rollouts[key] = { done, total, finished: [...finished] };
    return this.pace(this.progress);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => heartbeat(this.progress), this.beatEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * Runs `body` with a reporter beating on a timer; the reporter stops however body ends. `beatEveryMs`: 1000
 * for work the run may cancel, which runs under a short heartbeat timeout (workflows/aegis/activities.ts
 * cancellableRollouts) and, at background priority, can wait several seconds for a slot between episodes.
 */
export async function withProgress<T>(body: (progress: ProgressReporter) => Promise<T>, beatEveryMs?: number): Promise<T> {
  const progress = new ProgressReporter(beatEveryMs);
  progress.start();
  try {
    return await body(progress);
  } finally {
    progress.stop();
  }
}

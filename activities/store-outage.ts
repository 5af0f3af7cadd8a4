import { ApplicationFailure } from '@temporalio/activity';
import type { OutagePolicy } from '../store/outage';
import { attemptDeadlineOrNull, cancelledOrFalse, earlierStoreWait, noteStoreWait } from './activity-context';

/** How long before its start-to-close deadline an attempt stops waiting, so it fails (retryably) before Temporal times it out. */
const DEADLINE_MARGIN_MS = 5_000;

/**
 * The outage policy of a worker's activities: a transient store failure is waited out for up to `budgetMs`
 * from the outage's start, heartbeating meanwhile (the wait is in the heartbeat details, so the CLI shows
 * "waiting for the artifact store since …"); an attempt near its deadline fails retryably, and the next
 * attempt waits on from the same start (read back from the heartbeat details). Past the budget the activity
 * fails for good, saying how long the store has been unavailable and which setting allows longer.
 */
export function activityOutagePolicy(budgetMs: number): OutagePolicy {
  return {
    budgetMs,
    since: () => {
      const earlier = earlierStoreWait();
      const ms = earlier ? Date.parse(earlier.since) : NaN;
      return Number.isFinite(ms) ? ms : null;
    },
    attemptDeadline: () => attemptDeadlineOrNull(DEADLINE_MARGIN_MS),
    cancelled: cancelledOrFalse,
    onWait: (wait) => noteStoreWait({ since: new Date(wait.sinceMs).toISOString(), reason: wait.reason }),
    onRecovered: () => noteStoreWait(null),
    exhausted: (error, sinceMs) =>
      ApplicationFailure.nonRetryable(
        `the artifact store has been unavailable since ${new Date(sinceMs).toISOString()} (${Math.round((Date.now() - sinceMs) / 60_000)} min; HARNESSX_STORE_OUTAGE_MINUTES=${budgetMs / 60_000} on the worker allows longer): ${error.message}`,
        'StoreUnavailable',
      ),
  };
}

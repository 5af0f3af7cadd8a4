import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { activitySummary, ActivityPlace } from '../../aegis/run-labels';
import { ACTIVITY_OPTIONS, LOCAL_ACTIVITY_OPTIONS } from '../../temporal.config';
import { labelledActivities } from '../labelled-activities';

/**
 * Where the run is (round and stage), asked when an activity is scheduled to label it in the Web UI.
 * Module state is per workflow execution (the SDK isolates workflow globals); evolveHarness sets it first thing.
 */
let place: (() => ActivityPlace) | null = null;
export function labelActivitiesWith(where: () => ActivityPlace): void {
  place = where;
}
const label = (activity: string, args: unknown) => (place ? activitySummary(place(), activity, args) : null);

/**
 * The evolveHarness workflow's activity stubs, one per kind of work: each kind has its own timeouts and
 * retry policy (temporal.config.ts). Activities are imported as types only: their code runs on workers.
 */
/** Rollouts, evaluations and the gate: task-model episodes, the long-running work. */
export const rollouts = labelledActivities(proxyActivities<Activities>(ACTIVITY_OPTIONS.rollout), label);
/**
 * Rollout work a run may cancel when no stage will use it (a gate started ahead of a round decided before
 * it): the cancellation waits for the activity to stop, so the run learns what it had spent (the
 * cancellation's details) and no episode of it outlives the run. An activity learns of a cancellation from
 * a heartbeat's answer, and the SDK sends heartbeats at most every 0.8 × the heartbeat timeout: 4 s here
 * (the gate activity beats every second) puts the stop about 3 s after the cancel instead of 12.
 */
export const cancellableRollouts = labelledActivities(proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.rollout, heartbeatTimeout: '4s', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }), label);
/** The meta-agent stages: digest, plan, evolve, critique. */
export const meta = labelledActivities(proxyActivities<Activities>(ACTIVITY_OPTIONS.meta), label);
/** Setup, variant forks and the summary: short store operations. */
export const books = labelledActivities(proxyActivities<Activities>(ACTIVITY_OPTIONS.bookkeeping), label);
/** Audit appends are millisecond, idempotent file appends: local activities spare a server round trip each. */
export const ledger = proxyLocalActivities<Activities>(LOCAL_ACTIVITY_OPTIONS);

/** The result types of the activities the round reads, as the workers return them. */
export type ActivityResult<K extends keyof Activities> = Awaited<ReturnType<Activities[K]>>;

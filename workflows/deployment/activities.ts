import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ACTIVITY_OPTIONS, LOCAL_ACTIVITY_OPTIONS } from '../../temporal.config';
import { ledger as localLedger } from '../aegis/activities';

export { books, meta, rollouts } from '../aegis/activities';
/** Live traces in and out of the store, window evidence, gate tasks, configs: short store operations. */
export const live = proxyActivities<Activities>(ACTIVITY_OPTIONS.bookkeeping);

/** Audit appends as ordinary activities, with the local ones' timeout and retries (they wait out a store outage the same way). */
const audits = proxyActivities<Activities>(LOCAL_ACTIVITY_OPTIONS);

/**
 * The deployment's audit appends. Local activities, as evolveHarness uses, broke the deployment: its loop
 * and a live round schedule work in the same workflow task, and a history in which a local activity's
 * marker landed after activities scheduled beside it could not be replayed (a nondeterminism error on the
 * next replay: a status query to an evicted deployment, or a workflow task that timed out on a loaded
 * worker, left it stuck for good). Ordinary activities have no such ordering; the cost is a server round
 * trip per audit, next to a round's minutes. Deployments that started before keep local activities.
 */
export const ledger: Pick<Activities, 'recordAudit'> = {
  recordAudit: (entry) => (patched('deployment-audits-as-activities') ? audits.recordAudit(entry) : localLedger.recordAudit(entry)),
};

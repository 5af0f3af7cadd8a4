import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ACTIVITY_OPTIONS } from '../../temporal.config';

export { books, ledger, meta, rollouts } from '../aegis/activities';
/** Live traces in and out of the store, window evidence, gate tasks, configs: short store operations. */
export const live = proxyActivities<Activities>(ACTIVITY_OPTIONS.bookkeeping);

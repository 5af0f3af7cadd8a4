import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ACTIVITY_OPTIONS, LOCAL_ACTIVITY_OPTIONS } from '../../temporal.config';

/**
 * The evolveHarness workflow's activity stubs, one per kind of work: each kind has its own timeouts and
 * retry policy (temporal.config.ts). Activities are imported as types only: their code runs on workers.
 */
/** Rollouts, evaluations and the gate: task-model episodes, the long-running work. */
export const rollouts = proxyActivities<Activities>(ACTIVITY_OPTIONS.rollout);
/** The meta-agent stages: digest, plan, evolve, critique. */
export const meta = proxyActivities<Activities>(ACTIVITY_OPTIONS.meta);
/** Setup, variant forks and the summary: short store operations. */
export const books = proxyActivities<Activities>(ACTIVITY_OPTIONS.bookkeeping);
/** Audit appends are millisecond, idempotent file appends: local activities spare a server round trip each. */
export const ledger = proxyLocalActivities<Activities>(LOCAL_ACTIVITY_OPTIONS);

/** The result types of the activities the round reads, as the workers return them. */
export type ActivityResult<K extends keyof Activities> = Awaited<ReturnType<Activities[K]>>;

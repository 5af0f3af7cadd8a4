import type { TaskOutcome } from '../aegis/rollout';
import { packageVersion } from '../harness/package-root';
import type { Store } from '../store/store';
import { workflowIdOrNull } from './activity-context';

/**
 * Part of every cached outcome's key. Outcomes depend on code as well as data (the simulator, benchmark
 * environments, the run loop): bump this when any of them changes behaviour, so a store that outlives an
 * upgrade never serves stale results. The package version is part of the key too.
 */
export const OUTCOME_CACHE_VERSION = `2-${packageVersion()}`;

/** What a task's outcome depends on besides the task: the harness, the attempts per task and the seed. */
export interface OutcomeScope {
  benchmark: string;
  harnessId: string;
  k: number;
  seed: string;
}

/**
 * Per-task outcomes kept in the store, so gates and evaluations reuse what any rollout of the same
 * (harness, k, seed) in the same run already ran: re-evaluation is free and a retried activity never reruns
 * finished tasks. Reuse stops at the run (the workflow id, which continue-as-new keeps): outcomes reused
 * across runs would be paid by one run and free to the next, so runs compared at equal budget (`compare`)
 * would be charged by the order they ran in. Identical paid calls across runs are still never paid twice:
 * the response cache serves them, with their usage counted.
 */
export interface OutcomeCache {
  /** The cached outcomes among these tasks, by task id; tasks never run in this scope are absent. */
  lookup(scope: OutcomeScope, taskIds: string[]): Promise<Map<string, TaskOutcome>>;
  record(scope: OutcomeScope, outcomes: TaskOutcome[]): Promise<void>;
}

function outcomeKey(scope: OutcomeScope, taskId: string) {
  return { v: OUTCOME_CACHE_VERSION, r: workflowIdOrNull(), b: scope.benchmark, h: scope.harnessId, t: taskId, k: scope.k, s: scope.seed };
}

export function createOutcomeCache(store: Store): OutcomeCache {
  return {
    // One store call for all the tasks: a local store reads them in one go, an object store in parallel.
    async lookup(scope, taskIds) {
      const cached = new Map<string, TaskOutcome>();
      const hits = await store.cacheGetMany<TaskOutcome>('outcomes', taskIds.map((id) => outcomeKey(scope, id)));
      taskIds.forEach((id, i) => {
        const hit = hits[i];
        if (hit) cached.set(id, hit);
      });
      return cached;
    },
    async record(scope, outcomes) {
      await store.cacheSetMany('outcomes', outcomes.map((o) => [outcomeKey(scope, o.taskId), o]));
    },
  };
}

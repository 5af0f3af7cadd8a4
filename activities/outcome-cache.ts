import type { TaskOutcome } from '../aegis/rollout';
import { packageVersion } from '../harness/package-root';
import type { Store } from '../store/store';
import { AttemptIdentity, attemptIdentityOrNull, perAttempt, workflowIdOrNull } from './activity-context';
import { Spend, totalSpend } from './spend';

/**
 * Part of every cached outcome's key. Outcomes depend on code as well as data (the simulator, benchmark
 * environments, the run loop): bump this when any of them changes behaviour, so a store that outlives an
 * upgrade never serves stale results. The package version is part of the key too. 3: entries keep what the
 * outcome cost and who paid for it.
 */
export const OUTCOME_CACHE_VERSION = `3-${packageVersion()}`;

/** What a task's outcome depends on besides the task: the harness, the attempts per task and the seed. */
export interface OutcomeScope {
  benchmark: string;
  harnessId: string;
  k: number;
  seed: string;
}

/** A cache entry: the outcome, what its episodes cost, and the activity attempt that paid for them. */
export interface CachedOutcome {
  outcome: TaskOutcome;
  spend: Spend;
  /** The attempt that ran it (attemptIdentityOrNull), or null when it ran outside an activity. */
  paidBy: AttemptIdentity | null;
}

/** What a lookup found: the cached outcomes by task id, and what earlier attempts of this activity paid for those it reuses. */
export interface OutcomeLookup {
  outcomes: Map<string, TaskOutcome>;
  /**
   * The spend of the hits an earlier attempt of this same activity paid for (retried after a worker or
   * server crash), each counted once per attempt: an uninterrupted run paid for that work in this activity,
   * so the retried activity reports it again. Hits paid for by other activities stay free (their spend is
   * theirs). Zero when there are none.
   */
  reusedSpend: Spend;
}

/**
 * Per-task outcomes kept in the store, so gates and evaluations reuse what any rollout of the same
 * (harness, k, seed) in the same run already ran: re-evaluation is free and a retried activity never reruns
 * finished tasks. Reuse stops at the run (the workflow id, which continue-as-new keeps): outcomes reused
 * across runs would be paid by one run and free to the next, so runs compared at equal budget (`compare`)
 * would be charged by the order they ran in. Identical paid calls across runs are still never paid twice:
 * the response cache serves them, with their usage counted.
 *
 * Spend is counted once, whatever is retried: each entry keeps its cost and the attempt that paid it, and
 * a retried attempt of the same activity counts again what its earlier attempts paid for outcomes it
 * reuses (see OutcomeLookup.reusedSpend), so a run's spend is the same with and without a restart.
 */
export interface OutcomeCache {
  /** The cached outcomes among these tasks, by task id (tasks never run in this scope are absent), and the spend reused from earlier attempts. */
  lookup(scope: OutcomeScope, taskIds: string[]): Promise<OutcomeLookup>;
  /** Records outcomes with what each cost (`spendOf(taskId)`; zero when not given), paid by this attempt. */
  record(scope: OutcomeScope, outcomes: TaskOutcome[], spendOf?: (taskId: string) => Spend): Promise<void>;
}

function outcomeKey(scope: OutcomeScope, taskId: string) {
  return { v: OUTCOME_CACHE_VERSION, r: workflowIdOrNull(), b: scope.benchmark, h: scope.harnessId, t: taskId, k: scope.k, s: scope.seed };
}

const NO_SPEND: Spend = { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 };

/**
 * Whether an entry was paid for by an earlier attempt of the activity now running (same workflow run and
 * activity id, another attempt): pure, for tests.
 */
export function paidByEarlierAttempt(paidBy: AttemptIdentity | null, now: AttemptIdentity | null): boolean {
  return !!paidBy && !!now && paidBy.run === now.run && paidBy.activity === now.activity && paidBy.token !== now.token;
}

/** An entry as stored, or null for one of another shape (written by hand, damaged): a miss. */
function entryOf(value: unknown): CachedOutcome | null {
  const e = value as Partial<CachedOutcome> | null;
  if (!e || typeof e !== 'object' || !e.outcome || typeof e.outcome.taskId !== 'string') return null;
  const spend = e.spend && typeof e.spend.tokens === 'number' ? e.spend : NO_SPEND;
  return { outcome: e.outcome, spend, paidBy: e.paidBy ?? null };
}

/** Per attempt: the entries whose spend it has counted already (a second lookup of the same task reuses it for free, as in the first attempt). */
const countedByAttempt = new WeakMap<object, Set<string>>();

export function createOutcomeCache(store: Store): OutcomeCache {
  return {
    // One store call for all the tasks: a local store reads them in one go, an object store in parallel.
    async lookup(scope, taskIds) {
      const outcomes = new Map<string, TaskOutcome>();
      const hits = await store.cacheGetMany<unknown>('outcomes', taskIds.map((id) => outcomeKey(scope, id)));
      const me = attemptIdentityOrNull();
      const counted = perAttempt(countedByAttempt, () => new Set<string>());
      const reused: Spend[] = [];
      taskIds.forEach((id, i) => {
        const entry = entryOf(hits[i]);
        if (!entry) return;
        outcomes.set(id, entry.outcome);
        const key = JSON.stringify([scope.benchmark, scope.harnessId, scope.k, scope.seed, id]);
        if (paidByEarlierAttempt(entry.paidBy, me) && !counted.has(key)) {
          counted.add(key);
          reused.push(entry.spend);
        }
      });
      return { outcomes, reusedSpend: reused.length ? totalSpend(reused) : NO_SPEND };
    },
    async record(scope, outcomes, spendOf) {
      const paidBy = attemptIdentityOrNull();
      await store.cacheSetMany(
        'outcomes',
        outcomes.map((o): [unknown, CachedOutcome] => [outcomeKey(scope, o.taskId), { outcome: o, spend: spendOf?.(o.taskId) ?? NO_SPEND, paidBy }]),
      );
    },
  };
}

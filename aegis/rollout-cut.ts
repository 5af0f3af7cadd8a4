/**
 * Where a rollout under a spend allowance stops, independent of concurrency and completion order.
 *
 * Episodes of a rollout run concurrently and finish in any order, but the cut is defined on the task order
 * of the rollout's input (all k attempts of a task together): the rollout covers the longest prefix of tasks
 * whose cumulative spend stays below the allowance, plus the first task that reaches it. Everything about the
 * cut is decided from that prefix, in task order, so any concurrency and any completion order give the same
 * covered tasks, outcomes and traces. The overshoot past the allowance is then at most the crossing task's
 * episodes, plus episodes already running beyond the cut: those are paid and counted (beyondCut), never used.
 *
 * Launching is the only place timing enters, and it only decides how much is wasted, never the cut: a new
 * task starts unless the episodes already finished among those launched have reached the allowance on
 * their own. Their tasks all lie in the launched prefix, and spend only grows along the prefix, so the
 * prefix's cumulative spend reaches the allowance no later than the last launched task: the cut never
 * needs a task that was held back.
 */

/**
 * The spend a rollout or a gate may make before it stops (the run's evolution budget left); null = no cap.
 */
export interface RolloutAllowance {
  tokens: number | null;
  usd: number | null;
}

export interface EpisodeUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Whether a spend has reached the allowance: spend ≥ allowance in tokens, or in USD where the spend is priced. The gate's test too (allowanceSpent). */
export function spendReaches(allowance: RolloutAllowance, spent: { tokens: number; costUsd: number | null }): boolean {
  if (allowance.tokens !== null && spent.tokens >= allowance.tokens) return true;
  return allowance.usd !== null && spent.costUsd !== null && spent.costUsd >= allowance.usd;
}

/** spendReaches on episode usage priced by `priceOf` (priced only when a USD cap needs it). */
export function allowanceReached(allowance: RolloutAllowance, usage: EpisodeUsage, priceOf: (usage: EpisodeUsage) => number | null): boolean {
  const tokens = usage.inputTokens + usage.outputTokens;
  return spendReaches(allowance, { tokens, costUsd: allowance.usd === null ? null : priceOf(usage) });
}

/** What a cut rollout ran beyond its cut: paid for, reported, never part of the result. */
export interface BeyondCut {
  episodes: number;
  inputTokens: number;
  outputTokens: number;
}

/** A rollout's cut: how many tasks (in input order) it covers, and the spend of episodes beyond them. */
export interface CutResult {
  /** True when the allowance stopped the rollout before its last task. */
  budgetStopped: boolean;
  coveredTasks: number;
  beyondCut: BeyondCut;
}

const add = (a: EpisodeUsage, b: EpisodeUsage): EpisodeUsage => ({ inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens });
const ZERO: EpisodeUsage = { inputTokens: 0, outputTokens: 0 };

/**
 * The cut's bookkeeping for one rollout of `tasks` tasks × `k` attempts; episode i is attempt i mod k of
 * task ⌊i / k⌋. The scheduler reports what it launches and what finishes (any order), and emits finished
 * episodes in index order; the cut is decided on the emitted prefix only.
 */
export class RolloutCut {
  private readonly finishedUsage = new Map<number, EpisodeUsage>();
  /** Spend of finished episodes among those launched (in any order): a lower bound on the launched prefix's spend. */
  private launchedSpend: EpisodeUsage = ZERO;
  private launchedCount = 0;
  /** Spend of the emitted prefix, in index order. */
  private emittedSpend: EpisodeUsage = ZERO;
  private emittedCount = 0;
  private cutAt: number | null = null;

  constructor(
    private readonly tasks: number,
    private readonly k: number,
    /** Whether a spend has reached the allowance (monotone: more tokens never make it false again). */
    private readonly reached: (usage: EpisodeUsage) => boolean,
  ) {
    if (!Number.isInteger(tasks) || tasks < 0 || !Number.isInteger(k) || k < 1) throw new Error(`rollout cut: tasks must be a whole number ≥ 0 and k ≥ 1, got ${tasks} tasks, k=${k}`);
  }

  private get total(): number {
    return this.tasks * this.k;
  }

  /**
   * Whether the next episode (index = episodes launched so far) may start: always within a task already
   * started (its k attempts belong together), and a new task only while the finished launched episodes
   * have not reached the allowance and no cut is decided.
   */
  mayLaunch(): boolean {
    const index = this.launchedCount;
    if (index >= this.total) return false;
    if (index % this.k !== 0) return true;
    return this.cutAt === null && !this.reached(this.launchedSpend);
  }

  /** Episode `index` starts (indices in order); `usage` when it is already finished (resumed from an earlier attempt). */
  launch(index: number, usage?: EpisodeUsage): void {
    if (index !== this.launchedCount) throw new Error(`rollout cut: episode ${index} launched out of order (expected ${this.launchedCount})`);
    this.launchedCount++;
    if (usage) this.finish(index, usage);
  }

  /** Episode `index` finished (any order). */
  finish(index: number, usage: EpisodeUsage): void {
    if (index >= this.launchedCount) throw new Error(`rollout cut: episode ${index} finished before it was launched`);
    if (this.finishedUsage.has(index)) return;
    this.finishedUsage.set(index, usage);
    this.launchedSpend = add(this.launchedSpend, usage);
  }

  /**
   * Asked before emitting episode `index` (= episodes emitted so far): true when the rollout stops here,
   * at a task boundary where the emitted prefix has reached the allowance. Once true, it stays true.
   */
  stopsBefore(index: number): boolean {
    if (index !== this.emittedCount) throw new Error(`rollout cut: asked about episode ${index}, but ${this.emittedCount} are emitted`);
    if (this.cutAt !== null) return true;
    if (index >= this.total || index % this.k !== 0) return false;
    if (!this.reached(this.emittedSpend)) return false;
    this.cutAt = index;
    return true;
  }

  /** Episode `index` is emitted (index order) with its usage. */
  emit(index: number, usage: EpisodeUsage): void {
    if (index !== this.emittedCount || this.cutAt !== null) throw new Error(`rollout cut: episode ${index} emitted out of order or past the cut`);
    this.emittedCount++;
    this.emittedSpend = add(this.emittedSpend, usage);
  }

  /** Whether the scheduler has emitted all it will (every episode, or up to the cut). */
  get complete(): boolean {
    return this.cutAt !== null || this.emittedCount === this.total;
  }

  /** The cut, once complete; beyondCut counts every finished episode past it reported so far. */
  result(): CutResult {
    if (!this.complete) throw new Error('rollout cut: asked for the result before the rollout reached its cut or its end');
    const at = this.cutAt ?? this.total;
    const beyond: BeyondCut = { episodes: 0, inputTokens: 0, outputTokens: 0 };
    for (const [index, usage] of this.finishedUsage) {
      if (index < at) continue;
      beyond.episodes++;
      beyond.inputTokens += usage.inputTokens;
      beyond.outputTokens += usage.outputTokens;
    }
    return { budgetStopped: this.cutAt !== null && this.cutAt < this.total, coveredTasks: at / this.k, beyondCut: beyond };
  }
}

/**
 * The cut from the episodes' usages alone (index order): the reference a scheduler must agree with, whatever
 * order its episodes finish in. Covered tasks: the first task whose preceding cumulative spend has reached
 * the allowance is the first left out.
 */
export function referenceCut(usages: readonly EpisodeUsage[], k: number, reached: (usage: EpisodeUsage) => boolean): number {
  const tasks = usages.length / k;
  let spent = ZERO;
  for (let task = 0; task < tasks; task++) {
    if (reached(spent)) return task;
    for (let a = 0; a < k; a++) spent = add(spent, usages[task * k + a]);
  }
  return tasks;
}

import { HeldOutPoint, measurementSpend, RunState } from './run-state';
import { seededSample } from './sampling';
import { budgetOvershoot, SpendLimits } from './run-budget';
import { BUDGET_EXHAUSTED } from './stop';

/** The result of an evolveHarness run (also written to the run's summary.json). */
export interface RunSummary {
  workflowId: string;
  benchmark: string;
  model: string;
  rounds: number;
  stopReason: string;
  seedHarnessId: string;
  harnessId: string;
  shipped: number;
  rejected: number;
  seedPassRate: number;
  evolvedPassRate: number;
  seedTestPassRate: number | null;
  evolvedTestPassRate: number | null;
  trainTasks: number;
  testTasks: number;
  /** Evolution spend: what maxTokens/maxUsd cap. */
  tokens: number;
  costUsd: number | null;
  /**
   * How far evolution spend went past maxTokens / maxUsd (0 within them; absent in summaries written before
   * it was reported). The budget is checked before each round and each gate, and a sequential gate stops
   * between chunks once it is spent, so this is at most one round's rollout plus one gate chunk (and a
   * regression guard's evaluation, when the guard ran just before the budget was reached).
   */
  overshootTokens?: number;
  /**
   * Rollouts the run started ahead of need (aegis/overlap.ts) that no stage used: a speculative batch whose
   * round shipped, a gate baseline whose gate never came. Spent on the endpoint, counted in no budget.
   * Absent when there were none.
   */
  overlapDiscardedTokens?: number;
  overshootUsd?: number | null;
  /** Measurement spend (held-out tracking, the final evaluation), outside the evolution budget. */
  measurementTokens: number;
  measurementUsd: number | null;
  /** True when the pass rates come from the final evaluation; false when it was skipped (batch pass rates). */
  finalEvaluation: boolean;
  /** The incumbent's held-out pass rates by round with the evolution tokens spent by then (tokens-to-target). */
  heldOut: HeldOutPoint[];
  summaryPath: string;
  /** Under strategy 'ensemble': the final variant pool (harnessId is the lead variant's). */
  strategy?: 'ensemble';
  variants?: Array<{ id: string; harnessId: string; parentId: string | null; born: number }>;
}

/** A pass rate over some tasks: what the final evaluation measures for each arm. */
export interface Measured {
  passRate: number;
  tasks: number;
}

/** Whether the stop reason is a spent evolution budget. */
export function finalEvaluationSkipped(stopReason: string | null): boolean {
  return !!stopReason?.startsWith(BUDGET_EXHAUSTED);
}

/**
 * Whether the final evaluation is skipped (the summary then reports the batch pass rates seen): only when
 * the evolution budget ran out and the user opted out of measuring after it, or the measurement budget is gone.
 */
export function skipsFinalEvaluation(o: { evolutionExhausted: boolean; afterBudget: boolean; measurementLeft: boolean }): boolean {
  return (o.evolutionExhausted && !o.afterBudget) || !o.measurementLeft;
}

/** The train tasks of the final seed-vs-evolved comparison: all, or a fixed seeded sample (finalTrainTasks > 0, for paid models). */
export function finalTrainTaskIds(trainIds: string[], finalTrainTasks: number, seed: string): string[] {
  return finalTrainTasks > 0 ? seededSample(trainIds, finalTrainTasks, `${seed}|final-train`).sort() : trainIds;
}

/** The seed and evolved train arms when the final evaluation is skipped: the first and last batch pass rates. */
export function batchPassRates(s: Pick<RunState, 'seedBatchPassRate' | 'lastPassRate'>, batchSize: number): [Measured, Measured] {
  return [
    { passRate: s.seedBatchPassRate ?? 0, tasks: batchSize },
    { passRate: s.lastPassRate ?? 0, tasks: batchSize },
  ];
}

/** The summary of a finished run (without summaryPath, which the writeSummary activity returns). */
export function buildRunSummary(
  run: { workflowId: string; benchmark: string; model: string; stopReason: string; limits?: SpendLimits },
  s: RunState,
  measured: { seedTrain: Measured; evolvedTrain: Measured; seedTest: Measured | null; evolvedTest: Measured | null; finalEvaluation?: boolean },
): Omit<RunSummary, 'summaryPath'> {
  return {
    workflowId: run.workflowId,
    benchmark: run.benchmark,
    model: run.model,
    rounds: s.round,
    stopReason: run.stopReason,
    seedHarnessId: s.seedHarnessId,
    harnessId: s.incumbentId,
    shipped: s.shipped,
    rejected: s.rejected,
    seedPassRate: measured.seedTrain.passRate,
    evolvedPassRate: measured.evolvedTrain.passRate,
    seedTestPassRate: measured.seedTest?.passRate ?? null,
    evolvedTestPassRate: measured.evolvedTest?.passRate ?? null,
    trainTasks: measured.seedTrain.tasks,
    testTasks: measured.seedTest?.tasks ?? 0,
    tokens: s.tokens,
    costUsd: s.costUsd,
    ...(s.overlapDiscarded?.tokens ? { overlapDiscardedTokens: s.overlapDiscarded.tokens } : {}),
    ...(run.limits ? (({ tokens, usd }) => ({ overshootTokens: tokens, overshootUsd: usd }))(budgetOvershoot(run.limits, s)) : {}),
    measurementTokens: measurementSpend(s).tokens,
    measurementUsd: measurementSpend(s).costUsd,
    finalEvaluation: measured.finalEvaluation ?? true,
    heldOut: s.heldOut ?? [],
    ...(s.variants ? { strategy: 'ensemble' as const, variants: s.variants.map(({ id, harnessId, parentId, born }) => ({ id, harnessId, parentId, born })) } : {}),
  };
}

import type { RunState } from './run-state';
import { seededSample } from './sampling';
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
  tokens: number;
  costUsd: number | null;
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

/** With the budget spent the final evaluation is skipped: the summary reports the batch pass rates seen. */
export function finalEvaluationSkipped(stopReason: string | null): boolean {
  return !!stopReason?.startsWith(BUDGET_EXHAUSTED);
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
  run: { workflowId: string; benchmark: string; model: string; stopReason: string },
  s: RunState,
  measured: { seedTrain: Measured; evolvedTrain: Measured; seedTest: Measured | null; evolvedTest: Measured | null },
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
    ...(s.variants ? { strategy: 'ensemble' as const, variants: s.variants.map(({ id, harnessId, parentId, born }) => ({ id, harnessId, parentId, born })) } : {}),
  };
}

import { batchPassRates, buildRunSummary, finalEvaluationSkipped, finalTrainTaskIds, RunSummary, skipsFinalEvaluation } from '../../aegis/run-summary';
import { patched } from '@temporalio/workflow';
import { books, rollouts } from './activities';
import type { AegisRun } from './run';

/**
 * The final evaluation and summary: seed vs evolved harness on the train tasks (all, or a fixed sample)
 * and, when asked, on the test tasks, under the final seed; then summary.json and the 'final' audit
 * record. It is measurement: paid from the measurement budget, and run even when the evolution budget is
 * gone (unless finalEvaluationAfterBudget is false), so every run of a seed is measured on the same tasks.
 * Runs recorded before the split skipped it once the budget was gone and reported the batch pass rates.
 */
export async function finishRun(run: AegisRun, stopReason: string): Promise<RunSummary> {
  const { input, state: s, controls } = run;
  const evalArgs = { benchmark: input.benchmark, k: input.k, seed: `${input.seed}|final`, endpointLimits: input.endpointLimits };
  const exhausted = finalEvaluationSkipped(stopReason);
  const skipped = run.measurementApart() ? skipsFinalEvaluation({ evolutionExhausted: exhausted, afterBudget: input.finalEvaluationAfterBudget, measurementLeft: run.measurementLeft() }) : exhausted;
  const evaluate = (harnessId: string, taskIds: string[]) => rollouts.evaluate({ ...evalArgs, harnessId, taskIds });
  // Under the ensemble strategy the evolved system is the routed pool of variants, evaluated as such.
  const evaluateEvolved = (taskIds: string[]) => (s.variants ? rollouts.ensembleEvaluate({ ...evalArgs, variants: s.variants, taskIds }) : evaluate(s.incumbentId, taskIds));
  const finalTrain = finalTrainTaskIds(s.trainIds, input.finalTrainTasks, input.seed);
  const withTest = input.evaluateTest && !skipped;
  // Either half may have run early (aegis/overlap.ts: the seed's from setup on, the shipped candidate's while
  // it was gated; only where nothing can skip this evaluation). Any other early evaluation is discarded.
  const early = { seed: run.overlap.takeFinal(s.seedHarnessId), evolved: s.variants ? null : run.overlap.takeFinal(s.incumbentId) };
  run.overlap.dropFinals();
  const or = (started: ReturnType<typeof evaluate> | null | undefined, evaluateNow: () => ReturnType<typeof evaluate>) => () => started ?? evaluateNow();
  const runs: Array<() => ReturnType<typeof evaluate>> = skipped
    ? []
    : [
        or(early.seed?.train, () => evaluate(s.seedHarnessId, finalTrain)),
        or(early.evolved?.train, () => evaluateEvolved(finalTrain)),
        ...(withTest ? [or(early.seed?.test, () => evaluate(s.seedHarnessId, s.testIds)), or(early.evolved?.test, () => evaluateEvolved(s.testIds))] : []),
      ];
  // All at once keeps the endpoint busy through each evaluation's slowest episodes (they are independent);
  // spend is accounted in this fixed order afterwards, so the sums never depend on which finished first.
  // Runs recorded before it replay them one at a time.
  const results = patched('concurrent-measurement') ? await Promise.all(runs.map((r) => r())) : await sequentially(runs);
  for (const r of results) run.accountMeasurement(r.spend);
  const [seedTrain, evolvedTrain] = skipped ? batchPassRates(s, input.batchSize) : [results[0], results[1]];
  const [seedTest, evolvedTest] = withTest ? [results[2], results[3]] : [null, null];
  const summary = buildRunSummary({ workflowId: run.workflowId, benchmark: input.benchmark, model: input.model, stopReason, limits: { maxTokens: input.maxTokens, maxUsd: input.maxUsd } }, s, { seedTrain, evolvedTrain, seedTest, evolvedTest, finalEvaluation: !skipped });
  const written = await books.writeSummary({ runId: run.workflowId, summary: { ...summary, passRates: s.passRates, tried: s.tried } });
  await run.audit({ key: 'final', round: s.round, stage: 'final', kind: 'info', harnessId: s.incumbentId, payload: summary as unknown as Record<string, unknown> });
  controls.stage = 'done';
  controls.lastEvent = `done: ${stopReason}`;
  controls.publish(controls.stopping ? 'stopped' : exhausted ? 'budget_exhausted' : 'completed');
  return { ...summary, summaryPath: written.path };
}

async function sequentially<T>(runs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  for (const r of runs) out.push(await r());
  return out;
}

import { batchPassRates, buildRunSummary, finalEvaluationSkipped, finalTrainTaskIds, RunSummary, skipsFinalEvaluation } from '../../aegis/run-summary';
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
  const evaluate = async (harnessId: string, taskIds: string[]) => {
    const r = await rollouts.evaluate({ ...evalArgs, harnessId, taskIds });
    run.accountMeasurement(r.spend);
    return r;
  };
  // Under the ensemble strategy the evolved system is the routed pool of variants, evaluated as such.
  const evaluateEvolved = async (taskIds: string[]) => {
    if (!s.variants) return evaluate(s.incumbentId, taskIds);
    const r = await rollouts.ensembleEvaluate({ ...evalArgs, variants: s.variants, taskIds });
    run.accountMeasurement(r.spend);
    return r;
  };
  const finalTrain = finalTrainTaskIds(s.trainIds, input.finalTrainTasks, input.seed);
  const [seedTrain, evolvedTrain] = skipped ? batchPassRates(s, input.batchSize) : [await evaluate(s.seedHarnessId, finalTrain), await evaluateEvolved(finalTrain)];
  const [seedTest, evolvedTest] = input.evaluateTest && !skipped ? [await evaluate(s.seedHarnessId, s.testIds), await evaluateEvolved(s.testIds)] : [null, null];
  const summary = buildRunSummary({ workflowId: run.workflowId, benchmark: input.benchmark, model: input.model, stopReason, limits: { maxTokens: input.maxTokens, maxUsd: input.maxUsd } }, s, { seedTrain, evolvedTrain, seedTest, evolvedTest, finalEvaluation: !skipped });
  const written = await books.writeSummary({ runId: run.workflowId, summary: { ...summary, passRates: s.passRates, tried: s.tried } });
  await run.audit({ key: 'final', round: s.round, stage: 'final', kind: 'info', harnessId: s.incumbentId, payload: summary as unknown as Record<string, unknown> });
  controls.stage = 'done';
  controls.lastEvent = `done: ${stopReason}`;
  controls.publish(controls.stopping ? 'stopped' : exhausted ? 'budget_exhausted' : 'completed');
  return { ...summary, summaryPath: written.path };
}

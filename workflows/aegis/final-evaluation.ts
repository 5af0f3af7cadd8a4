import { batchPassRates, buildRunSummary, finalEvaluationSkipped, finalTrainTaskIds, RunSummary } from '../../aegis/run-summary';
import { books, rollouts } from './activities';
import type { AegisRun } from './run';

/**
 * The final evaluation and summary: seed vs evolved harness on the train tasks (all, or a fixed sample)
 * and, when asked, on the test tasks, under the final seed; then summary.json and the 'final' audit
 * record. With the spend budget gone it measures nothing more and reports the batch pass rates seen.
 */
export async function finishRun(run: AegisRun, stopReason: string): Promise<RunSummary> {
  const { input, state: s, controls } = run;
  const evalArgs = { benchmark: input.benchmark, k: input.k, seed: `${input.seed}|final`, endpointLimits: input.endpointLimits };
  const exhausted = finalEvaluationSkipped(stopReason);
  const evaluate = async (harnessId: string, taskIds: string[]) => {
    const r = await rollouts.evaluate({ ...evalArgs, harnessId, taskIds });
    run.account(r.spend);
    return r;
  };
  // Under the ensemble strategy the evolved system is the routed pool of variants, evaluated as such.
  const evaluateEvolved = async (taskIds: string[]) => {
    if (!s.variants) return evaluate(s.incumbentId, taskIds);
    const r = await rollouts.ensembleEvaluate({ ...evalArgs, variants: s.variants, taskIds });
    run.account(r.spend);
    return r;
  };
  const finalTrain = finalTrainTaskIds(s.trainIds, input.finalTrainTasks, input.seed);
  const [seedTrain, evolvedTrain] = exhausted ? batchPassRates(s, input.batchSize) : [await evaluate(s.seedHarnessId, finalTrain), await evaluateEvolved(finalTrain)];
  const [seedTest, evolvedTest] = input.evaluateTest && !exhausted ? [await evaluate(s.seedHarnessId, s.testIds), await evaluateEvolved(s.testIds)] : [null, null];
  const summary = buildRunSummary({ workflowId: run.workflowId, benchmark: input.benchmark, model: input.model, stopReason }, s, { seedTrain, evolvedTrain, seedTest, evolvedTest });
  const written = await books.writeSummary({ runId: run.workflowId, summary: { ...summary, passRates: s.passRates, tried: s.tried } });
  await run.audit({ key: 'final', round: s.round, stage: 'final', kind: 'info', harnessId: s.incumbentId, payload: summary as unknown as Record<string, unknown> });
  controls.stage = 'done';
  controls.lastEvent = `done: ${stopReason}`;
  controls.publish(controls.stopping ? 'stopped' : exhausted ? 'budget_exhausted' : 'completed');
  return { ...summary, summaryPath: written.path };
}

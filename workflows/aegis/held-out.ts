import { rollouts } from './activities';
import type { AegisRun } from './run';

/**
 * Held-out tracking for reports: the incumbent's pass rate on the validation and test tasks after every
 * round (trackHeldOut). Outcomes are cached per harness, so this costs rollouts only after a ship. It is
 * measurement, not evolution: paid from the measurement budget (maxMeasurementTokens) and skipped once
 * that is gone. Nothing evolution decides reads these numbers, so the test split stays unseen by it. The
 * test arm uses the final evaluation's seed, so the last round's number is the final one.
 */
export async function trackHeldOut(run: AegisRun): Promise<{ validation: number | null; test: number | null }> {
  const { input, state: s } = run;
  if (!(input.trackHeldOut && run.measurementLeft())) return { validation: null, test: null };
  const track = async (taskIds: string[], seed: string) => {
    const r = await rollouts.evaluate({ benchmark: input.benchmark, harnessId: s.incumbentId, taskIds, k: input.k, seed, endpointLimits: input.endpointLimits });
    run.accountMeasurement(r.spend);
    return r.passRate;
  };
  return {
    validation: s.validationIds.length ? await track(s.validationIds, input.seed) : null,
    test: input.evaluateTest ? await track(s.testIds, `${input.seed}|final`) : null,
  };
}

import { patched } from '@temporalio/workflow';
import { heldOutAfterRound, measurementSpend, stateAfterRound } from '../../aegis/run-state';
import { rollouts } from './activities';
import type { AegisRun } from './run';

/**
 * Held-out tracking for reports: the incumbent's pass rate on the validation and test tasks after every
 * round (trackHeldOut). Outcomes are cached per harness, so this costs rollouts only after a ship. It is
 * measurement, not evolution: paid from the measurement budget (maxMeasurementTokens) and skipped once
 * that is gone. Nothing evolution decides reads these numbers, so the test split stays unseen by it. The
 * test arm uses the final evaluation's seed, so the last round's number is the final one.
 */
export async function trackHeldOut(run: AegisRun, harnessId = run.state.incumbentId): Promise<{ validation: number | null; test: number | null }> {
  const { input, state: s } = run;
  if (!(input.trackHeldOut && run.measurementLeft())) return { validation: null, test: null };
  const evaluate = (taskIds: string[], seed: string) => rollouts.evaluate({ benchmark: input.benchmark, harnessId, taskIds, k: input.k, seed, endpointLimits: input.endpointLimits });
  const wanted = { validation: s.validationIds.length > 0, test: input.evaluateTest };
  // A final test evaluation of this harness started early (aegis/overlap.ts) runs these very test outcomes.
  if (wanted.test) await run.overlap.finalTestSettled(harnessId);
  // Both at once keeps the endpoint busy through each one's slowest episodes; spend is accounted in a fixed
  // order afterwards, so the sums never depend on which finished first. Older runs replay one at a time.
  const [validation, test] = patched('concurrent-measurement')
    ? await Promise.all([wanted.validation ? evaluate(s.validationIds, input.seed) : null, wanted.test ? evaluate(s.testIds, `${input.seed}|final`) : null])
    : [wanted.validation ? await evaluate(s.validationIds, input.seed) : null, wanted.test ? await evaluate(s.testIds, `${input.seed}|final`) : null];
  for (const r of [validation, test]) if (r) run.accountMeasurement(r.spend);
  return { validation: validation?.passRate ?? null, test: test?.passRate ?? null };
}

/**
 * Round end: patience and the pass-rate history, held-out tracking (with the evolution tokens spent so far,
 * for tokens-to-target), and the round's audit record with both spends.
 */
export async function accountRound(run: AegisRun, round: number, shipped: boolean): Promise<void> {
  const s = run.state;
  Object.assign(s, stateAfterRound(s, round, shipped));
  // What the round ended with, before the next round (or a background measurement) moves anything.
  const end = { harnessId: s.incumbentId, passRate: s.lastPassRate, tokens: s.tokens, costUsd: s.costUsd };
  const background = run.overlap.plan.measureInBackground;
  const measure = async () => {
    const heldOut = await trackHeldOut(run, end.harnessId);
    s.heldOut = heldOutAfterRound(s.heldOut, { round, evolutionTokens: end.tokens, ...heldOut });
    const spend = { tokens: end.tokens, costUsd: end.costUsd, measurementTokens: measurementSpend(s).tokens, measurementUsd: measurementSpend(s).costUsd };
    await run.audit({ key: `${round}:round_end`, round, stage: 'round_end', kind: 'info', harnessId: end.harnessId, payload: { shipped, passRate: end.passRate, ...heldOut, ...spend } });
  };
  // Measurement decides nothing evolution does: with overlap it runs while the next round works.
  if (background) run.overlap.measureLater(end.harnessId, measure);
  else await measure();
}

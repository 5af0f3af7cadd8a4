import { regressionSuite, regressionVerdict, variantsAfterRollback } from '../../aegis/round-decisions';
import { rollouts } from './activities';
import type { AegisRun } from './run';
import { evolutionAllowanceFor } from './strategies';

/**
 * The cumulative-regression guard: per-edit gating sees only the gate set of its round, so small losses
 * elsewhere can add up. Every N rounds the incumbent and the best earlier harness are compared on one fixed
 * suite (outcomes are cached per harness, so only new harnesses cost rollouts); a drift beyond the
 * tolerance rolls the run back to the best harness. When it runs is the main loop's call (regressionGuardDue).
 */
export async function guardAgainstDrift(run: AegisRun, round: number): Promise<void> {
  const { input, state: s } = run;
  const guard = input.regressionGuard;
  const suite = regressionSuite(s.validationIds, s.trainIds, guard.trainSample, input.seed);
  if (!suite.length) return;
  // The guard's spend goes into its audit record, so the log shows what the guard cost (audits of the spend per stage).
  const tokensBefore = s.tokens;
  const base = { key: `${round}:regression`, round, stage: 'regression' as const, harnessId: s.incumbentId };
  // Each evaluation gets the evolution budget left when it starts (runs with a spend cap). One the budget
  // stopped part-way counted only part of the suite: like a gate stopped undecided, the guard then neither
  // rolls back nor moves its best, and records that it stopped.
  let stoppedOn: string | null = null;
  const solved = async (harnessId: string): Promise<number | null> => {
    const r = await rollouts.evaluate({ benchmark: input.benchmark, harnessId, taskIds: suite, k: input.k, seed: `${input.seed}|regression`, endpointLimits: input.endpointLimits, ...evolutionAllowanceFor(run) });
    run.account(r.spend);
    if (!r.budgetStopped) return r.passed;
    stoppedOn = `${harnessId} after ${r.tasks} of ${suite.length} suite tasks`;
    return null;
  };
  const undecided = async () => {
    run.controls.lastEvent = `round ${round}: regression guard stopped undecided (evolution budget spent)`;
    await run.audit({ ...base, kind: 'info', payload: { budgetStopped: true, stoppedOn, suite: suite.length, tokens: s.tokens - tokensBefore } });
  };
  // The seed harness is the first best; the incumbent costs no evaluation when it is the best itself.
  let best = s.regressionBest;
  if (!best) {
    const seedSolved = await solved(s.seedHarnessId);
    if (seedSolved === null) return undecided();
    best = { harnessId: s.seedHarnessId, solved: seedSolved, round: 0 };
  }
  const current = s.incumbentId === best.harnessId ? best.solved : await solved(s.incumbentId);
  if (current === null) return undecided();
  const verdict = regressionVerdict(best, { harnessId: s.incumbentId, solved: current }, guard.tolerance, round);
  if (verdict.rollback) {
    await run.audit({ ...base, kind: 'rollback', payload: { from: s.incumbentId, to: best.harnessId, solved: current, bestSolved: best.solved, bestRound: best.round, suite: suite.length, tokens: s.tokens - tokensBefore } });
    run.controls.lastEvent = `round ${round}: regression guard rolled back to ${best.harnessId} (${current} < ${best.solved} of ${suite.length})`;
    if (s.variants) s.variants = variantsAfterRollback(s.variants, s.incumbentId, best.harnessId);
    s.incumbentId = best.harnessId;
    s.rollbacks = (s.rollbacks ?? 0) + 1;
    s.regressionBest = best;
    return;
  }
  s.regressionBest = verdict.best;
  await run.audit({ ...base, kind: 'info', payload: { solved: current, bestSolved: best.solved, bestHarnessId: best.harnessId, suite: suite.length, tokens: s.tokens - tokensBefore } });
}

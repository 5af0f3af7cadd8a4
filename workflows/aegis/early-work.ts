import { speculationWorthwhile } from '../../aegis/overlap';
import { regressionGuardDue } from '../../aegis/round-decisions';
import { cancellableRollouts, rollouts } from './activities';
import { CancellationScope, patched } from '@temporalio/workflow';
import { AegisRun, finalBesideGate, startFinalEvaluation } from './run';
import { roundBatch } from './stages';

/*
 * The evolveHarness steps that start work early or settle it (aegis/overlap.ts says which, and why no
 * decision changes); the rest lives with the stages that use it (strategies.ts, gate-stage.ts, held-out.ts,
 * final-evaluation.ts) and in RunOverlap (overlap.ts).
 */

/**
 * While the meta-agent works on this round, the next round's batch rollout of the incumbent (aegis/overlap.ts):
 * the next round uses it when the incumbent is still the same, and drops it otherwise.
 */
export function speculateNextBatch(run: AegisRun, round: number): void {
  const { input, state: s, controls } = run;
  if (!run.overlap.plan.speculateNextBatch) return;
  if (!speculationWorthwhile({ round, rounds: s.budget.rounds, guardDueAfterRound: regressionGuardDue(input.regressionGuard, round), stopping: controls.stopping })) return;
  const next = round + 1;
  const args = { benchmark: input.benchmark, harnessId: s.incumbentId, taskIds: roundBatch(run, next), k: input.k, seed: input.seed, endpointLimits: input.endpointLimits, priority: 'background' as const };
  // Dropped (the round shipped), it is cancelled; runs recorded before that let it run to its end.
  if (!patched('cancel-dropped-speculation')) return run.overlap.startSpeculation(s.incumbentId, next, () => rollouts.rollout(args));
  const scope = new CancellationScope();
  run.overlap.startSpeculation(s.incumbentId, next, () => scope.run(() => cancellableRollouts.rollout(args)), () => scope.cancel());
}

/**
 * In the run's last round, the incumbent's final evaluation while the meta-agent works (aegis/overlap.ts
 * finalWithLastGate), at background priority: the final evaluation uses it when no candidate ships (the
 * incumbent is then the evolved harness), and a ship drops it. Without it, a last round that ships nothing
 * ends with that evaluation running alone.
 */
export function startIncumbentFinal(run: AegisRun, round: number): void {
  if (!finalBesideGate(run, round) || !patched('incumbent-final-early')) return;
  startFinalEvaluation(run, run.state.incumbentId, 'background');
}

/**
 * Before continue-as-new: every background step settled and accounted (a new history cannot await this
 * one's activities). An early final evaluation of the seed or of the incumbent is accounted now as the
 * measurement it is (the final evaluation then finds its outcomes in the run's cache, paid); any other is
 * discarded.
 */
export async function settleOverlap(run: AegisRun): Promise<void> {
  const s = run.state;
  const kept = [run.overlap.takeFinal(s.seedHarnessId), s.variants ? null : run.overlap.takeFinal(s.incumbentId)];
  run.overlap.dropFinals();
  // A gate baseline whose gate has not come yet: its spend goes with the state, for that gate to count.
  const baseline = await run.overlap.carryBaseline();
  if (baseline) s.overlapBaseline = baseline;
  await run.overlap.drain();
  for (const early of kept) if (early) for (const r of [await early.train, early.test && (await early.test)]) if (r) run.accountMeasurement(r.spend);
}

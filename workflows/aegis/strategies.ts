import { patched } from '@temporalio/workflow';
import { variantsAfterShip, variantToImprove } from '../../aegis/round-decisions';
import { evolutionAllowance, hasSpendCap } from '../../aegis/run-budget';
import type { GateResult } from '../../aegis/types';
import { leadVariant } from '../../aegis/variants';
import { ActivityResult, books, rollouts } from './activities';
import type { AegisRun } from './run';

/**
 * The two strategies (report §4.5). 'global': one harness serves every task; a round improves it. 'ensemble':
 * a pool of variants, each task routed to the variant that serves its cluster best; a round improves the
 * variant with the most failures, and an edit that unlocks some tasks while regressing others forks a new
 * variant instead of being thrown away. The incumbent under 'ensemble' is the lead variant's harness.
 */

/** What a round works on after its rollout. */
export interface RoundFocus {
  /** The harness this round improves: the incumbent, or under 'ensemble' the focus variant's harness. */
  base: string;
  /** The ensemble variant this round improves; null under 'global'. */
  variant: string | null;
  /** Where the gate compares candidate and base: the batch plus the validation tasks (under 'ensemble', the variant's share of both). */
  gateTaskIds: string[];
  tracesRef: string;
  outcomesRef: string;
}

/** The rollout's totals over the whole batch, for the record and the spend: what the rollout activity returns. */
export type RolloutTotals = ActivityResult<'rollout'>;

/**
 * The evolution budget left, for a rollout or evaluation that is evolution spend (the batch rollout, the
 * regression guard) in a run with a spend cap: it stops starting tasks once that is spent. Read when the
 * activity is scheduled. Runs recorded before it (no 'rollout-allowance' marker) replay without one, and
 * runs without a cap never ask.
 */
export function evolutionAllowanceFor(run: AegisRun): { allowance?: ReturnType<typeof evolutionAllowance> } {
  return hasSpendCap(run.input) && patched('rollout-allowance') ? { allowance: evolutionAllowance(run.input, run.state) } : {};
}

/**
 * Rolls the batch out under the run's strategy and picks what the round improves. The rollout gets the
 * evolution budget left as its allowance: one that comes back budgetStopped covers only part of the batch (a
 * prefix in task order; under 'ensemble', in pool order and then task order, with the pool unchanged), and
 * the round ends there.
 */
export async function rolloutByStrategy(run: AegisRun, batch: string[]): Promise<{ roll: RolloutTotals; focus: RoundFocus }> {
  const { input, state: s } = run;
  if (input.strategy !== 'ensemble') {
    const base = s.incumbentId;
    // The gate's baseline (the incumbent on the validation tasks) beside the batch, unless a held-out
    // measurement of this harness will run them (aegis/overlap.ts); cached outcomes make it free otherwise.
    if (run.overlap.plan.gateBaselineEarly && s.validationIds.length > 0 && !run.overlap.measures(base))
      run.overlap.startBaseline(base, () => rollouts.evaluate({ benchmark: input.benchmark, harnessId: base, taskIds: s.validationIds, k: input.k, seed: input.seed, endpointLimits: input.endpointLimits }));
    const early = run.overlap.takeSpeculation(base, s.round);
    const roll = early ? await early : await rollouts.rollout({ benchmark: input.benchmark, harnessId: base, taskIds: batch, k: input.k, seed: input.seed, endpointLimits: input.endpointLimits, ...evolutionAllowanceFor(run) });
    return { roll, focus: { base: s.incumbentId, variant: null, gateTaskIds: [...batch, ...s.validationIds], tracesRef: roll.tracesRef, outcomesRef: roll.outcomesRef } };
  }
  // Each variant rolls out on the tasks routed to it; the pool comes back with updated per-cluster statistics.
  const er = await rollouts.ensembleRollout({ benchmark: input.benchmark, variants: s.variants!, taskIds: batch, validationIds: s.validationIds, k: input.k, seed: input.seed, endpointLimits: input.endpointLimits, ...evolutionAllowanceFor(run) });
  s.variants = er.variants;
  const f = variantToImprove(er.perVariant);
  const { perVariant: _p, variants: _v, validationRoutes: _r, ...totals } = er;
  return {
    roll: { ...totals, tracesRef: f.tracesRef, outcomesRef: f.outcomesRef },
    focus: { base: f.harnessId, variant: f.variantId, gateTaskIds: [...f.taskIds, ...er.validationRoutes[f.variantId]], tracesRef: f.tracesRef, outcomesRef: f.outcomesRef },
  };
}

/** The rollout record's strategy part: under 'ensemble', the focus variant and the pool. */
export function focusRecord(run: AegisRun, focus: RoundFocus): Record<string, unknown> {
  return focus.variant ? { focusVariant: focus.variant, variants: run.state.variants!.map((v) => ({ id: v.id, harnessId: v.harnessId })) } : {};
}

/** Makes a shipped candidate the incumbent: under 'ensemble' it replaces the focus variant's harness. */
export function adoptCandidate(run: AegisRun, focus: RoundFocus, harnessId: string): void {
  const s = run.state;
  if (focus.variant) {
    s.variants = variantsAfterShip(s.variants!, focus.variant, harnessId);
    s.incumbentId = leadVariant(s.variants).harnessId;
  } else s.incumbentId = harnessId;
}

/**
 * Forks a seesaw-only rejection into a new variant (retiring the worst variant when the pool is full) and
 * records it as a ship: routing then sends each cluster to whichever variant serves it better.
 */
export async function forkCandidate(
  run: AegisRun,
  round: number,
  focus: RoundFocus,
  candidate: { candidateId: string; harnessId: string; editKey: string; bucket: string },
  gate: Pick<GateResult, 'unlocked' | 'regressions'>,
  candidatesRef: string,
): Promise<void> {
  const { input, state: s } = run;
  // gateAction forks only under the ensemble strategy, where every round has a focus variant.
  const parentVariant = focus.variant!;
  const forked = await books.forkVariant({ benchmark: input.benchmark, variants: s.variants!, parentId: parentVariant, harnessId: candidate.harnessId, round, unlocked: gate.unlocked, regressions: gate.regressions, maxVariants: input.maxVariants });
  s.variants = forked.variants;
  await run.audit({
    key: `${round}:ship`,
    round,
    stage: 'ship',
    kind: 'commit',
    candidateId: candidate.candidateId,
    harnessId: candidate.harnessId,
    payload: { fork: true, variant: forked.forked.id, parentVariant, retired: forked.retired?.id ?? null, from: focus.base, to: candidate.harnessId, editKey: candidate.editKey, bucket: candidate.bucket, gate: { unlocked: gate.unlocked, regressions: gate.regressions } },
    evidenceRefs: [candidatesRef],
  });
  s.shipped++;
  s.incumbentId = leadVariant(s.variants).harnessId;
  run.controls.lastEvent = `round ${round}: forked ${candidate.editKey} into variant ${forked.forked.id} (unlocks ${gate.unlocked.length}, regresses ${gate.regressions.length})${forked.retired ? `; retired ${forked.retired.id}` : ''}`;
}

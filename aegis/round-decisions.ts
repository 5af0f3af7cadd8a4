import { TriedEdit, triedEditFromGate } from './meta-agent';
import { seededSample } from './sampling';
import type { Bucket, GateResult, GateTerms } from './types';
import type { Variant } from './variants';

/**
 * The decisions inside one AEGIS round that need no I/O: whether a stage's output leaves anything to do,
 * which variant a round improves, what a gate result means (ship, fork, reject), how the record of tried
 * edits and bucket reputations moves, and when the regression guard runs and rolls back. Plain functions:
 * the workflow calls them between activities; unit tests call them without a Temporal server.
 */

/** Why a digest leaves nothing to do this round, or null when it has actionable failures. */
export function digestNoOpReason(digest: { failing: number; actionability: number }, actionabilityThreshold: number): string | null {
  if (digest.failing === 0) return 'nothing actionable: every task passed';
  if (digest.actionability < actionabilityThreshold) return `actionability ${digest.actionability.toFixed(2)} < ${actionabilityThreshold}`;
  return null;
}

/**
 * The variant an ensemble round improves: the one with the most failed tasks in the batch. Ties go to the
 * earlier variant in the pool (a stable sort), so the choice never depends on completion order.
 */
export function variantToImprove<V extends { tasks: number; passed: number }>(perVariant: readonly V[]): V {
  return [...perVariant].sort((a, b) => b.tasks - b.passed - (a.tasks - a.passed))[0];
}

/**
 * When a rejected candidate forks into a new variant (strategy 'ensemble' only): it failed the seesaw and
 * nothing else, regressing some tasks while unlocking at least max(1, minGain) others. The seesaw runs
 * last, so a failed seesaw means every other check passed.
 */
export function forksIntoVariant(gate: Pick<GateResult, 'checks' | 'regressions' | 'unlocked'>, minGain: number): boolean {
  const onlySeesaw = gate.checks.some((c) => c.check === 'seesaw' && !c.passed);
  return onlySeesaw && gate.regressions.length > 0 && gate.unlocked.length >= Math.max(1, minGain);
}

/**
 * What the round does with a gate result: 'ship' a candidate that passed (after approval, in mode
 * 'human'); under the ensemble strategy 'fork' a seesaw-only rejection into a new variant; otherwise
 * 'reject' it and try the next candidate.
 */
export type GateAction = 'ship' | 'fork' | 'reject';
export function gateAction(gate: Pick<GateResult, 'passed' | 'checks' | 'regressions' | 'unlocked'>, options: { ensemble: boolean; minGain: number }): GateAction {
  if (gate.passed) return 'ship';
  return options.ensemble && forksIntoVariant(gate, options.minGain) ? 'fork' : 'reject';
}

/** Edits remembered as tried (the planner skips them on the same incumbent). */
export const TRIED_HISTORY = 500;

/** The tried-edits record after a gate verdict; a rejection says whether it was for the idea or a mistake. */
export function triedAfterGate(tried: TriedEdit[], edit: { key: string; bucket: Bucket; harnessId: string }, gate: Parameters<typeof triedEditFromGate>[2]): TriedEdit[] {
  return [...tried, triedEditFromGate({ editKey: edit.key, bucket: edit.bucket }, edit.harnessId, gate)].slice(-TRIED_HISTORY);
}

/**
 * The tried-edits record after a reviewer rejected the candidate just gated: its 'shipped' entry is
 * replaced. The reviewer judged a change that ran through the whole gate: a rejection of the idea.
 */
export function triedAfterReviewerRejection(tried: TriedEdit[], edit: { key: string; bucket: Bucket; harnessId: string }, reason: string): TriedEdit[] {
  return [...tried.slice(0, -1), { ...edit, outcome: `rejected: by reviewer${reason ? `: ${reason}` : ''}`, rejectedFor: 'idea' }];
}

/**
 * How the gate will decide this round, in numbers, for the Evolver and the Critic: the minimum gain, k,
 * and how many of the gate tasks are from the round's batch and how many are validation tasks.
 */
export function gateTermsFor(
  input: { minGain: number; k: number; gating?: { mode: 'seesaw' | 'statistical'; repeats: number; tCritical: number; minUnseenGain?: number } },
  gateTaskIds: readonly string[],
  validationIds: readonly string[],
): GateTerms {
  const validation = new Set(validationIds);
  const validationTasks = gateTaskIds.filter((id) => validation.has(id)).length;
  return {
    minGain: input.minGain,
    k: input.k,
    batchTasks: gateTaskIds.length - validationTasks,
    validationTasks,
    ...(validationTasks > 0 && unseenGainRequired(input) > 0 ? { minUnseenGain: unseenGainRequired(input) } : {}),
    ...(input.gating ? { mode: input.gating.mode, repeats: input.gating.repeats, tCritical: input.gating.tCritical } : {}),
  };
}

/**
 * Validation tasks a candidate must unlock to ship (aegis/gate.ts withUnseenGain): gating.minUnseenGain, at
 * most minGain (the sequential gate may stop at a pass once minGain is reached on its first chunk, which is
 * the validation tasks; so more could not be asked of it). Inputs recorded before the option: 1.
 */
export function unseenGainRequired(input: { minGain: number; gating?: { minUnseenGain?: number } }): number {
  return Math.min(input.gating?.minUnseenGain ?? 1, input.minGain);
}

/** The critic's bucket reputations after a gate verdict: ×1.25 on a pass, ×0.9 on a rejection, kept within [0.25, 4]. */
export function reputationAfterGate(reputation: Record<string, number>, bucket: Bucket, passed: boolean): Record<string, number> {
  return { ...reputation, [bucket]: Math.max(0.25, Math.min(4, (reputation[bucket] ?? 1) * (passed ? 1.25 : 0.9))) };
}

/** The incumbent's score after a ship: the candidate's pass rate on the gate set (null for an empty gate set). */
export function scoreAfterShip(gate: Pick<GateResult, 'candidatePassed' | 'gateTasks'>): number | null {
  return gate.gateTasks ? gate.candidatePassed / gate.gateTasks : null;
}

/** The pool after a ship under the ensemble strategy: the improved variant now runs the candidate. */
export function variantsAfterShip(variants: Variant[], variantId: string, harnessId: string): Variant[] {
  return variants.map((v) => (v.id === variantId ? { ...v, harnessId } : v));
}

/** Whether the cumulative-regression guard checks after this round: every `every` rounds, never when 0. */
export function regressionGuardDue(guard: { every: number }, round: number): boolean {
  return guard.every > 0 && round % guard.every === 0;
}

/**
 * The guard's fixed suite: the validation tasks plus a seeded sample of train tasks, the same every round
 * of the run (so outcomes cached per harness make re-checks free), sorted.
 */
export function regressionSuite(validationIds: string[], trainIds: string[], trainSample: number, seed: string): string[] {
  return [...validationIds, ...seededSample(trainIds, trainSample, `${seed}|regression-suite`)].sort();
}

export interface RegressionBest {
  harnessId: string;
  solved: number;
  round: number;
}

/**
 * The guard's verdict: roll back to the best earlier harness when the incumbent solves more than
 * `tolerance` fewer suite tasks than it; otherwise keep the incumbent, which becomes the best when it
 * solves at least as many.
 */
export type RegressionVerdict = { rollback: true; to: RegressionBest } | { rollback: false; best: RegressionBest };
export function regressionVerdict(best: RegressionBest, current: { harnessId: string; solved: number }, tolerance: number, round: number): RegressionVerdict {
  if (best.solved - current.solved > tolerance) return { rollback: true, to: best };
  return { rollback: false, best: current.solved >= best.solved ? { harnessId: current.harnessId, solved: current.solved, round } : best };
}

/** The pool after a rollback: variants running the rolled-back harness run the best one again. */
export function variantsAfterRollback(variants: Variant[], from: string, to: string): Variant[] {
  return variants.map((v) => (v.harnessId === from ? { ...v, harnessId: to } : v));
}

import { selfHostedLimit } from './gate-waves';
import { hasSpendCap } from './run-budget';
import type { EndpointLimitInForce } from './run-state';

/**
 * Which of a round's stages may overlap (README "AEGIS rounds at the endpoint's limit"). A round's stages
 * wait for each other; the work below does not depend on what it would wait for, so it runs alongside:
 *
 * - `measureInBackground`: held-out tracking (validation and test of the incumbent after a round) runs
 *   while the next round works. Measurements still run one after another, in round order, so a
 *   measurement budget is checked exactly as before; a gate waits for a pending measurement of its
 *   incumbent's validation tasks (whose outcomes it reuses) before it starts.
 * - `gateBaselineEarly`: the incumbent's rollout on the validation tasks, which the gate (and a round whose
 *   batch passes entirely) needs, runs beside the batch rollout instead of alone at the gate's start.
 * - `seedFinalEarly`: the final evaluation's seed-harness half (it depends on nothing) runs from setup on.
 * - `speculateNextBatch`: while the meta-agent works, the next round's batch rollout of the incumbent runs;
 *   the next round uses it when the incumbent did not change (no ship), and drops it otherwise. The only
 *   one that can do work today's code would not: only on a self-hosted endpoint (its cost is time, which
 *   it fills) or when asked for ('on').
 * - `finalWithLastGate`: in the run's last round, each candidate's final evaluation runs while it is gated
 *   (runs recorded before 'final-with-every-gate': the first-ranked candidate's only), when it is small enough
 *   to fit in the endpoint's slack (finalFitsSlack); the final evaluation uses it when that candidate is the
 *   evolved harness. The incumbent's own runs from the start of that round, while the meta-agent works
 *   (used when nothing ships). Speculative like the above (a rejected candidate's is dropped), under the same
 *   conditions, and only without a measurement cap.
 * - `gateLookahead`: while a candidate is gated, the next one in the Critic's ranking is gated too
 *   (aegis/gate-waves.ts lookahead); its verdict is applied in its turn, exactly as if it had started then,
 *   and dropped when the round is decided before it. Speculative, under the same conditions, seesaw gating only.
 * - `gateDuringCritique`: while the Critic ranks, the Evolver's first candidate is gated (when the Evolver
 *   took a second or more: a meta-agent that answers at once leaves nothing to fill); the gate stage uses
 *   that gate in the candidate's turn (its verdict applied exactly as one started then), and cancels it when
 *   the Critic leaves the candidate out, revises the candidates or the round ends before its turn. With a meta-agent that
 *   takes seconds per call, the endpoint otherwise idles through the critique. Same conditions; at foreground
 *   priority, as the gate it usually becomes.
 *
 * Speculative work (the next batch, a gate started ahead, and the final evaluations beside the last gates) runs at
 * background priority at the endpoint limiter (models/endpoint-limiter.ts): it takes only the slots the stage
 * the run waits on leaves free — that stage's long tail. Work that will be used (the gate baseline, the
 * seed's final evaluation, measurements) shares the endpoint first come, first served: at background
 * priority it would wait for the whole stage beside it and then run alone, one episode length late.
 *
 * None of them changes a decision for a given seed: each stage's inputs and outcomes are the same; spend is
 * accounted where today's code accounts it (a rollout run early is accounted by the stage that uses it), and
 * work that no stage used (a dropped speculation, a baseline whose gate never came) is reported apart as
 * `overlapDiscarded`, never counted against the evolution budget. Evolution spend decides only under a spend
 * cap, so the two overlaps that run evolution work early need a run without one.
 */
export type OverlapSetting = 'auto' | 'on' | 'off';

export interface OverlapPlan {
  measureInBackground: boolean;
  gateBaselineEarly: boolean;
  seedFinalEarly: boolean;
  speculateNextBatch: boolean;
  finalWithLastGate: boolean;
  gateLookahead: boolean;
  gateDuringCritique: boolean;
}

export const NO_OVERLAP: OverlapPlan = { measureInBackground: false, gateBaselineEarly: false, seedFinalEarly: false, speculateNextBatch: false, finalWithLastGate: false, gateLookahead: false, gateDuringCritique: false };

export interface OverlapRunInput {
  overlap: OverlapSetting;
  model: string;
  strategy: 'global' | 'ensemble';
  gating?: { mode: 'seesaw' | 'statistical' };
  maxTokens?: number;
  maxUsd?: number;
  maxMeasurementTokens?: number;
}

/**
 * The plan for a run. 'auto' overlaps wherever the endpoint is the limit: not on the simulator (CPU work on
 * the worker's own thread, which running more at once only shares), and speculation only on a self-hosted
 * endpoint (on a paid API a dropped speculation is billed).
 */
export function overlapPlan(input: OverlapRunInput, limits: EndpointLimitInForce[] | null | undefined): OverlapPlan {
  if (input.overlap === 'off') return NO_OVERLAP;
  if (input.overlap === 'auto' && input.model.startsWith('sim:')) return NO_OVERLAP;
  const uncapped = !hasSpendCap(input);
  const global = input.strategy !== 'ensemble';
  const speculationPays = input.overlap === 'on' || selfHostedLimit(limits, input.model) !== null;
  return {
    measureInBackground: true,
    gateBaselineEarly: uncapped && global && input.gating?.mode !== 'statistical',
    // The final evaluation then surely runs (no budget can skip it), and measurement order cannot matter.
    seedFinalEarly: uncapped && input.maxMeasurementTokens === undefined,
    speculateNextBatch: uncapped && global && speculationPays,
    finalWithLastGate: uncapped && global && speculationPays && input.maxMeasurementTokens === undefined,
    gateLookahead: uncapped && global && speculationPays && input.gating?.mode !== 'statistical',
    gateDuringCritique: uncapped && global && speculationPays && input.gating?.mode !== 'statistical',
  };
}

/** Whether the next round's batch may be rolled out now: there is a next round, and nothing between would change the incumbent but the gate. */
export function speculationWorthwhile(o: { round: number; rounds: number; guardDueAfterRound: boolean; stopping: boolean }): boolean {
  return !o.stopping && o.round < o.rounds && !o.guardDueAfterRound;
}

/**
 * Whether a candidate's final evaluation is small enough to start beside its gate: at most twice the calls
 * in flight in episodes, so it fills the gate's tail instead of competing with it,
 * and a rejected candidate costs little. A run's default final evaluation (every train task and the test
 * tasks) is far larger: there a rejection would throw away more than the gate itself cost.
 */
export function finalFitsSlack(o: { finalEpisodes: number; maxInFlight: number | undefined }): boolean {
  return o.maxInFlight !== undefined && o.finalEpisodes <= 2 * o.maxInFlight;
}

import { decisionsLogProb, meanKl, POLICY_KINDS, SimDecision, Theta } from '../models/sim/policy';

/**
 * One in-process GRPO update of the simulator's policy θ from buffer groups: maximise the clipped surrogate
 * mean_i min(ρ_i A_i, clip(ρ_i, 1 − ε, 1 + ε) A_i) − β · KL(π_θ ‖ π_ref), with ρ_i = exp(log π_θ(τ_i) −
 * log π_behaviour(τ_i)) and the behaviour log-probs cached at insertion. θ has four parameters, so the
 * gradient is taken by central differences; a few ascent steps per update.
 */
export interface GrpoSample {
  decisions: SimDecision[];
  behaviourLogProb: number;
  advantage: number;
}

export interface GrpoOptions {
  clip: number;
  klCoef: number;
  learningRate: number;
  steps: number;
}

const MAX_STEP = 0.25;

export const DEFAULT_GRPO: GrpoOptions = { clip: 0.2, klCoef: 0.05, learningRate: 0.5, steps: 8 };

export function surrogate(samples: GrpoSample[], theta: Theta, ref: Theta, o: GrpoOptions): number {
  if (!samples.length) return 0;
  let total = 0;
  const all: SimDecision[] = [];
  for (const s of samples) {
    // Per-decision ratio (the geometric mean over the episode) keeps long episodes from saturating the clip.
    const n = Math.max(1, s.decisions.length);
    const ratio = Math.exp((decisionsLogProb(s.decisions, theta) - s.behaviourLogProb) / n);
    total += Math.min(ratio * s.advantage, Math.min(Math.max(ratio, 1 - o.clip), 1 + o.clip) * s.advantage);
    all.push(...s.decisions);
  }
  return total / samples.length - o.klCoef * meanKl(all, theta, ref);
}

export function grpoUpdate(samples: GrpoSample[], theta: Theta, ref: Theta, o: GrpoOptions = DEFAULT_GRPO): { theta: Theta; objectiveBefore: number; objectiveAfter: number } {
  const objectiveBefore = surrogate(samples, theta, ref, o);
  let current = { ...theta };
  const h = 1e-4;
  for (let step = 0; step < o.steps; step++) {
    const grad = Object.fromEntries(
      POLICY_KINDS.map((k) => [k, (surrogate(samples, { ...current, [k]: current[k] + h }, ref, o) - surrogate(samples, { ...current, [k]: current[k] - h }, ref, o)) / (2 * h)]),
    ) as Theta;
    // A trust region: no parameter moves more than MAX_STEP per ascent step, whatever the gradient's scale.
    current = Object.fromEntries(POLICY_KINDS.map((k) => [k, Math.max(-8, Math.min(8, current[k] + Math.max(-MAX_STEP, Math.min(MAX_STEP, o.learningRate * grad[k]))))])) as Theta;
  }
  return { theta: current, objectiveBefore, objectiveAfter: surrogate(samples, current, ref, o) };
}

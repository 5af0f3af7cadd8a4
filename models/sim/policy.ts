import type { SimProfile } from './profile';

/**
 * The simulator's trainable policy: one parameter per error kind, scaling that kind's harness-dependent
 * rate (p = min(0.95, p_base · e^θ)). θ = 0 is the base model. A checkpoint is a θ, carried in the model
 * string (`sim:small@theta=-0.4,-0.1,0,-0.7`), so the harness id changes with the checkpoint (H = (M, C)).
 * Each model call records its Bernoulli decisions (kind, base rate, outcome), which makes the log-probability
 * of an episode under any θ computable — what GRPO needs.
 */
export const POLICY_KINDS = ['invalid', 'loop', 'subgoal', 'format'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];
export type Theta = Record<PolicyKind, number>;
export const ZERO_THETA: Theta = { invalid: 0, loop: 0, subgoal: 0, format: 0 };

/** One recorded decision: kind, the rate before θ, and whether the error happened. */
export interface SimDecision {
  k: PolicyKind;
  b: number;
  h: boolean;
}

export const rateUnder = (base: number, theta: number) => Math.min(0.95, Math.max(1e-6, base * Math.exp(theta)));

export function applyTheta(rates: SimProfile, theta: Theta): SimProfile {
  return { ...rates, invalid: rateUnder(rates.invalid, theta.invalid), loop: rateUnder(rates.loop, theta.loop), subgoal: rateUnder(rates.subgoal, theta.subgoal), format: rateUnder(rates.format, theta.format) };
}

/** log π_θ of a sequence of decisions. */
export function decisionsLogProb(decisions: SimDecision[], theta: Theta): number {
  let lp = 0;
  for (const d of decisions) {
    const p = rateUnder(d.b, theta[d.k]);
    lp += Math.log(d.h ? p : 1 - p);
  }
  return lp;
}

/** Per-decision KL(π_θ ‖ π_ref) averaged over the decisions (Bernoulli). */
export function meanKl(decisions: SimDecision[], theta: Theta, ref: Theta): number {
  if (!decisions.length) return 0;
  let kl = 0;
  for (const d of decisions) {
    const p = rateUnder(d.b, theta[d.k]);
    const q = rateUnder(d.b, ref[d.k]);
    kl += p * Math.log(p / q) + (1 - p) * Math.log((1 - p) / (1 - q));
  }
  return kl / decisions.length;
}

export function formatSimModel(size: string, theta: Theta): string {
  if (POLICY_KINDS.every((k) => theta[k] === 0)) return `sim:${size}`;
  return `sim:${size}@theta=${POLICY_KINDS.map((k) => Number(theta[k].toFixed(4))).join(',')}`;
}

/** "small" or "small@theta=a,b,c,d" → size and θ; a clear error for anything else. */
export function parseSimName(name: string): { size: string; theta: Theta } {
  const [size, param] = name.split('@');
  if (!param) return { size, theta: { ...ZERO_THETA } };
  const m = /^theta=(-?[\d.]+),(-?[\d.]+),(-?[\d.]+),(-?[\d.]+)$/.exec(param);
  if (!m) throw new Error(`sim model "${name}": expected ${size}@theta=<invalid>,<loop>,<subgoal>,<format> (four numbers)`);
  const values = m.slice(1).map(Number);
  if (values.some((v) => !Number.isFinite(v) || Math.abs(v) > 20)) throw new Error(`sim model "${name}": θ values must be finite numbers within ±20`);
  return { size, theta: Object.fromEntries(POLICY_KINDS.map((k, i) => [k, values[i]])) as Theta };
}

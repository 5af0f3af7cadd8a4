import type { EndpointLimitInForce } from './run-state';

/**
 * Concurrent gating of the Critic's ranked candidates (pure, for the workflow bundle). The gate may evaluate
 * several ranked candidates at once, but what ships stays "the first candidate in the Critic's ranking that
 * passes": verdicts are applied in ranking order whatever order they arrive in, and the candidates evaluated
 * after the decisive one are recorded as not needed (their spend is counted).
 */

/** The seeds of a gate's rollouts: the round's seed, plus R − 1 paired repeats under statistical gating. */
export function gateSeeds(seed: string, gating?: { mode: 'seesaw' | 'statistical'; repeats: number }): string[] {
  if (gating?.mode !== 'statistical') return [seed];
  return Array.from({ length: gating.repeats }, (_, r) => (r === 0 ? seed : `${seed}|repeat-${r}`));
}

/**
 * How many ranked candidates the gate evaluates at once. `requested` (the run input's gateConcurrency) wins.
 * Otherwise: as many as it takes for the candidates' episodes to fill the episodes a rollout keeps open
 * against the run's endpoint (twice its calls in flight, as defaultRolloutConcurrency), and never more than there are candidates after the first (which
 * the gate evaluates alone, see gateWaves). One candidate that
 * fills the endpoint alone gives 1, so nothing is evaluated speculatively when it would not save time;
 * the simulator (CPU work on the worker's thread) and paid APIs (speculation costs money) stay sequential. No recorded limits (runs recorded before they were): 1.
 */
const PAID_PROVIDERS = ['anthropic:', 'openai:'];

/**
 * The run's model's recorded limit when its endpoint is one the gate should fill: self-hosted (vLLM,
 * Ollama, …), not the simulator (CPU work on the worker's thread: more at once would only share it) and not
 * a paid API (every extra episode is billed, so filling it is opt-in). Null there, and for runs recorded
 * before limits were.
 */
export function selfHostedLimit(limits: EndpointLimitInForce[] | null | undefined, model: string): EndpointLimitInForce | null {
  if (model.startsWith('sim:') || PAID_PROVIDERS.some((p) => model.startsWith(p))) return null;
  return limits?.find((l) => l.model === model) ?? null;
}

export function gateConcurrency(options: { requested?: number; limits: EndpointLimitInForce[] | null | undefined; model: string; episodesPerCandidate: number; candidates: number }): number {
  const most = Math.max(1, options.candidates - 1);
  if (options.requested !== undefined) return Math.min(options.requested, most);
  // On a paid API speculative gates cost up to 1.7× the gate's tokens when the second candidate ships
  // (bench/gate-bench.ts): waiting is cheaper than paying, so there speculation is opt-in.
  const inForce = selfHostedLimit(options.limits, options.model);
  if (!inForce || options.episodesPerCandidate < 1) return 1;
  const open = 2 * inForce.limit.maxInFlight;
  return Math.min(most, Math.max(1, Math.ceil(open / options.episodesPerCandidate)));
}

/**
 * The ranking cut into waves, in ranking order: the first candidate alone, then the rest `concurrency` at a
 * time. The first gate pays for the incumbent's outcomes on the gate tasks, which every later gate then
 * finds cached (gates run at once would each pay for them), and when the first candidate passes, as it
 * often does, nothing was spent on candidates the round did not need.
 */
export function gateWaves<T>(ranking: readonly T[], concurrency: number): T[][] {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`gate concurrency must be a whole number ≥ 1, got ${concurrency}`);
  const waves: T[][] = ranking.length ? [[ranking[0]]] : [];
  for (let i = 1; i < ranking.length; i += concurrency) waves.push(ranking.slice(i, i + concurrency));
  return waves;
}

/** What applying one verdict did: go on to the next candidate, or the round is decided (shipped or not). */
export type VerdictApplied = { done: false } | { done: true; shipped: boolean };

export type GatingEnd =
  /** A verdict decided the round (a ship, a fork, or a stop while awaiting approval). */
  | { end: 'decided'; shipped: boolean }
  /** mayContinue said no before a candidate (the budget ran out). */
  | { end: 'stopped' }
  /** Every candidate was evaluated and rejected. */
  | { end: 'exhausted' };

/**
 * Gates the ranking in waves of `concurrency` candidates evaluated at once, and applies their verdicts in
 * ranking order, so the round goes exactly as one candidate at a time would: `mayContinue` is asked before
 * every candidate a sequential gate would start (before a wave, and before each later candidate of it),
 * `apply` sees the verdicts in ranking order, and the first that decides the round ends it. The candidates
 * of that wave after the deciding one (or after mayContinue said no) go to `notNeeded`: evaluated, not
 * applied. Waits for every evaluation of a wave (allSettled), so nothing depends on completion order and
 * no evaluation outlives the stage; an evaluation that failed fails the stage where a sequential gate would
 * have met it, in ranking order.
 * Uses nothing but promises: safe in workflow code, and deterministic on replay.
 */
export async function gateInRankingOrder<C, R>(options: {
  ranking: readonly C[];
  concurrency: number;
  mayContinue: () => boolean;
  evaluate: (candidate: C) => Promise<R>;
  apply: (candidate: C, result: R) => Promise<VerdictApplied>;
  notNeeded: (candidate: C, result: R) => Promise<void>;
}): Promise<GatingEnd> {
  const { concurrency } = options;
  for (const wave of gateWaves(options.ranking, concurrency)) {
    if (!options.mayContinue()) return { end: 'stopped' };
    const settled = await Promise.allSettled(wave.map((c) => options.evaluate(c)));
    const rest = async (from: number) => {
      for (let j = from; j < wave.length; j++) {
        const r = settled[j];
        if (r.status === 'fulfilled') await options.notNeeded(wave[j], r.value);
      }
    };
    for (let i = 0; i < wave.length; i++) {
      if (i > 0 && !options.mayContinue()) {
        await rest(i);
        return { end: 'stopped' };
      }
      const r = settled[i];
      if (r.status === 'rejected') throw r.reason;
      const applied = await options.apply(wave[i], r.value);
      if (applied.done) {
        await rest(i + 1);
        return { end: 'decided', shipped: applied.shipped };
      }
    }
  }
  return { end: 'exhausted' };
}

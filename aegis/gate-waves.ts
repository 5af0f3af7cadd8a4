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
 * against the run's endpoint (twice its calls in flight; fixed, since a running workflow computes it again on replay), and never more than there are candidates after the first (which
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

/** Whether a gate got as far as comparing candidate and incumbent on the gate tasks (every static check and the smoke test passed). */
export function gateCompared(gate: { checks: readonly { check: string }[] }): boolean {
  return gate.checks.some((c) => c.check === 'seesaw');
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
 * applied. Waits for every evaluation of a wave (allSettled), so nothing depends on completion order; an
 * evaluation that failed fails the stage where a sequential gate would have met it, in ranking order.
 *
 * With `lookahead`, the next wave's evaluations start with a wave that was not itself started ahead, marked
 * `ahead` (the caller runs them at background priority, so they fill what the current wave leaves of the
 * endpoint: its long tail). They are used exactly as if started in their turn; when the round ends before
 * their turn, they go to `lookahead.discard` unawaited (work a sequential gate would never have done). Only
 * every other wave starts one, so a wave started ahead, now needed, never shares its priority with a
 * speculation of its own.
 *
 * `started` holds evaluations begun before the stage (a gate started while the Critic ranked; the caller
 * runs them at background priority too): each is used in its candidate's turn instead of a new evaluation.
 * Such a wave may still start the next one ahead: it has had the Critic's time to itself, so what is left
 * of it is mostly its tail. One the round never reaches, or of a candidate not in the ranking, goes to
 * `started.discard` unawaited.
 * Uses nothing but promises: safe in workflow code, and deterministic on replay.
 */
export async function gateInRankingOrder<C, R>(options: {
  ranking: readonly C[];
  concurrency: number;
  mayContinue: () => boolean;
  evaluate: (candidate: C, ahead: boolean) => Promise<R>;
  apply: (candidate: C, result: R) => Promise<VerdictApplied>;
  notNeeded: (candidate: C, result: R) => Promise<void>;
  lookahead?: { discard: (candidate: C, result: Promise<R>) => void };
  started?: { evaluations: ReadonlyMap<C, Promise<R>>; discard: (candidate: C, result: Promise<R>) => void };
}): Promise<GatingEnd> {
  const waves = gateWaves(options.ranking, options.concurrency);
  const started = new Map(options.started?.evaluations ?? []);
  started.forEach((p) => quietly(p));
  /** The candidate's evaluation begun before the stage, taken; or a new one. */
  const evaluation = (c: C, ahead: boolean): Promise<R> => {
    const early = started.get(c);
    started.delete(c);
    return early ?? options.evaluate(c, ahead);
  };
  /** The next wave's evaluations, when they were started ahead of their turn. */
  let ahead: Array<Promise<R>> | null = null;
  const discardAhead = (w: number) => {
    if (ahead) waves[w].forEach((c, i) => options.lookahead!.discard(c, ahead![i]));
    ahead = null;
    started.forEach((p, c) => options.started!.discard(c, p));
    started.clear();
  };
  // Begun for a candidate the ranking left out: no turn will come.
  for (const [c, p] of [...started]) if (!options.ranking.includes(c)) (options.started!.discard(c, p), started.delete(c));
  for (let w = 0; w < waves.length; w++) {
    const wave = waves[w];
    if (!options.mayContinue()) {
      discardAhead(w);
      return { end: 'stopped' };
    }
    const startedAhead: boolean = ahead !== null;
    const current: Array<Promise<R>> = ahead ?? wave.map((c) => evaluation(c, false));
    ahead = options.lookahead && !startedAhead && w + 1 < waves.length ? waves[w + 1].map((c) => quietly(evaluation(c, true))) : null;
    const settled = await Promise.allSettled(current);
    const rest = async (from: number) => {
      for (let j = from; j < wave.length; j++) {
        const r = settled[j];
        if (r.status === 'fulfilled') await options.notNeeded(wave[j], r.value);
      }
    };
    for (let i = 0; i < wave.length; i++) {
      if (i > 0 && !options.mayContinue()) {
        await rest(i);
        discardAhead(w + 1);
        return { end: 'stopped' };
      }
      const r = settled[i];
      if (r.status === 'rejected') {
        discardAhead(w + 1);
        throw r.reason;
      }
      const applied = await options.apply(wave[i], r.value);
      if (applied.done) {
        await rest(i + 1);
        discardAhead(w + 1);
        return { end: 'decided', shipped: applied.shipped };
      }
    }
  }
  return { end: 'exhausted' };
}

/** A promise whose rejection counts as handled (it is awaited in its turn, or discarded). */
function quietly<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

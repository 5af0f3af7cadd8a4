import { fnv1a } from '../sampling';
import { ResolvedOutcome, weightedRate, WeightedRate } from './outcomes';

/**
 * The canary: which runs a candidate serves, and when its evidence says promote or roll back. Pure and free
 * of Node modules: the deployment workflow answers assignment queries with it and every agent computes the
 * same assignment locally, so a run key (a user, a conversation) stays on one version.
 */

/**
 * Whether the run with this key goes to the canary. The key is hashed with the canary's harness id, so each
 * new canary draws a fresh slice of users, and a given user is in or out for the canary's whole life.
 */
export function assignsToCanary(runKey: string, canaryHarnessId: string, share: number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  return mix32(fnv1a(`${canaryHarnessId}\u0000${runKey}`)) / 4294967296 < share;
}

/** MurmurHash3's finaliser: FNV-1a alone leaves keys that differ in their last characters close together in the high bits. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The rules the canary is judged by (the deployment's input). */
export interface CanaryRules {
  /** No decision to promote before the canary has this many runs (a pull for failures may come sooner). */
  minRuns: number;
  /** Decide by now at the latest: at the cap, promote if the canary is not worse by more than the margin, else roll back. */
  maxRuns: number;
  /** How much worse than the champion (pass-rate points, 0–1) the canary may be and still count as no worse. */
  margin: number;
  /**
   * …and, for a candidate no offline check vouched for (an operator's), at most this share of the champion's
   * own pass rate: against a champion at 4%, a 5-point margin would let a candidate that solves nothing
   * through; with 0.25 the margin there is 1 point. Unset: the margin alone.
   */
  relativeMargin?: number;
  /** The z of the sequential test's bounds: above 1.96 because the test looks after every batch of reports. */
  z: number;
  /** Pull at once when this share of the canary's runs failed outright (crashed, harness error) … */
  maxFailureRate: number;
  /** … or when its pass rate is this far below the champion's with the interval's confidence. */
  maxDrop: number;
}

export const DEFAULT_CANARY_RULES: CanaryRules = { minRuns: 20, maxRuns: 200, margin: 0.05, relativeMargin: 0.25, z: 2.24, maxFailureRate: 0.2, maxDrop: 0.2 };

/** One canary-period run as the test sees it. */
export interface CanaryRun extends Pick<ResolvedOutcome, 'score' | 'weight' | 'source'> {
  /** The run crashed or the harness failed (a thrown run, endReason harness_error). */
  failed: boolean;
}

export type CanaryDecision =
  | { decision: 'continue'; reason: string; evidence: CanaryEvidence }
  | { decision: 'promote' | 'rollback'; reason: string; pulled: boolean; evidence: CanaryEvidence };

export interface CanaryEvidence {
  canary: WeightedRate;
  champion: WeightedRate;
  /** canary − champion, weighted pass rates; null until both have runs. */
  difference: number | null;
  /** The difference's normal-approximation bounds at the rules' z. */
  low: number | null;
  high: number | null;
  canaryFailures: number;
}

/**
 * The sequential test, run after each batch of canary-period reports: canary runs against the champion's
 * runs over the same period (a concurrent control, so traffic drift hits both). In order:
 *  - pull: the canary's failures reach maxFailureRate (from 5 runs), or its pass rate is certainly more than
 *    maxDrop below the champion's — rolled back before the sample is complete;
 *  - promote: from minRuns, the difference's lower bound is above −margin (no worse, with confidence);
 *  - roll back: from minRuns, the upper bound is below −margin (worse, with confidence);
 *  - at maxRuns: promote if the observed difference is at least −margin, else roll back;
 * where margin is `margin`, or for an operator's candidate the smaller of it and `relativeMargin` × the
 * champion's pass rate.
 * Decisions depend only on the outcomes given, never on time or order of arrival.
 */
export function canaryDecision(canaryRuns: readonly CanaryRun[], championRuns: readonly CanaryRun[], rules: CanaryRules): CanaryDecision {
  const canary = weightedRate(canaryRuns);
  const champion = weightedRate(championRuns);
  const canaryFailures = canaryRuns.filter((r) => r.failed).length;
  const diff = canary.rate !== null && champion.rate !== null ? canary.rate - champion.rate : null;
  let low: number | null = null;
  let high: number | null = null;
  if (diff !== null) {
    const se = Math.sqrt(variance(canary) + variance(champion));
    low = diff - rules.z * se;
    high = diff + rules.z * se;
  }
  const evidence: CanaryEvidence = { canary, champion, difference: diff, low, high, canaryFailures };
  const n = canaryRuns.length;
  const pct = (x: number) => `${(100 * x).toFixed(1)}`;
  if (n >= 5 && canaryFailures / n >= rules.maxFailureRate)
    return { decision: 'rollback', pulled: true, reason: `pulled: ${canaryFailures} of ${n} canary runs failed (limit ${pct(rules.maxFailureRate)}%)`, evidence };
  if (n >= 5 && high !== null && high < -rules.maxDrop)
    return { decision: 'rollback', pulled: n < rules.minRuns, reason: `pulled: canary ${pct(canary.rate!)}% vs champion ${pct(champion.rate!)}%, certainly more than ${pct(rules.maxDrop)} points worse`, evidence };
  if (n < rules.minRuns || diff === null) return { decision: 'continue', reason: `${n} of at least ${rules.minRuns} canary runs`, evidence };
  const margin = rules.relativeMargin === undefined ? rules.margin : Math.min(rules.margin, rules.relativeMargin * champion.rate!);
  if (low! > -margin) return { decision: 'promote', pulled: false, reason: `canary ${pct(canary.rate!)}% vs champion ${pct(champion.rate!)}%: no worse than ${pct(margin)} points (lower bound ${pct(low!)})`, evidence };
  if (high! < -margin) return { decision: 'rollback', pulled: false, reason: `canary ${pct(canary.rate!)}% vs champion ${pct(champion.rate!)}%: worse by more than ${pct(margin)} points (upper bound ${pct(high!)})`, evidence };
  if (n >= rules.maxRuns) {
    // At the cap the observed difference decides; a tie (both at 0%, say) goes to the candidate.
    const ok = diff >= -margin;
    return { decision: ok ? 'promote' : 'rollback', pulled: false, reason: `run cap ${rules.maxRuns} reached: canary ${pct(canary.rate!)}% vs champion ${pct(champion.rate!)}%`, evidence };
  }
  return { decision: 'continue', reason: `undecided after ${n} canary runs (difference ${pct(diff)} points, bounds ${pct(low!)} … ${pct(high!)})`, evidence };
}

/** The variance of a weighted pass rate, with one pseudo-success and one pseudo-failure so 0% and 100% still carry doubt. */
function variance(r: WeightedRate): number {
  if (r.rate === null || r.effectiveRuns <= 0) return 0.25;
  const n = r.effectiveRuns;
  const p = (r.rate * n + 1) / (n + 2);
  return (p * (1 - p)) / (n + 2);
}

/**
 * The statistics of a comparison over seeds: per-arm mean and 95% confidence interval (Student t), a paired
 * t-test between two arms over the same seeds, and tokens-to-target from per-round held-out tracking.
 * Pure arithmetic (no I/O), so unit tests check it against known values.
 */

export function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The sample standard deviation (n − 1 in the denominator); 0 for a single value. */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
}

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; ~15 significant digits). */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the regularized incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** The two-sided p-value of a Student t statistic with `df` degrees of freedom: P(|T| ≥ |t|). */
export function tTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/** The critical value t* with P(|T| ≥ t*) = alpha (bisection on the two-sided p-value). */
export function tCritical(df: number, alpha = 0.05): number {
  let lo = 0;
  let hi = 1e6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tTwoSidedP(mid, df) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A mean with its 95% confidence interval (half-width null with fewer than two values). */
export interface MeanInterval {
  n: number;
  mean: number;
  halfWidth: number | null;
  low: number | null;
  high: number | null;
}

export function meanInterval(values: readonly number[], alpha = 0.05): MeanInterval {
  if (!values.length) throw new Error('meanInterval: no values');
  const m = mean(values);
  if (values.length < 2) return { n: values.length, mean: m, halfWidth: null, low: null, high: null };
  const halfWidth = (tCritical(values.length - 1, alpha) * sampleStd(values)) / Math.sqrt(values.length);
  return { n: values.length, mean: m, halfWidth, low: m - halfWidth, high: m + halfWidth };
}

/** A paired t-test of a − b over the same seeds. */
export interface PairedTest {
  n: number;
  meanDifference: number;
  t: number | null;
  p: number | null;
  significant: boolean;
}

/**
 * The paired t-test of a − b (a[i] and b[i] measured under the same seed). With fewer than two pairs there
 * is no test (p null, never significant). Identical differences (zero spread) give p = 1 when they are all
 * zero and p = 0 otherwise (the limit of the statistic).
 */
export function pairedTTest(a: readonly number[], b: readonly number[], alpha = 0.05): PairedTest {
  if (a.length !== b.length) throw new Error(`pairedTTest: ${a.length} values against ${b.length}; pairs must match`);
  const diffs = a.map((v, i) => v - b[i]);
  const n = diffs.length;
  if (n < 2) return { n, meanDifference: n ? diffs[0] : 0, t: null, p: null, significant: false };
  const m = mean(diffs);
  const sd = sampleStd(diffs);
  const t = sd === 0 ? (m === 0 ? 0 : Math.sign(m) * Infinity) : m / (sd / Math.sqrt(n));
  const p = sd === 0 ? (m === 0 ? 1 : 0) : tTwoSidedP(t, n - 1);
  return { n, meanDifference: m, t, p, significant: p < alpha };
}

/**
 * Tokens-to-target: the evolution tokens spent by the end of the first tracked round whose held-out test
 * pass rate reached `target`, or null when no round did.
 */
export function tokensToTarget(heldOut: ReadonlyArray<{ round: number; evolutionTokens: number; test: number | null }>, target: number): number | null {
  const hit = [...heldOut].sort((x, y) => x.round - y.round).find((p) => p.test !== null && p.test >= target - 1e-12);
  return hit ? hit.evolutionTokens : null;
}

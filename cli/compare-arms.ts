import { meanInterval, MeanInterval, pairedTTest, PairedTest } from '../report/comparison-stats';
import { clippedRateInterval, ComparisonRow } from '../report/compare-report';
import { pct } from './output';

/**
 * The arithmetic of `compare`: each arm's runs over seeds, aggregated into means with intervals and paired
 * tests against AEGIS. Pure; cli/commands/compare.ts runs the arms and prints.
 */

export /** One arm's run under one seed: what the table and --json report. */
interface ArmRun {
  evolver: string;
  seed: string;
  workflowId: string | null;
  trainPassRate: number;
  testPassRate: number | null;
  rounds: number;
  shipped: number;
  rejected: number;
  tokens: number;
  costUsd: number | null;
  measurementTokens: number;
  /** Evolution tokens past --max-tokens (0 within it). */
  overshootTokens: number;
  tokensToTarget: number | null;
  reused: boolean;
  /** For the --report file only (left out of --json's rows): the seed harness's test rate and held-out tracking. */
  seedTestPassRate?: number | null;
  heldOut?: ComparisonRow['heldOut'];
}

/** A pass-rate mean with its 95% interval clipped to [0%, 100%] (a rate cannot leave it): "72.5% [0.0–100.0]". */
export function rateInterval(m: MeanInterval): string {
  const ci = clippedRateInterval(m);
  if (!ci) return pct(m.mean);
  return `${pct(m.mean)} [${(100 * ci.low).toFixed(1)}–${(100 * ci.high).toFixed(1)}]`;
}

/** Per arm over seeds: means with 95% intervals, and tokens-to-target where reached. */
export interface ArmAggregate {
  evolver: string;
  seeds: number;
  testPassRate: MeanInterval | null;
  trainPassRate: MeanInterval;
  tokens: MeanInterval;
  costUsd: MeanInterval | null;
  measurementTokens: MeanInterval;
  overshootTokens: MeanInterval;
  /** The largest overshoot of any seed: what bounded overshoot is about. */
  maxOvershootTokens: number;
  rounds: MeanInterval;
  shipped: MeanInterval;
  rejected: MeanInterval;
  /** Mean evolution tokens to the target over the seeds that reached it, and how many did. */
  tokensToTarget: { reached: number; mean: number | null };
  /** AEGIS minus this arm on held-out test, paired by seed (absent on AEGIS's own row and without a test split). */
  versusAegis?: PairedTest;
}

export function aggregateArms(rows: ArmRun[], evolvers: string[]): ArmAggregate[] {
  const of = (evolver: string) => rows.filter((r) => r.evolver === evolver);
  const tests = (rs: ArmRun[]) => (rs.every((r) => r.testPassRate !== null) ? rs.map((r) => r.testPassRate as number) : null);
  const aegis = of('aegis');
  const aegisTests = aegis.length ? tests(aegis) : null;
  return evolvers.map((evolver) => {
    const rs = of(evolver);
    const test = tests(rs);
    const reached = rs.map((r) => r.tokensToTarget).filter((t): t is number => t !== null);
    const costs = rs.every((r) => r.costUsd !== null) ? rs.map((r) => r.costUsd as number) : null;
    return {
      evolver,
      seeds: rs.length,
      testPassRate: test ? meanInterval(test) : null,
      trainPassRate: meanInterval(rs.map((r) => r.trainPassRate)),
      tokens: meanInterval(rs.map((r) => r.tokens)),
      costUsd: costs ? meanInterval(costs) : null,
      measurementTokens: meanInterval(rs.map((r) => r.measurementTokens)),
      overshootTokens: meanInterval(rs.map((r) => r.overshootTokens)),
      maxOvershootTokens: Math.max(0, ...rs.map((r) => r.overshootTokens)),
      rounds: meanInterval(rs.map((r) => r.rounds)),
      shipped: meanInterval(rs.map((r) => r.shipped)),
      rejected: meanInterval(rs.map((r) => r.rejected)),
      tokensToTarget: { reached: reached.length, mean: reached.length ? reached.reduce((a, b) => a + b, 0) / reached.length : null },
      ...(evolver !== 'aegis' && aegisTests && test ? { versusAegis: pairedTTest(aegisTests, test) } : {}),
    };
  });
}


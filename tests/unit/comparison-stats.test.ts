import { measurementBudgetLeft, minimumRoundTokens } from '../../aegis/run-budget';
import { heldOutAfterRound, measurementSpend } from '../../aegis/run-state';
import { skipsFinalEvaluation } from '../../aegis/run-summary';
import { mean, meanInterval, pairedTTest, sampleStd, tCritical, tokensToTarget, tTwoSidedP } from '../../report/comparison-stats';

/** The comparison's statistics against values from standard tables and closed forms. */
describe('comparison statistics', () => {
  it('computes mean and sample standard deviation', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.13809, 5);
    expect(sampleStd([0.4])).toBe(0);
  });

  it('matches closed forms of the t distribution (df 1 is Cauchy, df 2 has 1 − t/√(2+t²))', () => {
    expect(tTwoSidedP(1, 1)).toBeCloseTo(0.5, 10);
    expect(tTwoSidedP(2, 2)).toBeCloseTo(1 - 2 / Math.sqrt(6), 10);
    expect(tTwoSidedP(0, 5)).toBeCloseTo(1, 10);
    expect(tTwoSidedP(Infinity, 3)).toBe(0);
  });

  it('matches the t table at 95% two-sided', () => {
    expect(tCritical(1)).toBeCloseTo(12.7062, 3);
    expect(tCritical(2)).toBeCloseTo(4.3027, 4);
    expect(tCritical(10)).toBeCloseTo(2.2281, 4);
    expect(tCritical(30)).toBeCloseTo(2.0423, 4);
  });

  it('gives a t-based 95% interval, and none from one value', () => {
    const ci = meanInterval([1, 2, 3]);
    expect(ci.mean).toBe(2);
    expect(ci.halfWidth!).toBeCloseTo(4.302653 / Math.sqrt(3), 5);
    expect(ci.low!).toBeCloseTo(2 - 2.484138, 5);
    expect(meanInterval([0.5])).toEqual({ n: 1, mean: 0.5, halfWidth: null, low: null, high: null });
    expect(() => meanInterval([])).toThrow(/no values/);
  });

  it('runs a paired t-test: a consistent gain over 3 seeds is not yet significant, over 5 tight seeds it is', () => {
    const three = pairedTTest([0.6, 0.7, 0.8], [0.5, 0.5, 0.5]);
    expect(three.meanDifference).toBeCloseTo(0.2, 10);
    expect(three.t!).toBeCloseTo(Math.sqrt(12), 8);
    expect(three.p!).toBeCloseTo(1 - Math.sqrt(12) / Math.sqrt(14), 8);
    expect(three.significant).toBe(false);
    const five = pairedTTest([0.6, 0.61, 0.62, 0.59, 0.6], [0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(five.significant).toBe(true);
    expect(five.p!).toBeLessThan(0.001);
    // Pairing matters: the same values unpaired-shuffled give a different verdict.
    expect(pairedTTest([0.6, 0.61, 0.62, 0.59, 0.6], [0.7, 0.3, 0.6, 0.4, 0.5]).significant).toBe(false);
  });

  it('never calls one pair or zero differences significant, and rejects mismatched pairs', () => {
    expect(pairedTTest([0.9], [0.1])).toMatchObject({ n: 1, p: null, significant: false });
    expect(pairedTTest([0.5, 0.6], [0.5, 0.6])).toMatchObject({ p: 1, significant: false });
    expect(pairedTTest([0.6, 0.7], [0.5, 0.6])).toMatchObject({ p: 0, significant: true });
    expect(() => pairedTTest([1, 2], [1])).toThrow(/pairs must match/);
  });

  it('finds tokens-to-target from per-round tracking: the first round at or above the target, or null', () => {
    const heldOut = [
      { round: 2, evolutionTokens: 2000, validation: 0.5, test: 0.55 },
      { round: 1, evolutionTokens: 1000, validation: 0.4, test: 0.4 },
      { round: 3, evolutionTokens: 3000, validation: null, test: 0.7 },
      { round: 4, evolutionTokens: 4000, validation: 0.6, test: 0.5 },
    ];
    expect(tokensToTarget(heldOut, 0.55)).toBe(2000);
    expect(tokensToTarget(heldOut, 0.6)).toBe(3000);
    expect(tokensToTarget(heldOut, 0.71)).toBeNull();
    expect(tokensToTarget([], 0.1)).toBeNull();
  });
});

describe('two budgets', () => {
  it('caps measurement only when maxMeasurementTokens is set', () => {
    expect(measurementBudgetLeft({}, 1e12)).toBe(true);
    expect(measurementBudgetLeft({ maxMeasurementTokens: 100 }, 99)).toBe(true);
    expect(measurementBudgetLeft({ maxMeasurementTokens: 100 }, 100)).toBe(false);
  });

  it('reads measurement spend from states carried from before the split as zero', () => {
    expect(measurementSpend({})).toEqual({ tokens: 0, costUsd: 0 });
    expect(measurementSpend({ measurementTokens: 7, measurementUsd: null })).toEqual({ tokens: 7, costUsd: null });
  });

  it('keeps the held-out history of tracked rounds only', () => {
    const one = heldOutAfterRound(undefined, { round: 1, evolutionTokens: 10, validation: 0.5, test: 0.4 });
    expect(one).toEqual([{ round: 1, evolutionTokens: 10, validation: 0.5, test: 0.4 }]);
    expect(heldOutAfterRound(one, { round: 2, evolutionTokens: 20, validation: null, test: null })).toBe(one);
  });

  it('runs the final evaluation after the evolution budget is gone unless the user opts out or measurement is spent', () => {
    expect(skipsFinalEvaluation({ evolutionExhausted: true, afterBudget: true, measurementLeft: true })).toBe(false);
    expect(skipsFinalEvaluation({ evolutionExhausted: true, afterBudget: false, measurementLeft: true })).toBe(true);
    expect(skipsFinalEvaluation({ evolutionExhausted: false, afterBudget: false, measurementLeft: true })).toBe(false);
    expect(skipsFinalEvaluation({ evolutionExhausted: false, afterBudget: true, measurementLeft: false })).toBe(true);
  });

  it('bounds one round from below: k episodes of the batchSize shortest instructions', () => {
    expect(minimumRoundTokens([40, 8, 400, 13], 2, 2)).toBe(2 * (2 + 4));
    expect(minimumRoundTokens([40], 5, 1)).toBe(10);
  });
});

import { rateInterval } from '../../cli/commands/compare';
import { meanInterval } from '../../report/comparison-stats';

describe('compare table', () => {
  it('clips a pass-rate interval to [0%, 100%]', () => {
    // Two seeds far apart: the t-interval runs far past both ends.
    const m = meanInterval([0.5, 0.95]);
    expect(m.low!).toBeLessThan(0);
    expect(m.high!).toBeGreaterThan(1);
    expect(rateInterval(m)).toBe('72.5% [0.0–100.0]');
    expect(rateInterval(meanInterval([0.7]))).toBe('70.0%');
  });
});

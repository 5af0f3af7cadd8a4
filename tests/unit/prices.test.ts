import { costUsd, priceOf, priceTable } from '../../models/prices';

describe('price table', () => {
  it('prices the simulator at zero and leaves unconfigured models unpriced', () => {
    const table = priceTable({});
    expect(costUsd('sim:small', { inputTokens: 1e6, outputTokens: 1e6 }, table)).toBe(0);
    expect(costUsd('anthropic:claude-opus-4-6', { inputTokens: 10, outputTokens: 10 }, table)).toBeNull();
  });
  it('reads prices from HARNESSX_PRICES, exact names before the longest matching prefix', () => {
    const table = priceTable({ HARNESSX_PRICES: JSON.stringify({ 'openai:*': { input: 1, output: 2 }, 'openai:gpt-5.4': { input: 3, output: 12 } }) });
    expect(costUsd('openai:gpt-5.4', { inputTokens: 2e6, outputTokens: 1e6 }, table)).toBe(18);
    expect(priceOf('openai:gpt-mini', table)).toEqual({ input: 1, output: 2 });
  });
  it('rejects a malformed table naming the field', () => {
    expect(() => priceTable({ HARNESSX_PRICES: '{"openai:x": {"input": -1, "output": 2}}' })).toThrow(/HARNESSX_PRICES: openai:x\.input/);
    expect(() => priceTable({ HARNESSX_PRICES: 'nope' })).toThrow(/not JSON/);
  });
  it('bills cached input at the cache prices where the table has them, else at the input price', () => {
    const table = priceTable({ HARNESSX_PRICES: JSON.stringify({ 'anthropic:*': { input: 10, output: 50, cacheRead: 1, cacheWrite: 12.5 }, 'openai:*': { input: 2, output: 8 } }) });
    const usage = { inputTokens: 10_000, outputTokens: 1000, cacheReadTokens: 6000, cacheWriteTokens: 2000 };
    expect(costUsd('anthropic:claude-x', usage, table)).toBeCloseTo((2000 * 10 + 6000 * 1 + 2000 * 12.5 + 1000 * 50) / 1e6);
    expect(costUsd('openai:gpt-x', usage, table)).toBeCloseTo((10_000 * 2 + 1000 * 8) / 1e6);
    expect(() => priceTable({ HARNESSX_PRICES: '{"openai:x": {"input": 1, "output": 2, "cache_read": 0.1}}' })).toThrow(/HARNESSX_PRICES: openai:x: Unrecognized key/);
  });
});

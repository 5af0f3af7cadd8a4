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
});

import { classifyProviderError } from '../../models/errors';
import { parseDurationMs, readRateLimitHeaders, signalledLimitsOf, waitFromHeaders } from '../../models/rate-limit-headers';

const NOW = Date.parse('2026-12-07T06:00:00Z');

describe('rate-limit headers (models/rate-limit-headers.ts)', () => {
  test('OpenAI durations: Go-style compounds and bare seconds; anything else is refused', () => {
    expect(parseDurationMs('1s')).toBe(1000);
    expect(parseDurationMs('6m0s')).toBe(360_000);
    expect(parseDurationMs('20ms')).toBe(20);
    expect(parseDurationMs('1h2m3.5s')).toBe(3_723_500);
    expect(parseDurationMs('0.5s')).toBe(500);
    expect(parseDurationMs('2')).toBe(2000);
    // Malformed: a unit without a number, trailing junk, an unknown unit, a negative.
    for (const bad of ['s', '1s2', '3d', '-1s', '1 s', '', undefined]) expect(parseDurationMs(bad)).toBeNull();
  });

  test('OpenAI: limit, remaining and reset of requests and tokens (plain object, any case of name)', () => {
    const read = readRateLimitHeaders({ 'X-RateLimit-Limit-Requests': '500', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '120ms', 'x-ratelimit-limit-tokens': '30000', 'x-ratelimit-remaining-tokens': '29000', 'x-ratelimit-reset-tokens': '6m0s' }, NOW);
    expect(read).toEqual({ requests: { limit: 500, remaining: 0, resetMs: 120 }, tokens: { limit: 30_000, remaining: 29_000, resetMs: 360_000 } });
    expect(signalledLimitsOf(read)).toEqual({ requestsPerMinute: 500, tokensPerMinute: 30_000 });
    // No retry-after: wait until the exhausted bucket (requests) resets, not the one with tokens left.
    expect(waitFromHeaders(read)).toBe(120);
  });

  test('Anthropic: RFC 3339 resets, input + output tokens summed when no combined limit is given (fetch Headers)', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '12',
      'anthropic-ratelimit-requests-reset': '2026-12-07T06:00:05Z',
      'anthropic-ratelimit-input-tokens-limit': '40000',
      'anthropic-ratelimit-input-tokens-remaining': '0',
      'anthropic-ratelimit-input-tokens-reset': '2026-12-07T06:00:30Z',
      'anthropic-ratelimit-output-tokens-limit': '8000',
    });
    const read = readRateLimitHeaders(headers, NOW);
    expect(read.requests).toEqual({ limit: 50, remaining: 12, resetMs: 5000 });
    expect(read.inputTokens).toEqual({ limit: 40_000, remaining: 0, resetMs: 30_000 });
    expect(signalledLimitsOf(read)).toEqual({ requestsPerMinute: 50, tokensPerMinute: 48_000 });
    expect(waitFromHeaders(read)).toBe(30_000);
    // A combined limit wins over the split one.
    expect(signalledLimitsOf(readRateLimitHeaders({ 'anthropic-ratelimit-tokens-limit': '90000', 'anthropic-ratelimit-input-tokens-limit': '1', 'anthropic-ratelimit-output-tokens-limit': '1' }, NOW))).toEqual({ tokensPerMinute: 90_000 });
    // Only one half of the split: no token limit is made up.
    expect(signalledLimitsOf(readRateLimitHeaders({ 'anthropic-ratelimit-input-tokens-limit': '40000' }, NOW))).toBeNull();
  });

  test('retry-after beats a bucket reset; seconds, ms and HTTP dates; a reset in the past waits 0', () => {
    expect(waitFromHeaders(readRateLimitHeaders({ 'retry-after': '3', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '20s' }, NOW))).toBe(3000);
    expect(waitFromHeaders(readRateLimitHeaders({ 'retry-after-ms': '250', 'retry-after': '3' }, NOW))).toBe(250);
    expect(waitFromHeaders(readRateLimitHeaders({ 'retry-after': 'Mon, 07 Dec 2026 06:00:10 GMT' }, NOW))).toBe(10_000);
    expect(waitFromHeaders(readRateLimitHeaders({ 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': '2026-12-07T05:59:00Z' }, NOW))).toBe(0);
  });

  test('nothing to go on: no headers, malformed values, a bucket with requests left', () => {
    expect(readRateLimitHeaders(undefined, NOW)).toEqual({});
    expect(readRateLimitHeaders({ 'x-ratelimit-limit-requests': 'lots', 'x-ratelimit-limit-tokens': '0', 'retry-after': 'soon', 'x-ratelimit-reset-requests': 'later' }, NOW)).toEqual({});
    expect(signalledLimitsOf(readRateLimitHeaders({ 'retry-after': '1' }, NOW))).toBeNull();
    expect(waitFromHeaders(readRateLimitHeaders({ 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '1s' }, NOW))).toBeNull();
    // An exhausted bucket that does not say when it resets gives no wait either (the caller backs off).
    expect(waitFromHeaders(readRateLimitHeaders({ 'x-ratelimit-remaining-tokens': '0' }, NOW))).toBeNull();
  });

  test('a provider 429 without retry-after waits for the exhausted bucket and carries the announced limits', () => {
    const error = classifyProviderError({ status: 429, message: 'Rate limit reached', headers: { 'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s' } }, 'openai', 'gpt');
    expect(error.retryAfterMs).toBe(1500);
    expect(error.signalled).toEqual({ requestsPerMinute: 60 });
    const bare = classifyProviderError({ status: 503, message: 'overloaded', headers: {} }, 'openai', 'gpt');
    expect(bare.retryAfterMs).toBeNull();
    expect(bare.signalled).toBeNull();
  });
});

/** What an activity spent on models: tokens, and USD where the price table knows the model. */
export interface Spend {
  inputTokens: number;
  outputTokens: number;
  tokens: number;
  /**
   * Prompt-cache accounting (meta-agent calls to providers that cache): parts of inputTokens that were read
   * from, or written to, the provider's prompt cache. Absent when nothing was cached.
   */
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  /** USD from the price table; null when the model is unpriced. */
  costUsd: number | null;
}

/** Adds up spends; cost stays null if any part is unpriced; cache counts appear when any part has them. */
export function totalSpend(parts: Spend[]): Spend {
  const total = parts.reduce<Spend>(
    (a, b) => ({ inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, tokens: a.tokens + b.tokens, costUsd: a.costUsd === null || b.costUsd === null ? null : a.costUsd + b.costUsd }),
    { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 },
  );
  return { ...total, ...cacheCounts(parts) };
}

/** The summed cache counts of some spends, only those any part reports (so uncached spends stay as they were). */
function cacheCounts(parts: Spend[]): Pick<Spend, 'cacheReadTokens' | 'cacheWriteTokens'> {
  const out: Pick<Spend, 'cacheReadTokens' | 'cacheWriteTokens'> = {};
  for (const key of ['cacheReadTokens', 'cacheWriteTokens'] as const) {
    if (parts.some((p) => p[key] !== undefined)) out[key] = parts.reduce((n, p) => n + (p[key] ?? 0), 0);
  }
  return out;
}

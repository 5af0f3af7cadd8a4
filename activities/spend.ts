/** What an activity spent on models: tokens, and USD where the price table knows the model. */
export interface Spend {
  inputTokens: number;
  outputTokens: number;
  tokens: number;
  /** USD from the price table; null when the model is unpriced. */
  costUsd: number | null;
}

/** Adds up spends; cost stays null if any part is unpriced. */
export function totalSpend(parts: Spend[]): Spend {
  return parts.reduce<Spend>(
    (a, b) => ({ inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, tokens: a.tokens + b.tokens, costUsd: a.costUsd === null || b.costUsd === null ? null : a.costUsd + b.costUsd }),
    { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 },
  );
}

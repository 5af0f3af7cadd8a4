import { z } from 'zod';

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
  /** Input tokens read from the provider's prompt cache; when absent they are billed at `input` (an upper bound). */
  cacheRead?: number;
  /** Input tokens written to the prompt cache; when absent they are billed at `input`. */
  cacheWrite?: number;
}

const PricesSchema = z.record(z.string(), z.object({ input: z.number().min(0), output: z.number().min(0), cacheRead: z.number().min(0).optional(), cacheWrite: z.number().min(0).optional() }).strict());

/**
 * The price table: the simulator costs nothing; real models are priced from HARNESSX_PRICES, a JSON object
 * such as {"anthropic:claude-opus-4-6": {"input": 15, "output": 75, "cacheRead": 1.5, "cacheWrite": 18.75}}
 * (keys: a model string, or a prefix ending in "*"; the cache prices are optional). Prices change; we ship none we cannot vouch for, and report "unpriced" instead of guessing.
 */
export function priceTable(env: NodeJS.ProcessEnv = process.env): Record<string, Price> {
  const table: Record<string, Price> = { 'sim:*': { input: 0, output: 0 } };
  if (!env.HARNESSX_PRICES) return table;
  let raw: unknown;
  try {
    raw = JSON.parse(env.HARNESSX_PRICES);
  } catch (e) {
    throw new Error(`HARNESSX_PRICES is not JSON: ${(e as Error).message}`);
  }
  const parsed = PricesSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`HARNESSX_PRICES: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { ...table, ...parsed.data };
}

export function priceOf(model: string, table: Record<string, Price>): Price | null {
  if (table[model]) return table[model];
  const prefix = Object.keys(table)
    .filter((k) => k.endsWith('*') && model.startsWith(k.slice(0, -1)))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? table[prefix] : null;
}

/**
 * Cost in USD, or null when the model has no price. Cached input tokens (parts of inputTokens) are billed
 * at the cache prices where the table has them.
 */
export function costUsd(model: string, usage: { inputTokens: number; outputTokens: number; cacheReadTokens?: number; cacheWriteTokens?: number }, table = priceTable()): number | null {
  const p = priceOf(model, table);
  if (!p) return null;
  const read = usage.cacheReadTokens ?? 0;
  const write = usage.cacheWriteTokens ?? 0;
  const uncached = Math.max(0, usage.inputTokens - read - write);
  return (uncached * p.input + read * (p.cacheRead ?? p.input) + write * (p.cacheWrite ?? p.input) + usage.outputTokens * p.output) / 1e6;
}

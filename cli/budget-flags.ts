import { minimumRoundTokens } from '../aegis/run-budget';
import type { EvolveInput } from '../aegis/run-input';
import { checkRunSetup } from '../activities/bookkeeping';
import { getBenchmark } from '../benchmarks/registry';
import { UsageError } from './errors';
import { wholeNumber } from './options';

/** The spend flags of the commands that start AEGIS runs (evolve, compare): evolution caps and the measurement cap. */
export const BUDGET_OPTIONS = {
  'max-tokens': { type: 'string' },
  'max-usd': { type: 'string' },
  'max-measurement-tokens': { type: 'string' },
} as const;

/** Why a decimal flag is not a positive number, or the number. */
function positiveNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new UsageError(`--${name} must be a positive number, got "${v}"`);
  return n;
}

/** The run-input fields the budget flags set (undefined where a flag is absent: the schema's defaults stand). */
export function budgetFlags(values: { 'max-tokens'?: string; 'max-usd'?: string; 'max-measurement-tokens'?: string }) {
  return {
    maxTokens: wholeNumber('max-tokens', values['max-tokens']),
    maxUsd: positiveNumber('max-usd', values['max-usd']),
    maxMeasurementTokens: wholeNumber('max-measurement-tokens', values['max-measurement-tokens']),
  };
}

/**
 * What a run's setup would refuse, said before anything starts: the seed harness and model strings, a USD
 * cap for an unpriced model, and a token budget too small for even one round's rollout.
 */
export function checkRunBudget(input: EvolveInput): void {
  const { problems } = checkRunSetup({ benchmark: input.benchmark, model: input.model, metaAgent: input.metaAgent, seedHarness: input.seedHarness, validationSize: input.validationSize, seed: input.seed, maxUsd: input.maxUsd });
  if (problems.length) throw new UsageError(`invalid options:\n${problems.map((p) => `  - ${p.replace(/^maxUsd:/, '--max-usd:')}`).join('\n')}`);
  if (input.maxTokens !== undefined) {
    const train = getBenchmark(input.benchmark).tasks().filter((t) => t.split === 'train');
    const minimum = minimumRoundTokens(train.map((t) => t.instruction.length), input.batchSize, input.k);
    if (input.maxTokens < minimum)
      throw new UsageError(`--max-tokens ${input.maxTokens} is too small for even one round: one round's rollout of ${input.batchSize} ${input.benchmark} tasks at pass@${input.k} needs at least ${minimum} tokens`);
  }
}

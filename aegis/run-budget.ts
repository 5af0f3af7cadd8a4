import type { RoundBudget, RunState } from './run-state';
import { anyOf, LoopProgress, maxRounds, patience, stopRequested, tokenBudget, usdBudget } from './stop';

/**
 * The run's budgets and when they end it. Two kinds: the round budget (rounds, patience), changeable while
 * the run goes on through the setBudget update, and the spend limits (maxTokens, maxUsd) fixed at the start.
 * Pure: the workflow asks between rounds and before each gate; unit tests ask without a server.
 */
export interface SpendLimits {
  maxTokens?: number;
  maxUsd?: number;
}

/** The measurement budget: held-out tracking and the final evaluation, apart from the evolution budget. */
export interface MeasurementLimits {
  maxMeasurementTokens?: number;
}

/**
 * Whether measurement may spend more: true until maxMeasurementTokens (when set) is reached. Evolution
 * spend never counts here, so a run whose evolution budget is gone is still measured.
 */
export function measurementBudgetLeft(limits: MeasurementLimits, measurementTokens: number): boolean {
  return limits.maxMeasurementTokens === undefined || measurementTokens < limits.maxMeasurementTokens;
}

/**
 * A lower bound on the evolution tokens of one round: every episode of the round's batch sends at least
 * its task's instruction (about 4 characters a token), k episodes per task, and the cheapest batch is the
 * batchSize shortest instructions. A token budget below this cannot finish even one round's rollout.
 */
export function minimumRoundTokens(instructionLengths: number[], batchSize: number, k: number): number {
  const cheapest = instructionLengths.map((chars) => Math.ceil(chars / 4)).sort((a, b) => a - b).slice(0, batchSize);
  return k * cheapest.reduce((sum, t) => sum + t, 0);
}

/** The upper bounds a budget change may reach: the same as the run input's schema. */
export const MAX_ROUNDS = 10000;
export const MAX_PATIENCE = 1000;

export interface BudgetChange {
  rounds?: number;
  patience?: number;
}

export function loopProgress(s: Pick<RunState, 'round' | 'roundsWithoutShip' | 'tokens' | 'costUsd'>, stopping: boolean): LoopProgress {
  return { round: s.round, roundsWithoutShip: s.roundsWithoutShip, stopRequested: stopping, tokens: s.tokens, costUsd: s.costUsd };
}

/** Whether the run caps its evolution spend at all (maxTokens or maxUsd): only then do its stages get an allowance. */
export function hasSpendCap(limits: SpendLimits): boolean {
  return limits.maxTokens !== undefined || limits.maxUsd !== undefined;
}

/**
 * What the evolution budget still allows (a gate's allowance: it stops undecided between chunks once spent);
 * null where there is no such cap. Never negative.
 */
export function evolutionAllowance(limits: SpendLimits, s: Pick<RunState, 'tokens' | 'costUsd'>): { tokens: number | null; usd: number | null } {
  return {
    tokens: limits.maxTokens === undefined ? null : Math.max(0, limits.maxTokens - s.tokens),
    usd: limits.maxUsd === undefined || s.costUsd === null ? null : Math.max(0, limits.maxUsd - s.costUsd),
  };
}

/** How far the evolution spend went past its caps (0 within them): the summary reports it. */
export function budgetOvershoot(limits: SpendLimits, s: Pick<RunState, 'tokens' | 'costUsd'>): { tokens: number; usd: number | null } {
  return {
    tokens: limits.maxTokens === undefined ? 0 : Math.max(0, s.tokens - limits.maxTokens),
    usd: limits.maxUsd === undefined ? 0 : s.costUsd === null ? null : Math.max(0, s.costUsd - limits.maxUsd),
  };
}

/** Why the spend limits end the run (a reason starting with BUDGET_EXHAUSTED), or null while spend is left. */
export function spendExhausted(limits: SpendLimits, s: Pick<RunState, 'round' | 'roundsWithoutShip' | 'tokens' | 'costUsd'>): string | null {
  return anyOf(tokenBudget(limits.maxTokens), usdBudget(limits.maxUsd))(loopProgress(s, false));
}

/**
 * Why the run stops before its next round, or null to go on. Checked in this order: a stop request, spent
 * budget, the round budget, patience. The round budget is read from the state each time, as setBudget may
 * have changed it.
 */
export function stopReason(limits: SpendLimits, s: Pick<RunState, 'round' | 'roundsWithoutShip' | 'tokens' | 'costUsd' | 'budget'>, stopping: boolean): string | null {
  const spend = anyOf(tokenBudget(limits.maxTokens), usdBudget(limits.maxUsd));
  return anyOf(stopRequested, spend, maxRounds(s.budget.rounds), patience(s.budget.patience))(loopProgress(s, stopping));
}

/**
 * Why a setBudget update is refused, or null to accept it. Rounds may not drop below the current round
 * (the run cannot un-run a round); `round` is undefined while the run is still setting up.
 */
export function budgetChangeProblem(round: number | undefined, change: BudgetChange): string | null {
  if (round === undefined) return 'the run is still starting; try again in a moment';
  if (change.rounds === undefined && change.patience === undefined) return 'give rounds and/or patience';
  if (change.rounds !== undefined && (!Number.isInteger(change.rounds) || change.rounds < round || change.rounds > MAX_ROUNDS))
    return `rounds must be a whole number from the current round (${round}) to ${MAX_ROUNDS}`;
  if (change.patience !== undefined && (!Number.isInteger(change.patience) || change.patience < 1 || change.patience > MAX_PATIENCE))
    return `patience must be a whole number from 1 to ${MAX_PATIENCE}`;
  return null;
}

/** The budget after an accepted change: what the change leaves out stays as it was. */
export function applyBudgetChange(budget: RoundBudget, change: BudgetChange): RoundBudget {
  return { rounds: change.rounds ?? budget.rounds, patience: change.patience ?? budget.patience };
}

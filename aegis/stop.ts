/** Composable stop conditions, checked between rounds (gepa-style). */
export interface LoopProgress {
  round: number;
  roundsWithoutShip: number;
  stopRequested: boolean;
  tokens?: number;
  /** null: some spend was unpriced. */
  costUsd?: number | null;
}
export type StopCondition = (p: LoopProgress) => string | null;

export const maxRounds = (n: number): StopCondition => (p) => (p.round >= n ? `budget of ${n} rounds used` : null);
export const patience = (n: number): StopCondition => (p) => (p.roundsWithoutShip >= n ? `no ship in ${n} rounds (patience)` : null);
export const BUDGET_EXHAUSTED = 'budget exhausted';
export const tokenBudget = (max: number | undefined): StopCondition => (p) =>
  max !== undefined && (p.tokens ?? 0) >= max ? `${BUDGET_EXHAUSTED}: ${p.tokens} of ${max} tokens` : null;
/** An unpriced model cannot be held to a USD budget: that is refused at the start of the run, not here. */
export const usdBudget = (max: number | undefined): StopCondition => (p) =>
  max !== undefined && typeof p.costUsd === 'number' && p.costUsd >= max ? `${BUDGET_EXHAUSTED}: $${p.costUsd.toFixed(4)} of $${max}` : null;
export const stopRequested: StopCondition = (p) => (p.stopRequested ? 'stop requested' : null);
export const anyOf =
  (...conditions: StopCondition[]): StopCondition =>
  (p) => {
    for (const c of conditions) {
      const reason = c(p);
      if (reason) return reason;
    }
    return null;
  };

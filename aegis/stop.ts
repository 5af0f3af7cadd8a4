/** Composable stop conditions, checked between rounds (gepa-style). */
export interface LoopProgress {
  round: number;
  roundsWithoutShip: number;
  stopRequested: boolean;
}
export type StopCondition = (p: LoopProgress) => string | null;

export const maxRounds = (n: number): StopCondition => (p) => (p.round >= n ? `budget of ${n} rounds used` : null);
export const patience = (n: number): StopCondition => (p) => (p.roundsWithoutShip >= n ? `no ship in ${n} rounds (patience)` : null);
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

import type { AuditRecord } from '../aegis/types';

/**
 * Where a run's tokens and dollars went, per round and stage, from its audit log: the rollout, the
 * meta-agent's four stages, every gate verdict (shipped, rejected, not needed, undecided) and the
 * regression guard are evolution spend; held-out tracking and the final evaluation are measurement. The
 * records carry each stage's own spend; evolution spend the records do not name (a meta-agent stage that
 * failed, runs from before a stage reported its spend) is shown as "unattributed", so the chart's total is
 * always the summary's evolution spend.
 */
export const SPEND_STAGES = ['rollout', 'digest', 'plan', 'evolve', 'critique', 'gate', 'guard', 'unattributed', 'measurement'] as const;
export type SpendStage = (typeof SPEND_STAGES)[number];

export interface RoundSpend {
  /** The round, or 'final' for the final evaluation (measurement only). */
  round: number | 'final';
  tokens: Record<SpendStage, number>;
  /** USD per stage (see SpendBreakdown.unpricedStages for stages whose records carry no price). */
  usd: Record<SpendStage, number>;
}

export interface SpendBreakdown {
  rounds: RoundSpend[];
  evolutionTokens: number;
  measurementTokens: number;
  evolutionUsd: number | null;
  measurementUsd: number | null;
  /** Stages with spend whose records carry no USD (the regression guard's never do): their USD is unknown. */
  unpricedStages: SpendStage[];
}

const zero = (): Record<SpendStage, number> => Object.fromEntries(SPEND_STAGES.map((s) => [s, 0])) as Record<SpendStage, number>;
const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A record's own evolution spend and the stage it belongs to, or null. */
function stageSpend(r: AuditRecord): { stage: SpendStage; tokens: number; usd: number | null } | null {
  const p = r.payload ?? {};
  if (r.stage === 'rollout') return { stage: 'rollout', tokens: n(p.tokens), usd: typeof p.costUsd === 'number' ? p.costUsd : null };
  if (r.stage === 'digest' || r.stage === 'plan' || r.stage === 'evolve' || r.stage === 'critique') {
    const m = p.metaSpend as { tokens?: number; costUsd?: number | null } | undefined;
    return m ? { stage: r.stage, tokens: n(m.tokens), usd: typeof m.costUsd === 'number' ? m.costUsd : null } : null;
  }
  if (r.stage === 'gate' && typeof p.tokens === 'number') return { stage: 'gate', tokens: p.tokens, usd: typeof p.costUsd === 'number' ? p.costUsd : null };
  if (r.stage === 'regression' && typeof p.tokens === 'number') return { stage: 'guard', tokens: p.tokens, usd: null };
  return null;
}

export function spendByStage(audit: readonly AuditRecord[]): SpendBreakdown {
  const byRound = new Map<number | 'final', RoundSpend>();
  const row = (round: number | 'final') => byRound.get(round) ?? byRound.set(round, { round, tokens: zero(), usd: zero() }).get(round)!;
  const unpriced = new Set<SpendStage>();
  let attributed = 0;
  for (const r of audit) {
    const s = stageSpend(r);
    if (!s || s.tokens === 0) continue;
    const target = row(r.round);
    target.tokens[s.stage] += s.tokens;
    attributed += s.tokens;
    if (s.usd === null) unpriced.add(s.stage);
    else target.usd[s.stage] += s.usd;
  }
  // Measurement: the cumulative counter on each round's end record, and the final record's total.
  let measured = 0;
  let measuredUsd = 0;
  for (const r of audit.filter((x) => x.stage === 'round_end')) {
    const total = n(r.payload.measurementTokens);
    if (total > measured) row(r.round).tokens.measurement += total - measured;
    const usd = n(r.payload.measurementUsd);
    if (usd > measuredUsd) row(r.round).usd.measurement += usd - measuredUsd;
    measured = Math.max(measured, total);
    measuredUsd = Math.max(measuredUsd, usd);
  }
  const final = audit.find((r) => r.stage === 'final')?.payload;
  const lastEnd = [...audit].reverse().find((r) => r.stage === 'round_end')?.payload;
  // Runs from before the summary carried its spend (or still running without one) total what the stages recorded.
  const recordedTotal = final?.tokens ?? lastEnd?.tokens;
  const evolutionTokens = typeof recordedTotal === 'number' ? recordedTotal : attributed;
  const measurementTokens = Math.max(measured, n(final?.measurementTokens));
  if (measurementTokens > measured) row('final').tokens.measurement += measurementTokens - measured;
  const finalMeasurementUsd = final && typeof final.measurementUsd === 'number' ? final.measurementUsd : null;
  if (finalMeasurementUsd !== null && finalMeasurementUsd > measuredUsd) row('final').usd.measurement += finalMeasurementUsd - measuredUsd;
  // Spend no record names: shown on the last round so the stacks add up to the summary.
  const unattributed = evolutionTokens - attributed;
  const rounds = [...byRound.values()].sort((a, b) => (a.round === 'final' ? 1 : b.round === 'final' ? -1 : a.round - b.round));
  const lastRound = [...rounds].reverse().find((r) => r.round !== 'final') ?? row(0);
  if (unattributed > 0) {
    lastRound.tokens.unattributed += unattributed;
    unpriced.add('unattributed');
  }
  const evolutionUsd = final && typeof final.costUsd === 'number' ? final.costUsd : null;
  return {
    rounds,
    unpricedStages: [...unpriced],
    evolutionTokens,
    measurementTokens,
    evolutionUsd,
    measurementUsd: finalMeasurementUsd,
  };
}

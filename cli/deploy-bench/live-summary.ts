import type { DeploymentStatus } from '../../aegis/live/deployment-state';
import type { DeploymentStats } from '../../library/deployment';

/** One run of a live workload as the product saw it. */
export type PlayedRun =
  | { index: number; ok: true; startHarnessId: string; harnessId: string; midTaskSwap: boolean; steps: number; ms: number; endedAt?: number }
  | { index: number; ok: false; error: string; ms: number; endedAt?: number };

/**
 * The last line of `deploy bench --json`: what the deployment made of the traffic (its windows in order,
 * with the pass rate and the champion each ran under) and what the product saw (runs failed in the product,
 * runs whose report never reached the deployment, reports dropped by the agent's bounded queue).
 */
export interface LiveBenchSummary {
  name: string | null;
  runs: number;
  concurrency: number;
  paced: 'rounds' | 'none';
  windows: Array<{ runs: number; passRate: number | null; harnessId: string }>;
  firstPassRate: number | null;
  lastPassRate: number | null;
  /** Last window's pass rate minus the first's, in points (0–100). */
  gainPoints: number | null;
  /** Changes of the champion the agents picked up (promotions and rollbacks). */
  swaps: number;
  promotions: number;
  rollbacks: number;
  /** Runs that adopted a promoted harness between steps (seen by the product in the runs' traces). */
  midTaskSwaps: number;
  /** Runs that threw in the product (a model or tool failure, never HarnessX). */
  productRunsFailed: number;
  /** Runs the product finished whose report the deployment never applied (dropped ones included). */
  productRunsLost: number;
  reportsDropped: number;
  /** Distinct harnesses that served runs. */
  harnessesServed: number;
  rounds: number;
  evolutionTokens: number;
  durationMs: number;
  badCandidate: null | { harnessId: string; injectedAtRun: number; decision: string | null; canaryRuns: number | null; pulled: boolean | null };
}

export function liveBenchSummary(x: {
  runs: number;
  concurrency: number;
  played: PlayedRun[];
  status: DeploymentStatus | null;
  stats: DeploymentStats;
  badCandidate: LiveBenchSummary['badCandidate'];
  durationMs: number;
  paced: 'rounds' | 'none';
}): LiveBenchSummary {
  const s = x.status;
  const windows = (s?.windows ?? []).map((w) => ({ runs: w.runs, passRate: w.passRate, harnessId: w.harnessId }));
  const first = windows[0]?.passRate ?? null;
  const last = windows.length ? windows[windows.length - 1].passRate : null;
  const served = new Set(x.played.flatMap((r) => (r.ok ? [r.startHarnessId, r.harnessId] : [])));
  return {
    name: s?.name ?? null,
    runs: x.runs,
    concurrency: x.concurrency,
    paced: x.paced,
    windows,
    firstPassRate: first,
    lastPassRate: last,
    gainPoints: first !== null && last !== null ? round1(100 * (last - first)) : null,
    swaps: s?.counts.swaps ?? 0,
    promotions: s?.counts.promotions ?? 0,
    rollbacks: s?.counts.rollbacks ?? 0,
    midTaskSwaps: x.played.filter((r) => r.ok && r.midTaskSwap).length,
    productRunsFailed: x.played.filter((r) => !r.ok).length,
    // Every played run (failed ones too) is reported; what the deployment did not apply is lost.
    productRunsLost: s ? Math.max(0, x.played.length - s.counts.reports) : x.played.length,
    reportsDropped: x.stats.reportsDropped,
    harnessesServed: served.size,
    rounds: s?.counts.rounds ?? 0,
    evolutionTokens: s?.spend.total.tokens ?? 0,
    durationMs: x.durationMs,
    badCandidate: x.badCandidate,
  };
}

/** The human table of a live bench: one line per window, then the counts. */
export function liveBenchLines(r: LiveBenchSummary): string[] {
  const pct = (v: number | null) => (v === null ? '   n/a' : `${(100 * v).toFixed(1).padStart(5)}%`);
  const lines = ['window   runs   pass rate   champion'];
  r.windows.forEach((w, i) => lines.push(`${String(i + 1).padStart(6)}   ${String(w.runs).padStart(4)}   ${pct(w.passRate)}      ${w.harnessId}`));
  lines.push(
    `first → last window: ${pct(r.firstPassRate).trim()} → ${pct(r.lastPassRate).trim()} (${r.gainPoints === null ? 'n/a' : `${r.gainPoints >= 0 ? '+' : ''}${r.gainPoints} points`})`,
    `${r.runs} runs at concurrency ${r.concurrency} in ${(r.durationMs / 1000).toFixed(0)} s; ${r.rounds} live rounds, ${r.promotions} promotions, ${r.rollbacks} rollbacks, ${r.midTaskSwaps} mid-task swaps`,
    `product: ${r.productRunsFailed} runs failed, ${r.productRunsLost} lost, ${r.reportsDropped} reports dropped`,
  );
  if (r.badCandidate) lines.push(`injected regression ${r.badCandidate.harnessId}: ${r.badCandidate.decision ?? 'undecided'} after ${r.badCandidate.canaryRuns ?? '?'} canary runs`);
  return lines;
}

const round1 = (x: number) => Math.round(10 * x) / 10;

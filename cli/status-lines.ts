import { grouped, percent } from '../aegis/run-labels';
import type { DeploymentStatus } from '../aegis/live/deployment-state';
import type { RunStatus, RunSummary } from '../workflows/evolve-harness';
import { bar, clock, fit, StoreWaitView, storeWaitText } from './progress-line';

export interface StatusView {
  workflowId: string;
  workflowStatus: string;
  startTime: Date;
  elapsedSeconds: number;
  summary?: string;
  /** The status query's answer (a running run whose worker answered), or null. */
  live: RunStatus | null;
  /** A completed run's result. */
  result: RunSummary | null;
  note: string | null;
  /** A store outage the run's activities are waiting out (from their heartbeat details), or null. */
  storeWait?: StoreWaitView | null;
  webUi: string;
}

/** `status` for a person: a handful of lines, each within 100 columns (`--json` has the full state). */
export function statusLines(v: StatusView, width = 100): string[] {
  const lines = [`${v.workflowId} · ${v.workflowStatus.toLowerCase()} · started ${v.startTime.toISOString().replace('T', ' ').slice(0, 19)} UTC · ${clock(v.elapsedSeconds)}`];
  if (v.summary) lines.push(v.summary);
  const s = v.live;
  if (s) {
    lines.push(`round ${s.round}/${s.rounds} · ${s.stage}${s.paused ? ' (paused)' : ''}${s.stopRequested ? ' (stopping)' : ''} · shipped ${s.shipped} · rejected ${s.rejected} · last batch ${percent(s.lastPassRate)}`);
    lines.push(`spend: evolution ${grouped(s.tokens)} tok · measurement ${grouped(s.measurementTokens)} tok · incumbent ${s.incumbentHarnessId ?? '-'}`);
    lines.push(`last: ${s.lastEvent}`);
    if (s.pendingApproval) lines.push(`waiting for approval: ${s.pendingApproval.candidateId} ${s.pendingApproval.editKey} (npx harnessx approve|reject ${v.workflowId})`);
  }
  const r = v.result;
  if (r) {
    lines.push(`${r.stopReason} · ${r.rounds} rounds · shipped ${r.shipped} · rejected ${r.rejected}`);
    lines.push(`train ${percent(r.seedPassRate)} → ${percent(r.evolvedPassRate)} (${r.trainTasks} tasks) · test ${percent(r.seedTestPassRate)} → ${percent(r.evolvedTestPassRate)} (${r.testTasks}, held out)`);
    lines.push(`spend: evolution ${grouped(r.tokens)} tok${r.costUsd ? ` ($${r.costUsd.toFixed(2)})` : ''} · measurement ${grouped(r.measurementTokens)} tok · harness ${r.harnessId}`);
  }
  if (v.storeWait) lines.push(`${storeWaitText(v.storeWait)}: the run goes on once it answers`);
  if (v.note) lines.push(v.note);
  // The link stays whole (a cut link is no link).
  return [...lines.map((l) => fit(l, width)), `Web UI: ${v.webUi}`];
}

/** `deploy status` for a person: a handful of lines within `width` columns (`--json` has the full state). */
export function deploymentStatusLines(s: DeploymentStatus, workflowStatus: string, webUi: string, width = 100): string[] {
  const rate = (r: number | null, low: number | null, high: number | null) => `${percent(r)}${low !== null && high !== null ? ` [${percent(low)}–${percent(high)}]` : ''}`;
  const w = s.window;
  const budget = s.spend.budgetPerDay;
  const lines = [
    `deployment ${s.name} · ${s.status}${workflowStatus === 'RUNNING' ? '' : ` (${workflowStatus.toLowerCase()})`} · revision ${s.revision} · round ${s.round}`,
    `champion ${s.champion}`,
    s.canary
      ? `canary ${s.canary.harnessId} (${Math.round(100 * s.canary.share)}% of runs): ${percent(s.canary.canary.rate)} over ${s.canary.runs} vs ${percent(s.canary.champion.rate)} over ${s.canary.championRuns}`
      : 'canary none',
    `window ${w.index}: ${bar(w.runs, Math.max(1, w.of), 20)} ${w.runs}/${w.of} runs · pass rate ${rate(w.passRate, w.low, w.high)}`,
  ];
  const closed = s.windows.slice(-3);
  if (closed.length) lines.push(`last windows: ${closed.map((x) => `#${x.index} ${percent(x.passRate)} (${x.runs})`).join(' · ')}`);
  lines.push(
    `spend today ${grouped(s.spend.today.tokens)} tok${budget.tokens ? ` of ${grouped(budget.tokens)}` : ''}${s.spend.today.usd ? ` ($${s.spend.today.usd.toFixed(2)})` : ''} · promotions ${s.counts.promotions} · rollbacks ${s.counts.rollbacks} · failed runs ${s.counts.productRunsFailed}`,
    `next round ${s.nextRound}`,
    `last: ${s.lastEvent}`,
  );
  if (s.awaitingApproval) lines.push(`waiting for approval: ${s.awaitingApproval} (npx harnessx deploy approve|reject ${s.name})`);
  return [...lines.map((l) => fit(l, width)), `Web UI: ${webUi}`];
}

import type { MeanInterval, PairedTest } from './comparison-stats';
import { SPEND_STAGES, type SpendBreakdown, type SpendStage } from './spend-by-stage';
import { esc, stackedBars, thousands } from './svg';

/**
 * The comparison report (`compare --report FILE`): one self-contained HTML file (inline SVG, no scripts,
 * no network) with each arm's held-out test pass rate over seeds (mean, 95% interval clipped to [0, 100],
 * every seed's point), tokens-to-target curves, and spend by stage. Pure: the compare command gathers the
 * data (summaries, audit logs) and this module only renders it, so unit tests call it directly.
 */

/** Fewer seeds than this: intervals and p-values say almost nothing, and the table and report say so. */
export const MIN_INFORMATIVE_SEEDS = 3;

/** The warning shown under the table and at the top of the report, or null with enough seeds. */
export function fewSeedsWarning(seeds: number): string | null {
  if (seeds >= MIN_INFORMATIVE_SEEDS) return null;
  return `${seeds} seed${seeds === 1 ? '' : 's'}: intervals and p-values say almost nothing; use --seeds ${MIN_INFORMATIVE_SEEDS} or more.`;
}

/** A pass-rate interval clipped to [0, 1] (a rate cannot leave it), or null without one (a single seed). */
export function clippedRateInterval(m: Pick<MeanInterval, 'low' | 'high'>): { low: number; high: number } | null {
  if (m.low === null || m.high === null) return null;
  return { low: Math.min(1, Math.max(0, m.low)), high: Math.max(0, Math.min(1, m.high)) };
}

/** One arm's run under one seed, as the report needs it. */
export interface ComparisonRow {
  evolver: string;
  seed: string;
  workflowId: string | null;
  testPassRate: number | null;
  trainPassRate: number;
  tokens: number;
  /** The seed harness's held-out test pass rate under this seed (the target is it plus the target gain). */
  seedTestPassRate: number | null;
  /** Held-out tracking by round: the incumbent's test pass rate and the evolution tokens spent by then. */
  heldOut: ReadonlyArray<{ round: number; evolutionTokens: number; test: number | null }>;
  tokensToTarget: number | null;
  /** Where the run's tokens went (from its audit log); null when the log was not available. */
  spend: SpendBreakdown | null;
}

/** One arm over seeds (compare's aggregate; only the fields the report reads). */
export interface ComparisonArm {
  evolver: string;
  seeds: number;
  testPassRate: MeanInterval | null;
  trainPassRate: MeanInterval;
  tokens: MeanInterval;
  tokensToTarget: { reached: number; mean: number | null };
  versusAegis?: PairedTest;
}

export interface ComparisonReportData {
  benchmark: string;
  model: string;
  metaAgent: string;
  k: number;
  seeds: string[];
  rounds: number;
  maxTokens: number | null;
  targetGainPoints: number;
  trainTasks: number;
  testTasks: number;
  rows: ComparisonRow[];
  arms: ComparisonArm[];
  /** When the comparison was made (ISO); shown as is. */
  generatedAt?: string;
  /** A link to each run in the Temporal Web UI, by workflow id. */
  runUrl?: (workflowId: string) => string;
}

const PALETTE = ['#7f7f7f', '#4c78a8', '#f58518', '#54a24b', '#e45756', '#b279a2', '#72b7b2', '#eeca3b'];
const STAGE_COLOURS: Record<SpendStage, string> = { rollout: '#4c78a8', digest: '#9ecae9', plan: '#72b7b2', evolve: '#b279a2', critique: '#ff9da6', gate: '#f58518', guard: '#e45756', unattributed: '#bab0ac', measurement: '#54a24b' };
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const colourOf = (arms: ComparisonArm[]) => (evolver: string) => PALETTE[Math.max(0, arms.findIndex((a) => a.evolver === evolver)) % PALETTE.length];

/** Mean ± clipped interval per arm on a 0–100% axis, with every seed's point. */
export function intervalChart(arms: ComparisonArm[], rows: ComparisonRow[]): string {
  const W = 900, L = 150, R = 40, T = 28, row = 40;
  const H = T + arms.length * row + 30;
  const x = (v: number) => L + v * (W - L - R);
  const colour = colourOf(arms);
  const grid = [0, 0.2, 0.4, 0.6, 0.8, 1].map((v) => `<line class="grid" x1="${x(v)}" x2="${x(v)}" y1="${T - 6}" y2="${H - 26}"/><text x="${x(v)}" y="${H - 10}" text-anchor="middle">${Math.round(v * 100)}%</text>`).join('');
  const body = arms
    .map((a, i) => {
      const cy = T + i * row + row / 2;
      const label = `<text x="${L - 10}" y="${cy + 4}" text-anchor="end">${esc(a.evolver)}</text>`;
      const m = a.testPassRate;
      if (!m) return `${label}<text x="${L}" y="${cy + 4}">no held-out test pass rate</text>`;
      const ci = clippedRateInterval(m);
      const range = ci
        ? `<line class="mark" x1="${x(ci.low).toFixed(1)}" x2="${x(ci.high).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="${colour(a.evolver)}" stroke-width="3"><title>${esc(a.evolver)}: 95% interval ${pct(ci.low)}–${pct(ci.high)}</title></line>` +
          [ci.low, ci.high].map((v) => `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${cy - 7}" y2="${cy + 7}" stroke="${colour(a.evolver)}" stroke-width="2"/>`).join('')
        : '';
      const seeds = rows
        .filter((r) => r.evolver === a.evolver && r.testPassRate !== null)
        .map((r, j) => `<circle class="mark" data-seed="${esc(r.seed)}" cx="${x(r.testPassRate as number).toFixed(1)}" cy="${(cy + 12 + (j % 3) * 4).toFixed(1)}" r="3.5" fill="none" stroke="${colour(a.evolver)}"><title>${esc(a.evolver)} · ${esc(r.seed)}: ${pct(r.testPassRate)}</title></circle>`)
        .join('');
      const mean = `<rect class="mark" x="${(x(m.mean) - 5).toFixed(1)}" y="${cy - 5}" width="10" height="10" transform="rotate(45 ${x(m.mean).toFixed(1)} ${cy})" fill="${colour(a.evolver)}"><title>${esc(a.evolver)}: mean ${pct(m.mean)}${ci ? ` [${pct(ci.low)}–${pct(ci.high)}]` : ''} over ${m.n} seed(s)</title></rect>`;
      return `${label}${range}${mean}${seeds}`;
    })
    .join('');
  return `<svg data-chart="test-intervals" viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px" role="img"><text x="${L}" y="14">held-out test pass rate: ◆ mean, bar 95% interval (clipped to 0–100%), ○ each seed</text>${grid}${body}</svg>`;
}

/**
 * Tokens-to-target curves: per arm and seed, the incumbent's held-out test pass rate against the evolution
 * tokens spent by then (starting at the seed harness), with each seed's target as a dashed line.
 */
export function tokensToTargetChart(data: ComparisonReportData): string {
  const W = 900, H = 320, L = 56, R = 170, T = 16, B = 40;
  const lines = data.rows
    .filter((r) => r.evolver !== 'static')
    .map((r) => ({ r, points: [...(r.seedTestPassRate !== null ? [{ tokens: 0, test: r.seedTestPassRate }] : []), ...[...r.heldOut].sort((a, b) => a.round - b.round).filter((p) => p.test !== null).map((p) => ({ tokens: p.evolutionTokens, test: p.test as number }))] }))
    .filter((l) => l.points.length);
  if (!lines.length) return '<p>No held-out tracking in these runs: no curves to draw.</p>';
  const xMax = Math.max(1, ...lines.flatMap((l) => l.points.map((p) => p.tokens)));
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => T + (1 - v) * (H - T - B);
  const colour = colourOf(data.arms);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((v) => `<line class="grid" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v * 100)}%</text>`).join('');
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${x(f * xMax)}" y="${H - B + 16}" text-anchor="middle">${thousands(f * xMax)}</text>`).join('');
  const targets = [...new Map(data.rows.filter((r) => r.seedTestPassRate !== null).map((r) => [r.seed, Math.min(1, (r.seedTestPassRate as number) + data.targetGainPoints / 100)])).entries()];
  const targetLines = targets.map(([seed, t]) => `<line class="mark" x1="${L}" x2="${W - R}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#999" stroke-dasharray="5 4"><title>target for ${esc(seed)}: ${pct(t)}</title></line>`).join('');
  const paths = lines
    .map(({ r, points }) => {
      const d = points.map((p, j) => `${j ? 'L' : 'M'}${x(p.tokens).toFixed(1)},${y(p.test).toFixed(1)}`).join('');
      const dots = points.map((p) => `<circle class="mark" cx="${x(p.tokens).toFixed(1)}" cy="${y(p.test).toFixed(1)}" r="2.5" fill="${colour(r.evolver)}"><title>${esc(r.evolver)} · ${esc(r.seed)}: ${pct(p.test)} after ${thousands(p.tokens)} tokens</title></circle>`).join('');
      return `<path d="${d}" stroke="${colour(r.evolver)}" fill="none" stroke-width="1.5" opacity="0.85"/>${dots}`;
    })
    .join('');
  const legend = data.arms.filter((a) => a.evolver !== 'static').map((a, i) => `<text x="${W - R + 10}" y="${T + 14 + i * 16}" style="fill:${colour(a.evolver)}">● ${esc(a.evolver)}</text>`).join('');
  return `<svg data-chart="tokens-to-target" viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px" role="img">${grid}${xTicks}${targetLines}${paths}${legend}<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">evolution tokens spent</text><text x="12" y="${T + (H - T - B) / 2}" transform="rotate(-90 12 ${T + (H - T - B) / 2})" text-anchor="middle">held-out test pass rate</text></svg>`;
}

/** Each arm's mean spend per seed, by stage, from the runs' audit logs (arms with no log are left out and named). */
export function spendPerArm(arms: ComparisonArm[], rows: ComparisonRow[]): { bars: Array<{ label: string; parts: Record<string, number> }>; missing: string[] } {
  const bars: Array<{ label: string; parts: Record<string, number> }> = [];
  const missing: string[] = [];
  for (const a of arms) {
    if (a.evolver === 'static') continue;
    const rs = rows.filter((r) => r.evolver === a.evolver);
    const withSpend = rs.filter((r) => r.spend !== null);
    if (withSpend.length < rs.length) missing.push(`${a.evolver} (${rs.length - withSpend.length} of ${rs.length})`);
    if (!withSpend.length) continue;
    const parts = Object.fromEntries(SPEND_STAGES.map((st) => [st, withSpend.reduce((sum, r) => sum + r.spend!.rounds.reduce((s, round) => s + round.tokens[st], 0), 0) / withSpend.length]));
    bars.push({ label: a.evolver, parts });
  }
  return { bars, missing };
}

export function buildComparisonReport(data: ComparisonReportData): string {
  const warning = fewSeedsWarning(data.seeds.length);
  const interval = (m: MeanInterval | null) => {
    if (!m) return 'n/a';
    const ci = clippedRateInterval(m);
    return ci ? `${pct(m.mean)} <span class="ci">[${pct(ci.low)}–${pct(ci.high)}]</span>` : pct(m.mean);
  };
  const versus = (a: ComparisonArm) => (a.versusAegis ? `${a.versusAegis.meanDifference >= 0 ? '+' : ''}${(100 * a.versusAegis.meanDifference).toFixed(1)} pts${a.versusAegis.p === null ? '' : ` · p ${a.versusAegis.p.toFixed(3)}${a.versusAegis.significant ? ' *' : ''}`}` : '');
  const table = data.arms
    .map((a) => `<tr><td>${esc(a.evolver)}</td><td class="num">${a.seeds}</td><td class="num" data-arm="${esc(a.evolver)}">${interval(a.testPassRate)}</td><td class="num">${interval(a.trainPassRate)}</td><td class="num">${thousands(a.tokens.mean)}</td><td class="num">${a.evolver === 'static' ? '' : `${a.tokensToTarget.reached}/${a.seeds}${a.tokensToTarget.mean === null ? '' : ` · ${thousands(a.tokensToTarget.mean)}`}`}</td><td class="num">${esc(versus(a))}</td></tr>`)
    .join('');
  const warn = warning ? `<p class="warning" role="alert">⚠ ${esc(warning)}</p>` : '';
  const seedRows = data.rows
    .map((r) => {
      const id = r.workflowId ? (data.runUrl ? `<a href="${esc(data.runUrl(r.workflowId))}"><code>${esc(r.workflowId)}</code></a>` : `<code>${esc(r.workflowId)}</code>`) : '(the seed harness)';
      return `<tr><td>${esc(r.evolver)}</td><td>${esc(r.seed)}</td><td class="num">${pct(r.testPassRate)}</td><td class="num">${pct(r.trainPassRate)}</td><td class="num">${thousands(r.tokens)}</td><td class="num">${r.tokensToTarget === null ? '—' : thousands(r.tokensToTarget)}</td><td>${id}</td></tr>`;
    })
    .join('');
  const spend = spendPerArm(data.arms, data.rows);
  const shown = SPEND_STAGES.filter((st) => spend.bars.some((b) => (b.parts[st] ?? 0) > 0));
  const spendChart = spend.bars.length ? stackedBars('spend-by-stage', spend.bars, shown.map((st) => ({ key: st, colour: STAGE_COLOURS[st], name: st })), { format: (v) => `${thousands(v)} tok` }) : '<p>No audit logs found for these runs: spend by stage is not shown.</p>';
  const budget = data.maxTokens ? `${thousands(data.maxTokens)} tokens` : 'no token cap';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HarnessX comparison · ${esc(data.benchmark)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#222;overflow-wrap:break-word}
svg{max-width:100%;height:auto}svg text{font-size:11px;fill:#333}.grid{stroke:#eee}.scroll{overflow-x:auto}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ci{color:#666}.warning{background:#fff4e5;border:1px solid #f0b429;padding:8px 12px}code{font-size:12px}
</style></head><body>
<h1>HarnessX comparison · ${esc(data.benchmark)}</h1>
<p>Task model <b>${esc(data.model)}</b>, meta-agent <b>${esc(data.metaAgent)}</b>, pass@${data.k}, ${data.rounds} rounds, evolution budget ${esc(budget)} per run; ${data.seeds.length} seed${data.seeds.length === 1 ? '' : 's'} (${esc(data.seeds.join(', '))}).${data.generatedAt ? ` Made ${esc(data.generatedAt)}.` : ''}</p>
<p>Every arm is measured outside its evolution budget on the same tasks: train ${data.trainTasks} tasks, test ${data.testTasks} (held out, never seen by evolution).</p>
${warn}
<h2>Held-out test pass rate per arm</h2>
${intervalChart(data.arms, data.rows)}
<div class="scroll"><table><tr><th>evolver</th><th>seeds</th><th>test (95% interval)</th><th>train</th><th>evolution tokens</th><th>reached target · mean tokens</th><th>AEGIS − arm (test, paired)</th></tr>${table}</table></div>
${warn ? warn.replace('role="alert"', '') : ''}
<p>Means over seeds with Student t 95% intervals, clipped to 0–100% (a pass rate cannot leave it). AEGIS − arm: the mean difference in held-out test pass rate (percentage points) with the paired t-test's p over seeds (* significant at 5%).</p>
<h2>Tokens to target</h2>
<p>Target: the seed harness's held-out test pass rate under each seed plus ${data.targetGainPoints} points (dashed lines). Each line is one arm under one seed: the incumbent's test pass rate after each round against the evolution tokens spent by then.</p>
${tokensToTargetChart(data)}
<h2>Spend by stage</h2>
<p>Mean evolution and measurement tokens per run, by stage, from each run's audit log.${spend.missing.length ? ` No audit log for: ${esc(spend.missing.join(', '))}.` : ''}</p>
${spendChart}
<h2>Every run</h2>
<div class="scroll"><table><tr><th>evolver</th><th>seed</th><th>test</th><th>train</th><th>evolution tokens</th><th>tokens to target</th><th>run</th></tr>${seedRows}</table></div>
</body></html>
`;
}

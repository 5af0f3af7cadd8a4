import { buildLineage, LineageNode } from '../aegis/lineage';
import type { AuditRecord, Candidate, Digest } from '../aegis/types';
import { webUiUrl } from '../temporal.config';
import { SPEND_STAGES, spendByStage } from './spend-by-stage';
import { barChart, esc, heatMap, lineChart, stackedBars, thousands } from './svg';

export interface RunData {
  runId: string;
  audit: AuditRecord[];
  /** Digests by round (from the audit log's evidence refs). */
  digests: Map<number, Digest>;
  /** Candidates of shipped edits, by candidate id. */
  shippedCandidates: Map<string, Candidate>;
}

const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : 'n/a');

function reasonClass(reason: string): string {
  if (/^seesaw: regresses/.test(reason)) return 'seesaw: regression';
  if (/^seesaw: no gain/.test(reason)) return 'seesaw: no gain';
  return reason.split(':')[0] || 'other';
}

function lineageHtml(node: LineageNode): string {
  const rejected = node.rejected.map((r) => `<li class="rejected">✗ round ${r.round} <code>${esc(r.editKey)}</code> — ${esc(r.reason)}</li>`).join('');
  const children = node.children.map(lineageHtml).join('');
  return `<li><code>${esc(node.harnessId)}</code> ${node.editKey ? `← round ${node.round}: <code>${esc(node.editKey)}</code>` : '(seed)'}${rejected || children ? `<ul>${rejected}${children}</ul>` : ''}</li>`;
}

/** One self-contained HTML file: charts are inline SVG, no scripts or external assets. */
export function buildReport(data: RunData): string {
  const { audit } = data;
  const by = (stage: AuditRecord['stage']) => audit.filter((r) => r.stage === stage);
  const setup = by('setup')[0]?.payload.input as Record<string, unknown> | undefined;
  const final = by('final')[0]?.payload as Record<string, unknown> | undefined;
  const rounds = [...new Set(by('rollout').map((r) => r.round))].sort((a, b) => a - b);

  // Every point sits where it was measured: the train batch at the start of round r measures the incumbent
  // left by round r − 1; validation and test at the end of round r. Round 0 is the seed harness.
  const trainPoints = by('rollout').filter((r) => !r.payload.budgetStopped).map((r) => ({ x: r.round - 1, y: Number(r.payload.passRate) }));
  const ends = by('round_end');
  const seedTest = typeof final?.seedTestPassRate === 'number' ? [{ x: 0, y: final.seedTestPassRate }] : [];
  const markers = [
    ...by('ship').map((r) => ({ x: r.round, label: `shipped ${String(r.payload.editKey ?? r.candidateId ?? '')}`, colour: '#2a7d2a' })),
    ...audit.filter((r) => r.stage === 'regression' && r.kind === 'rollback').map((r) => ({ x: r.round, label: `rollback to ${String(r.payload.to ?? '')}`, colour: '#b03030' })),
  ];
  const passChart = lineChart(
    'pass-rate',
    [
      { name: 'train batch', colour: '#4c78a8', points: trainPoints },
      { name: 'validation', colour: '#f58518', points: ends.map((r) => ({ x: r.round, y: typeof r.payload.validation === 'number' ? r.payload.validation : null })) },
      { name: 'test (held out)', colour: '#54a24b', points: [...seedTest, ...ends.map((r) => ({ x: r.round, y: typeof r.payload.test === 'number' ? r.payload.test : null }))] },
    ],
    { xLabel: 'after round (0 = seed harness)', yLabel: 'pass@k', yMax: 1, percent: true, markers },
  );

  const outcomes = new Map<string, number>();
  for (const r of audit) {
    if (r.stage === 'ship') outcomes.set('gate → shipped', (outcomes.get('gate → shipped') ?? 0) + 1);
    if (r.stage === 'gate' && r.kind === 'rollback') {
      const key = r.payload.approval === 'rejected' ? 'reviewer: rejected' : `gate → ${reasonClass(String(r.payload.reason ?? ''))}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    if (r.payload?.noop) {
      const key = `${r.stage} → no-op: ${String(r.payload.noop).split(':')[0]}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
  }
  const outcomeChart = barChart('decisions', [...outcomes].map(([label, value]) => ({ label, value, colour: label.includes('shipped') ? '#54a24b' : '#e45756' })));

  const spend = spendByStage(audit);
  const colours: Record<string, string> = { rollout: '#4c78a8', digest: '#9ecae9', plan: '#72b7b2', evolve: '#b279a2', critique: '#ff9da6', gate: '#f58518', guard: '#e45756', unattributed: '#bab0ac', measurement: '#54a24b' };
  const shown = SPEND_STAGES.filter((st) => spend.rounds.some((r) => r.tokens[st] > 0));
  const tokens = stackedBars(
    'tokens',
    spend.rounds.map((r) => ({ label: r.round === 'final' ? 'final eval' : `round ${r.round}`, parts: r.tokens })),
    shown.map((st) => ({ key: st, colour: colours[st], name: st })),
    { format: (v) => `${thousands(v)} tok` },
  );
  const money = (v: number | null) => (v === null ? 'n/a' : `$${v.toFixed(v < 1 ? 4 : 2)}`);
  const stageRows = shown
    .map((st) => {
      const t = spend.rounds.reduce((sum, r) => sum + r.tokens[st], 0);
      const usd = spend.unpricedStages.includes(st) ? null : spend.rounds.reduce((sum, r) => sum + r.usd[st], 0);
      return `<tr><td>${esc(st)}</td><td class="num">${thousands(t)}</td><td class="num">${money(usd)}</td></tr>`;
    })
    .join('');

  const taskIds = [...new Set([...data.digests.values()].flatMap((d) => d.tasks.map((t) => t.taskId)))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const outcome = new Map<string, 'pass' | 'fail'>();
  for (const [round, d] of data.digests) for (const t of d.tasks) outcome.set(`${t.taskId}|${round}`, t.passed ? 'pass' : 'fail');
  const heat = heatMap('task-heatmap', taskIds, rounds, (task, round) => outcome.get(`${task}|${round}`) ?? null);

  const manifests = by('ship')
    .map((r) => {
      const c = r.candidateId ? data.shippedCandidates.get(r.candidateId) : undefined;
      const actual = ((r.payload.gate as { unlocked?: string[] } | undefined)?.unlocked ?? []) as string[];
      const predicted = c?.manifest.predictedImpact.tasksWillUnlock ?? [];
      const hits = predicted.filter((t) => actual.includes(t)).length;
      return `<tr><td>${r.round}</td><td><code>${esc(r.candidateId)}</code></td><td>${esc(c?.bucket ?? '')}</td><td><code>${esc(r.payload.editKey)}</code></td><td>${predicted.length}</td><td>${actual.length}</td><td>${hits}</td><td><details><summary>manifest</summary><pre>${esc(JSON.stringify(c?.manifest ?? null, null, 2))}</pre></details></td></tr>`;
    })
    .join('');
  const lineage = buildLineage(audit);
  const compression = by('digest').map((r) => (typeof r.payload.compression === 'number' ? r.payload.compression.toFixed(0) + '×' : 'n/a'));

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HarnessX run ${esc(data.runId)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#222;overflow-wrap:break-word}
svg{max-width:100%;height:auto}.scroll{overflow-x:auto}.num{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;word-break:break-word}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
svg text{font-size:11px;fill:#333}.grid{stroke:#eee}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
.rejected{color:#a33}.kpi{display:inline-block;margin-right:28px}.kpi b{font-size:20px;display:block}code{font-size:12px}pre{max-height:300px;overflow:auto}
</style></head><body>
<h1>HarnessX run <code>${esc(data.runId)}</code></h1>
<p>${timing(audit)} · <a href="${esc(webUiUrl(data.runId))}">open the run in the Temporal Web UI</a></p>
<p>Benchmark <b>${esc(setup?.benchmark ?? '?')}</b>, task model <b>${esc(setup?.model ?? '?')}</b>${String(setup?.model ?? '').startsWith('sim:') ? ' (a simulator, not an LLM)' : ''}, meta-agent <b>${esc(setup?.metaAgent ?? '?')}</b>, ${rounds.length} round(s). ${final ? `Stopped: ${esc(final.stopReason)}.` : 'Still running or unfinished.'}</p>
<div><span class="kpi">train (seed → evolved)<b>${pct(final?.seedPassRate)} → ${pct(final?.evolvedPassRate)}</b></span><span class="kpi">test, held out<b>${pct(final?.seedTestPassRate)} → ${pct(final?.evolvedTestPassRate)}</b></span><span class="kpi">shipped / rejected<b>${esc(final?.shipped ?? by('ship').length)} / ${esc(final?.rejected ?? '?')}</b></span>${spendKpis(final)}</div>
<h2>Pass rate per round</h2>${passChart}
<p>Each point is the harness in use after that round (0: the seed harness). Train batch: measured at the start of the next round, on its adaptation batch. Validation and test: measured at the end of the round, on the gate's validation tasks and the test tasks (reported only, never seen by evolution). Dashed lines: ships (green) and regression-guard rollbacks (red); hover for the edit.</p>
<h2>Decisions per stage and reason</h2>${outcomeChart}
<h2>Lineage</h2><ul>${lineage ? lineageHtml(lineage) : '<li>no setup record</li>'}</ul>
<h2>Per-task outcomes across rounds</h2><p>Green: solved (pass@k) in that round's batch; red: failed; blank: not in the batch.</p>${heat}
<h2>Tokens and cost per round, by stage</h2>${tokens}
<div class="scroll"><table><tr><th>stage</th><th>tokens</th><th>USD</th></tr>${stageRows}<tr><th>evolution (the budget's spend)</th><th class="num" data-total="evolution">${thousands(spend.evolutionTokens)}</th><th class="num">${money(spend.evolutionUsd)}</th></tr><tr><th>measurement (outside the budget)</th><th class="num" data-total="measurement">${thousands(spend.measurementTokens)}</th><th class="num">${money(spend.measurementUsd)}</th></tr></table></div>
<p>Evolution spend (rollouts, meta-agent, gate, regression guard) is what maxTokens/maxUsd cap; measurement spend (held-out tracking, the final evaluation) is accounted apart from it${final && typeof final.measurementTokens === 'number' ? `: ${thousands(final.measurementTokens)} tokens` : ''}${final && final.finalEvaluation === false ? '; the final evaluation was skipped, so the pass rates above are the first and last batch' : ''}.</p>
<p>Costs come from the price table (the simulator is free; real models are priced with HARNESSX_PRICES). Digest compression per round (trace tokens per digest token): ${esc(compression.join(', ') || 'n/a')}.</p>
<h2>Shipped edits: predicted vs actual impact</h2>
<div class="scroll"><table><tr><th>round</th><th>candidate</th><th>bucket</th><th>edit</th><th>predicted unlocks</th><th>actual unlocks (gate set)</th><th>predicted and actual</th><th></th></tr>${manifests || '<tr><td colspan="8">nothing shipped</td></tr>'}</table></div>
</body></html>
`;
}

/** Started, ended (or last record) and how long, from the audit log's timestamps. */
function timing(audit: readonly AuditRecord[]): string {
  // A record whose stamp does not parse (a hand-edited or foreign log) is left out of the timing, never fatal.
  const stamps = audit.map((r) => new Date(r.ts)).filter((d) => !Number.isNaN(d.getTime()));
  if (!stamps.length) return 'times not recorded';
  const first = stamps[0];
  const last = stamps[stamps.length - 1];
  const seconds = Math.max(0, Math.round((last.getTime() - first.getTime()) / 1000));
  const duration = seconds >= 3600 ? `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min` : seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`;
  const at = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 19);
  const ended = audit.some((r) => r.stage === 'final');
  return `started ${at(first)} UTC · ${ended ? 'ended' : 'last record'} ${at(last)} UTC · ${duration}`;
}

/** The final record's two spends, when it has them (runs from before the split record evolution spend only). */
function spendKpis(final: Record<string, unknown> | undefined): string {
  if (!final || typeof final.tokens !== 'number') return '';
  const usd = (v: unknown) => (typeof v === 'number' ? ` ($${v.toFixed(2)})` : '');
  const measurement = typeof final.measurementTokens === 'number' ? `<span class="kpi">measurement tokens<b>${thousands(final.measurementTokens)}${usd(final.measurementUsd)}</b></span>` : '';
  return `<span class="kpi">evolution tokens<b>${thousands(final.tokens)}${usd(final.costUsd)}</b></span>${measurement}`;
}

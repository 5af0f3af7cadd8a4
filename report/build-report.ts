import { buildLineage, LineageNode } from '../aegis/lineage';
import type { AuditRecord, Candidate, Digest } from '../aegis/types';
import type { HarnessConfig } from '../harness/config';
import { webUiUrl } from '../temporal.config';
import { DiffPart, editDiff, HarnessScores, lineageScores, OUTCOME_ORDER, roundTimes, ShippedEffect, shippedEffects, TaskRow, taskRows } from './run-details';
import { SPEND_STAGES, spendByStage } from './spend-by-stage';
import { barChart, esc, lineChart, stackedBars, thousands } from './svg';

export interface RunData {
  runId: string;
  audit: AuditRecord[];
  /** Digests by round (from the audit log's evidence refs). */
  digests: Map<number, Digest>;
  /** Candidates of shipped edits, by candidate id. */
  shippedCandidates: Map<string, Candidate>;
  /** The harnesses each shipped edit went from and to, by harness id (for each edit's diff); absent: no diffs. */
  harnesses?: Map<string, HarnessConfig>;
}

const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : 'n/a');

function reasonClass(reason: string): string {
  if (/^seesaw: regresses/.test(reason)) return 'seesaw: regression';
  if (/^seesaw: no gain/.test(reason)) return 'seesaw: no gain';
  return reason.split(':')[0] || 'other';
}

function scoreText(s: HarnessScores | undefined): string {
  if (!s) return '';
  const parts = [
    s.gate && s.gate.candidatePassed !== null ? `gate ${s.gate.incumbentPassed ?? '?'} → ${s.gate.candidatePassed} of ${s.gate.gateTasks ?? '?'}` : null,
    s.validation !== null ? `validation ${pct(s.validation)}` : null,
    s.test !== null ? `test ${pct(s.test)}` : null,
  ].filter(Boolean);
  return parts.length ? ` <span class="score">${esc(parts.join(' · '))}</span>` : '';
}

function lineageHtml(node: LineageNode, scores: Map<string, HarnessScores>): string {
  const rejected = node.rejected.map((r) => `<li class="rejected">✗ round ${r.round} <code>${esc(r.editKey)}</code> — ${esc(r.reason)}</li>`).join('');
  const children = node.children.map((c) => lineageHtml(c, scores)).join('');
  return `<li><code>${esc(node.harnessId)}</code> ${node.editKey ? `← round ${node.round}: <code>${esc(node.editKey)}</code>` : '(seed)'}${scoreText(scores.get(node.harnessId))}${rejected || children ? `<ul>${rejected}${children}</ul>` : ''}</li>`;
}

const change = (b: number | null, a: number | null) => {
  if (b === null && a === null) return 'n/a';
  const delta = b !== null && a !== null ? ` <span class="${a > b ? 'up' : a < b ? 'down' : 'same'}">(${a >= b ? '+' : ''}${(100 * (a - b)).toFixed(1)} pts)</span>` : '';
  return `${pct(b)} → ${pct(a)}${delta}`;
};

function diffPartsHtml(parts: DiffPart[]): string {
  return parts.map((p) => (p.op === 'same' ? esc(p.text) : p.op === 'add' ? `<ins>${esc(p.text)}</ins>` : `<del>${esc(p.text)}</del>`)).join('');
}

/** One shipped edit: its measured effect, why it was made, and what it changed. */
function editHtml(e: ShippedEffect, data: RunData): string {
  const c = data.shippedCandidates.get(e.candidateId);
  const from = e.from ? data.harnesses?.get(e.from) : undefined;
  const to = e.to ? data.harnesses?.get(e.to) : undefined;
  const diff = from && to ? editDiff(from, to) : null;
  const gate = e.gate.candidatePassed !== null ? `${e.gate.incumbentPassed ?? '?'} → ${e.gate.candidatePassed} of ${e.gate.gateTasks ?? '?'} gate tasks` : 'n/a';
  const hits = e.predictedUnlocks.filter((t) => e.gate.unlocked.includes(t)).length;
  const texts = diff?.texts.map((t) => `<p class="where"><code>${esc(t.where)}</code></p><pre class="textdiff">${diffPartsHtml(t.parts)}</pre>`).join('') ?? '';
  return `<section class="edit" data-edit="${esc(e.candidateId)}"><h3>Round ${e.round} · <code>${esc(e.editKey)}</code> <span class="muted">(${esc(e.bucket || '?')}, ${esc(e.candidateId)})</span></h3>
<table class="effect"><tr><th>gate</th><td>${esc(gate)}${e.gate.unlocked.length ? ` · unlocked ${e.gate.unlocked.map((t) => `<code>${esc(t)}</code>`).join(', ')}` : ''}</td></tr>
<tr><th>train batch</th><td>${change(e.train.before, e.train.after)} <span class="muted">(this round's batch → the next round's)</span></td></tr>
<tr><th>validation</th><td>${change(e.validation.before, e.validation.after)}</td></tr>
<tr><th>test (held out)</th><td>${change(e.test.before, e.test.after)}</td></tr></table>
${e.shared ? '<p class="muted">Another ship or a rollback happened in the same round: the end-of-round measures are not this edit\'s alone.</p>' : ''}
<p><b>Why:</b> ${esc(e.rationale ?? 'no manifest recorded')}. Predicted unlocks ${e.predictedUnlocks.length}, actual ${e.gate.unlocked.length}, both ${hits}.</p>
${e.evidence.length ? `<details><summary>trace evidence (${e.evidence.length})</summary><ul>${e.evidence.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></details>` : ''}
${diff ? `<details${texts ? ' open' : ''}><summary>what changed${texts ? ' (prompt text)' : ''}</summary><pre>${esc(texts ? diff.lines.split('\n').map((l) => (l.length > 160 ? `${l.slice(0, 159)}…` : l)).join('\n') : diff.lines)}</pre>${texts}</details>` : ''}
<details><summary>manifest</summary><pre>${esc(JSON.stringify(c?.manifest ?? null, null, 2))}</pre></details></section>`;
}

/** The per-task heat map: tasks grouped by outcome, readable names, each cell's result and failure on hover. */
function taskTableHtml(rows: TaskRow[], rounds: number[]): string {
  if (!rows.length) return '<p>No digests recorded: no per-task outcomes.</p>';
  const cell = (row: TaskRow, round: number) => {
    const c = row.cells.find((x) => x.round === round);
    if (!c) return '<td class="cell"></td>';
    const failure = c.failure ? ` · ${c.failure.step !== null ? `failed at step ${c.failure.step}: ` : ''}${c.failure.text}` : '';
    const tip = `round ${round}: ${c.passed ? 'solved' : 'failed'} (${c.successes}/${c.attempts} attempts)${c.category ? ` · ${c.category}` : ''}${failure}`;
    return `<td class="cell ${c.passed ? 'pass' : 'fail'}" title="${esc(tip)}">${c.passed ? '✓' : '✗'}</td>`;
  };
  const head = `<tr><th>task</th>${rounds.map((r) => `<th class="cell">${r}</th>`).join('')}</tr>`;
  return `<div data-chart="task-heatmap">${OUTCOME_ORDER.map((outcome) => {
    const group = rows.filter((r) => r.outcome === outcome);
    if (!group.length) return '';
    const body = group.map((r) => `<tr data-outcome="${esc(outcome)}"><td class="task" title="${esc(`${r.taskId}${r.goal ? `\n${r.goal}` : ''}`)}">${esc(r.name)}</td>${rounds.map((round) => cell(r, round)).join('')}</tr>`).join('');
    const open = outcome === 'unlocked' || outcome === 'regressed' || outcome === 'flaky' || group.length <= 20;
    return `<details class="outcome"${open ? ' open' : ''}><summary>${esc(outcome)} (${group.length})</summary><div class="scroll"><table class="tasks">${head}${body}</table></div></details>`;
  }).join('')}</div>`;
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

  const tasks = taskRows(data.digests);
  const heat = taskTableHtml(tasks, rounds);
  const counts = OUTCOME_ORDER.map((o) => `${tasks.filter((t) => t.outcome === o).length} ${o}`).join(', ');
  const edits = shippedEffects(audit, data.shippedCandidates).map((e) => editHtml(e, data)).join('');
  const times = roundTimes(audit);
  const timeRows = times.map((t) => `<tr><td>${t.round}</td><td>${esc(t.start.replace('T', ' ').slice(0, 19))}</td><td class="num">${esc(duration(t.seconds))}</td></tr>`).join('');
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
.rejected{color:#a33}.score{color:#555;font-size:12px}.muted{color:#666;font-size:12px}.up{color:#2a7d2a}.down{color:#b03030}.same{color:#666}
.edit{border:1px solid #ddd;border-radius:4px;padding:4px 12px 8px;margin:12px 0}.edit h3{font-size:15px;margin:8px 0}.effect th{width:130px}
ins{background:#d9f2d9;text-decoration:none}del{background:#f8d7d7}.textdiff{border:1px solid #eee;padding:6px}.where{margin:8px 0 2px}
.tasks td.task{max-width:560px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.tasks .cell{width:22px;text-align:center;padding:2px}
.pass{background:#cfe8cc;color:#2a6a2a}.fail{background:#f5c9c9;color:#9a2a2a}details.outcome summary{font-weight:600;margin-top:8px}.kpi{display:inline-block;margin-right:28px}.kpi b{font-size:20px;display:block}code{font-size:12px}pre{max-height:300px;overflow:auto}
</style></head><body>
<h1>HarnessX run <code>${esc(data.runId)}</code></h1>
<p>${timing(audit)} · <a href="${esc(webUiUrl(data.runId))}">open the run in the Temporal Web UI</a></p>
<p>Benchmark <b>${esc(setup?.benchmark ?? '?')}</b>, task model <b>${esc(setup?.model ?? '?')}</b>${String(setup?.model ?? '').startsWith('sim:') ? ' (a simulator, not an LLM)' : ''}, meta-agent <b>${esc(setup?.metaAgent ?? '?')}</b>, ${rounds.length} round(s). ${final ? `Stopped: ${esc(final.stopReason)}.` : 'Still running or unfinished.'}</p>
<div><span class="kpi">train (seed → evolved)<b>${pct(final?.seedPassRate)} → ${pct(final?.evolvedPassRate)}</b></span><span class="kpi">test, held out<b>${pct(final?.seedTestPassRate)} → ${pct(final?.evolvedTestPassRate)}</b></span><span class="kpi">shipped / rejected<b>${esc(final?.shipped ?? by('ship').length)} / ${esc(final?.rejected ?? '?')}</b></span>${spendKpis(final)}</div>
<h2>Pass rate per round</h2>${passChart}
<p>Each point is the harness in use after that round (0: the seed harness). Train batch: measured at the start of the next round, on its adaptation batch. Validation and test: measured at the end of the round, on the gate's validation tasks and the test tasks (reported only, never seen by evolution). Dashed lines: ships (green) and regression-guard rollbacks (red); hover for the edit.</p>
<h2>Decisions per stage and reason</h2>${outcomeChart}
<h2>Lineage</h2><p>Each version with its gate verdict when shipped (tasks the incumbent → the candidate passed) and validation / test at the end of its round; ✗ candidates rejected on it.</p><ul class="lineage">${lineage ? lineageHtml(lineage, lineageScores(audit, lineage)) : '<li>no setup record</li>'}</ul>
<h2>Per-task outcomes across rounds</h2><p>Each round's adaptation batch, tasks grouped by outcome (${esc(counts)}): unlocked = failed, then solved from some round on; regressed = solved, then failed; flaky = both ways. ✓ solved (pass@k), ✗ failed, blank: not in that round's batch. Hover a task for its id and goal, a cell for its attempts, failure category and the step it failed at.</p>${heat}
<h2>Tokens and cost per round, by stage</h2>${tokens}
<div class="scroll"><table><tr><th>stage</th><th>tokens</th><th>USD</th></tr>${stageRows}<tr><th>evolution (the budget's spend)</th><th class="num" data-total="evolution">${thousands(spend.evolutionTokens)}</th><th class="num">${money(spend.evolutionUsd)}</th></tr><tr><th>measurement (outside the budget)</th><th class="num" data-total="measurement">${thousands(spend.measurementTokens)}</th><th class="num">${money(spend.measurementUsd)}</th></tr></table></div>
<p>Evolution spend (rollouts, meta-agent, gate, regression guard) is what maxTokens/maxUsd cap; measurement spend (held-out tracking, the final evaluation) is accounted apart from it${final && typeof final.measurementTokens === 'number' ? `: ${thousands(final.measurementTokens)} tokens` : ''}${final && final.finalEvaluation === false ? '; the final evaluation was skipped, so the pass rates above are the first and last batch' : ''}.</p>
<p>Costs come from the price table (the simulator is free; real models are priced with HARNESSX_PRICES). Digest compression per round (trace tokens per digest token): ${esc(compression.join(', ') || 'n/a')}.</p>
<h2>Shipped edits and their measured effect</h2>
${edits || '<p>Nothing shipped.</p>'}
<h2>Timing per round</h2>
<div class="scroll"><table><tr><th>round</th><th>started (UTC)</th><th>duration</th></tr>${timeRows}</table></div>
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
  const at = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 19);
  const ended = audit.some((r) => r.stage === 'final');
  return `started ${at(first)} UTC · ${ended ? 'ended' : 'last record'} ${at(last)} UTC · ${duration(seconds)}`;
}

function duration(seconds: number): string {
  return seconds >= 3600 ? `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min` : seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`;
}

/** The final record's two spends, when it has them (runs from before the split record evolution spend only). */
function spendKpis(final: Record<string, unknown> | undefined): string {
  if (!final || typeof final.tokens !== 'number') return '';
  const usd = (v: unknown) => (typeof v === 'number' ? ` ($${v.toFixed(2)})` : '');
  const measurement = typeof final.measurementTokens === 'number' ? `<span class="kpi">measurement tokens<b>${thousands(final.measurementTokens)}${usd(final.measurementUsd)}</b></span>` : '';
  return `<span class="kpi">evolution tokens<b>${thousands(final.tokens)}${usd(final.costUsd)}</b></span>${measurement}`;
}

import type { AuditRecord } from '../aegis/types';
import { webUiUrl } from '../temporal.config';
import { DeploymentEvent, DeploymentTimeline, deploymentTimeline, EventKind, LiveWindow, shortId, VersionRow } from './deployment-timeline';
import { esc, thousands } from './svg';

/**
 * The report of a live deployment (`harnessx report deploy-<name>`): its live pass rate per closed window
 * with the 95% interval, each window coloured by the champion it ran under, every canary start, promotion
 * and rollback marked with the version and the reason; the versions, the live rounds and the counts. One
 * self-contained HTML file: inline SVG, no scripts, no network. Pure: tests call it directly.
 */

const pct = (x: number | null | undefined) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : 'n/a');
const clip01 = (v: number) => Math.max(0, Math.min(1, v));
const utc = (ms: number | null) => (ms === null ? 'n/a' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19));

/** Champion colours, in order of first appearance (the seed first); more versions than colours reuse them. */
const PALETTE = ['#4c78a8', '#54a24b', '#b279a2', '#f58518', '#72b7b2', '#9d755d', '#e45756', '#eeca3b'];

export function championColours(windows: readonly LiveWindow[], versions: readonly VersionRow[]): Map<string, string> {
  const colours = new Map<string, string>();
  for (const id of [...versions.filter((v) => v.seed).map((v) => v.harnessId), ...windows.map((w) => w.harnessId)]) if (!colours.has(id)) colours.set(id, PALETTE[colours.size % PALETTE.length]);
  return colours;
}

const MARK: Record<EventKind, { colour: string; dash: string; verb: string }> = {
  canary: { colour: '#a86b00', dash: '5 3', verb: 'canary' },
  promoted: { colour: '#2a7d2a', dash: '', verb: 'promoted' },
  rolled_back: { colour: '#b03030', dash: '', verb: 'rolled back' },
  pulled: { colour: '#b03030', dash: '2 2', verb: 'pulled' },
  manual_rollback: { colour: '#7a1f5c', dash: '', verb: 'rollback to' },
};

/** A marker's label: what happened to which version, and why (rollbacks and pulls name their reason). */
export function markerLabel(e: DeploymentEvent): string {
  const m = MARK[e.kind];
  const who = `${m.verb} ${shortId(e.harnessId)}${e.manual ? ' (manual)' : ''}`;
  return e.kind === 'canary' || e.kind === 'promoted' ? who : `${who}: ${e.reason.replace(/^manual:\s*/, '')}`;
}

/** Rough width of a label at the chart's 11 px font (px per character), for placing and cutting labels. */
const CHAR_PX = 6.2;

/**
 * The live pass-rate chart: x = window index (its closing time under the tick), y = pass rate 0–100%; a
 * grey band for each window's 95% interval (clipped to 0–100%), points and line segments in the colour of
 * the champion the window ran under, a strip along the bottom in the same colours, and a vertical line per
 * event with its label above the plot (rows chosen so labels never overlap; the full text is its tooltip).
 */
export function livePassRateChart(windows: readonly LiveWindow[], events: readonly DeploymentEvent[], colours: ReadonlyMap<string, string>): string {
  const W = 900, L = 48, R = 32, B = 48, PLOT = 220;
  if (!windows.length && !events.length) return '<p>No window has closed yet: nothing to draw.</p>';
  const xs = [...windows.map((w) => w.index), ...windows.map((w) => w.index - 1), ...events.map((e) => e.x)];
  const xMin = Math.min(...xs), xMax = Math.max(...xs, xMin + 1);
  const px = (x: number) => L + ((x - xMin) / (xMax - xMin)) * (W - L - R);

  // Labels above the plot: each event takes the first row where it fits, at most 6 rows.
  const rowsRight: number[] = [];
  const placed = events.map((e) => {
    const full = markerLabel(e);
    const x = px(e.x);
    const room = Math.max(x - L, W - R - x);
    const maxChars = Math.max(8, Math.floor(room / CHAR_PX) - 1);
    const text = full.length > maxChars ? `${full.slice(0, maxChars - 1)}…` : full;
    const width = text.length * CHAR_PX;
    const right = x + 3 + width <= W - R;
    const left = right ? x + 3 : x - 3 - width;
    let row = rowsRight.findIndex((end) => left > end + 8);
    if (row < 0) row = rowsRight.length < 6 ? rowsRight.length : rowsRight.indexOf(Math.min(...rowsRight));
    rowsRight[row] = Math.max(rowsRight[row] ?? -Infinity, left + width);
    return { e, full, text, x, right, row };
  });
  const T = 10 + rowsRight.length * 14;
  const H = T + PLOT + B;
  const py = (y: number) => T + (1 - clip01(y)) * PLOT;

  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => `<line x1="${L}" x2="${W - R}" y1="${py(f)}" y2="${py(f)}" class="grid"/><text x="${L - 6}" y="${py(f) + 4}" text-anchor="end">${Math.round(100 * f)}%</text>`).join('');

  // The 95% interval: one band per run of consecutive windows with a rate, clipped to 0–100%.
  const bands: string[] = [];
  let run: LiveWindow[] = [];
  const flush = () => {
    if (!run.length) return;
    const top = run.map((w) => `${px(w.index).toFixed(1)},${py(w.high ?? w.passRate!).toFixed(1)}`);
    const bottom = [...run].reverse().map((w) => `${px(w.index).toFixed(1)},${py(w.low ?? w.passRate!).toFixed(1)}`);
    // A single window draws its interval as a short bar.
    if (run.length === 1) {
      const w = run[0];
      bands.push(`<rect class="band" x="${(px(w.index) - 4).toFixed(1)}" y="${py(w.high ?? w.passRate!).toFixed(1)}" width="8" height="${Math.max(0, py(w.low ?? w.passRate!) - py(w.high ?? w.passRate!)).toFixed(1)}"/>`);
    } else bands.push(`<polygon class="band" points="${[...top, ...bottom].join(' ')}"/>`);
    run = [];
  };
  windows.forEach((w, i) => {
    if (w.passRate === null || (i > 0 && windows[i - 1].index !== w.index - 1)) flush();
    if (w.passRate !== null) run.push(w);
  });
  flush();

  const colour = (id: string) => colours.get(id) ?? '#888';
  // Line segments coloured by the later window's champion (a gap where a window has no rate).
  const segments = windows
    .map((w, i) => {
      const prev = windows[i - 1];
      if (!prev || prev.passRate === null || w.passRate === null || prev.index !== w.index - 1) return '';
      return `<line x1="${px(prev.index).toFixed(1)}" y1="${py(prev.passRate).toFixed(1)}" x2="${px(w.index).toFixed(1)}" y2="${py(w.passRate).toFixed(1)}" stroke="${colour(w.harnessId)}" stroke-width="2"/>`;
    })
    .join('');
  const points = windows
    .filter((w) => w.passRate !== null)
    .map((w) => {
      const sources = Object.entries(w.bySource).map(([s, n]) => `${s} ${n}`).join(', ');
      const tip = `window ${w.index}: ${pct(w.passRate)} of ${w.runs} runs (95% ${pct(w.low === null ? null : clip01(w.low))} – ${pct(w.high === null ? null : clip01(w.high))}) · champion ${w.harnessId} · closed ${utc(w.endedAt)} UTC${sources ? ` · outcomes: ${sources}` : ''}`;
      return `<circle class="pt" data-window="${w.index}" cx="${px(w.index).toFixed(1)}" cy="${py(w.passRate!).toFixed(1)}" r="4" fill="${colour(w.harnessId)}"><title>${esc(tip)}</title></circle>`;
    })
    .join('');
  // Each window's span coloured by its champion, along the bottom of the plot.
  const strip = windows.map((w) => `<rect class="strip" x="${px(w.index - 1).toFixed(1)}" y="${T + PLOT + 2}" width="${Math.max(0.5, px(w.index) - px(w.index - 1)).toFixed(1)}" height="6" fill="${colour(w.harnessId)}"><title>${esc(`window ${w.index}: ${w.harnessId}`)}</title></rect>`).join('');

  // Ticks: at most about 10 windows labelled, with their closing time below.
  const step = Math.max(1, Math.ceil(windows.length / 10));
  // The closing time as precise as the span needs: seconds within an hour, minutes within a day, else the date too.
  const ends = windows.map((w) => w.endedAt).filter((x): x is number => x !== null);
  const spanMs = ends.length ? Math.max(...ends) - Math.min(...ends) : 0;
  const [from, to] = spanMs > 86_400_000 ? [5, 16] : spanMs > 3_600_000 ? [11, 16] : [11, 19];
  const time = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().slice(from, to).replace('T', ' '));
  const ticks = windows
    .filter((_, i) => i % step === 0 || i === windows.length - 1)
    .filter((w, i, all) => i === all.length - 1 || px(all[all.length - 1].index) - px(w.index) >= 60 || all.length === 1)
    .map((w) => `<text x="${px(w.index).toFixed(1)}" y="${T + PLOT + 22}" text-anchor="middle">${w.index}</text><text class="time" x="${px(w.index).toFixed(1)}" y="${T + PLOT + 34}" text-anchor="middle">${esc(time(w.endedAt))}</text>`)
    .join('');

  // The lines first, then every label over them (with a white halo, so a line never runs through a label's text).
  const lines = placed
    .map(({ e, x, row }) => {
      const m = MARK[e.kind];
      return `<line class="event-line" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${10 + row * 14 + 2}" y2="${T + PLOT}" stroke="${m.colour}"${m.dash ? ` stroke-dasharray="${m.dash}"` : ''} stroke-width="1.5"/>`;
    })
    .join('');
  const marks = placed
    .map(({ e, full, text, x, right, row }) => {
      const tip = `${full} · window axis ${e.x.toFixed(2)} · ${e.ts.replace('T', ' ').slice(0, 19)} UTC${e.evidence ? ` · ${e.evidence}` : ''}`;
      const box = `<rect class="lbg" x="${(right ? x + 1 : x - 5 - text.length * CHAR_PX).toFixed(1)}" y="${10 + row * 14 - 9}" width="${(text.length * CHAR_PX + 4).toFixed(1)}" height="13"/>`;
      return `<g class="event" data-event="${e.kind}" data-harness="${esc(e.harnessId)}">${box}<text class="elabel" x="${(right ? x + 3 : x - 3).toFixed(1)}" y="${10 + row * 14 + 1}" text-anchor="${right ? 'start' : 'end'}" style="fill:${MARK[e.kind].colour}">${esc(text)}</text><title>${esc(tip)}</title></g>`;
    })
    .join('');

  return `<svg data-chart="live-pass-rate" viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px" role="img">${grid}${bands.join('')}${strip}${lines}${segments}${points}${marks}${ticks}<text x="${(L + W - R) / 2}" y="${H - 2}" text-anchor="middle">window (closing time, UTC)</text><text x="12" y="${T + PLOT / 2}" transform="rotate(-90 12 ${T + PLOT / 2})" text-anchor="middle">live pass rate</text></svg>`;
}

function legendHtml(colours: ReadonlyMap<string, string>, t: DeploymentTimeline): string {
  const champions = [...colours].map(([id, c]) => `<span class="key"><i style="background:${c}"></i><code>${esc(shortId(id))}</code>${id === t.seedHarnessId ? ' (seed)' : ''}</span>`).join('');
  const kinds = (Object.keys(MARK) as EventKind[]).filter((k) => t.events.some((e) => e.kind === k)).map((k) => `<span class="key"><b style="border-color:${MARK[k].colour};border-style:${MARK[k].dash ? 'dashed' : 'solid'}"></b>${esc(MARK[k].verb)}</span>`).join('');
  return `<p class="legend">Champion: ${champions}${kinds ? ` · Markers: ${kinds}` : ''} · grey band: 95% interval</p>`;
}

const STATUS_TEXT: Record<VersionRow['status'], string> = { serving: 'champion (serving)', canary: 'canary (deciding)', retired: 'retired', 'rolled back': 'rolled back', pulled: 'pulled' };

function versionsHtml(t: DeploymentTimeline, colours: ReadonlyMap<string, string>): string {
  const rows = t.versions
    .map((v) => {
      const swatch = colours.has(v.harnessId) ? `<i class="sw" style="background:${colours.get(v.harnessId)}"></i>` : '';
      const live = v.live.windows ? `${pct(v.live.passRate)} <span class="muted">(${v.live.windows} windows, ${thousands(v.live.runs)} runs)</span>` : '—';
      const edit = v.editKey ? `<br><code class="edit">${esc(v.editKey)}</code>` : v.seed ? ' <span class="muted">seed</span>' : '';
      return `<tr data-version="${esc(v.harnessId)}"><td>${swatch}<code class="id" title="${esc(v.harnessId)}">${esc(shortId(v.harnessId))}</code>${edit}</td><td class="st-${esc(v.status.replace(' ', '-'))}">${esc(STATUS_TEXT[v.status])}</td><td class="num">${v.seed ? 0 : v.round}</td><td class="num">${v.canaryRuns ?? '—'}</td><td>${live}</td><td>${esc(v.reason)}</td></tr>`;
    })
    .join('');
  return `<div class="scroll"><table class="versions"><tr><th>harness and edit</th><th>status</th><th>round</th><th>canary runs</th><th>live pass rate as champion</th><th>reason</th></tr>${rows}</table></div>`;
}

function eventsHtml(t: DeploymentTimeline): string {
  if (!t.events.length) return '<p>No canary has gone out yet.</p>';
  const rows = t.events
    .map((e) => `<tr data-event="${e.kind}"><td>${esc(e.ts.replace('T', ' ').slice(0, 19))}</td><td class="num">${e.x.toFixed(1)}</td><td style="color:${MARK[e.kind].colour}">${esc(MARK[e.kind].verb)}${e.manual ? ' (manual)' : ''}</td><td><code title="${esc(e.harnessId)}">${esc(shortId(e.harnessId))}</code>${e.replaced ? ` <span class="muted">(from ${esc(shortId(e.replaced))})</span>` : ''}</td><td class="num">${e.round}</td><td>${esc(e.reason)}${e.evidence ? `<br><span class="muted">${esc(e.evidence)}</span>` : ''}</td></tr>`)
    .join('');
  return `<div class="scroll"><table class="events"><tr><th>time (UTC)</th><th>window axis</th><th>what</th><th>harness</th><th>round</th><th>reason and evidence</th></tr>${rows}</table></div>`;
}

function roundsHtml(t: DeploymentTimeline): string {
  if (!t.rounds.length) return '<p>No live round has run yet.</p>';
  const rows = t.rounds
    .map((r) => `<tr><td class="num">${r.round}</td><td class="num">${r.evidenceRuns ?? '—'}</td><td class="num">${pct(r.passRate)}</td><td>${r.weakEvidenceOnly ? 'weak signals only' : ''}</td><td class="num">${r.gatesPassed} / ${r.gatesRejected}</td><td>${esc(r.outcome)}</td></tr>`)
    .join('');
  const table = `<div class="scroll"><table><tr><th>round</th><th>evidence runs</th><th>their pass rate</th><th>evidence</th><th>offline checks passed / rejected</th><th>outcome</th></tr>${rows}</table></div>`;
  return t.rounds.length > 30 ? `<details><summary>${t.rounds.length} rounds</summary>${table}</details>` : table;
}

function windowsHtml(t: DeploymentTimeline, colours: ReadonlyMap<string, string>): string {
  if (!t.windows.length) return '';
  const rows = t.windows
    .map((w) => `<tr><td class="num">${w.index}</td><td>${esc(utc(w.endedAt))}</td><td class="num">${thousands(w.runs)}</td><td class="num">${pct(w.passRate)}</td><td class="num">${w.low === null || w.high === null ? 'n/a' : `${pct(clip01(w.low))} – ${pct(clip01(w.high))}`}</td><td><i class="sw" style="background:${colours.get(w.harnessId) ?? '#888'}"></i><code title="${esc(w.harnessId)}">${esc(shortId(w.harnessId))}</code></td><td>${esc(Object.entries(w.bySource).map(([s, n]) => `${s} ${n}`).join(', '))}</td></tr>`)
    .join('');
  return `<details${t.windows.length <= 20 ? ' open' : ''}><summary>${t.windows.length} closed windows</summary><div class="scroll"><table><tr><th>window</th><th>closed (UTC)</th><th>runs</th><th>pass rate</th><th>95% interval</th><th>champion</th><th>outcome sources</th></tr>${rows}</table></div></details>`;
}

export function buildDeploymentReport(data: { runId: string; audit: readonly AuditRecord[] }): string {
  const t = deploymentTimeline(data.audit);
  const colours = championColours(t.windows, t.versions);
  const input = t.input;
  const window = (input.window ?? {}) as Record<string, unknown>;
  const canary = (input.canary ?? {}) as Record<string, unknown>;
  const first = t.windows.find((w) => w.passRate !== null);
  const last = [...t.windows].reverse().find((w) => w.passRate !== null);
  const c = t.counts;
  const tokens = c.evolutionTokens === null ? 'not in the audit log' : `${thousands(c.evolutionTokens)}${c.evolutionUsd ? ` ($${c.evolutionUsd.toFixed(2)})` : ''}`;
  const stamps = data.audit.map((r) => Date.parse(r.ts)).filter((x) => !Number.isNaN(x));
  const span = stamps.length ? `started ${utc(Math.min(...stamps))} UTC · ${t.stopped ? 'stopped' : 'last record'} ${utc(Math.max(...stamps))} UTC` : 'times not recorded';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HarnessX deployment ${esc(t.name)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#222;overflow-wrap:break-word}
svg{max-width:100%;height:auto}.scroll{overflow-x:auto}.num{text-align:right;font-variant-numeric:tabular-nums}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
svg text{font-size:11px;fill:#333}svg text.time{fill:#777;font-size:10px}svg text.elabel{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.lbg{fill:#fff;fill-opacity:.85}.grid{stroke:#eee}.band{fill:#999;fill-opacity:.22;stroke:none}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.muted{color:#666;font-size:12px}.kpi{display:inline-block;margin-right:28px}.kpi b{font-size:20px;display:block}code{font-size:12px}
code.id{white-space:nowrap}code.edit{word-break:break-all}.versions td:first-child{max-width:240px}.events td:nth-child(4) code{white-space:nowrap}
.legend .key{display:inline-block;margin-right:12px}.legend i,.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.legend b{display:inline-block;width:0;height:12px;border-left-width:2px;margin-right:4px;vertical-align:middle}
.st-rolled-back,.st-pulled{color:#b03030}.st-serving{color:#2a7d2a;font-weight:600}.st-canary{color:#a86b00}
</style></head><body>
<h1>HarnessX deployment <code>${esc(t.name)}</code></h1>
<p>${esc(span)} · <a href="${esc(webUiUrl(data.runId))}">open the deployment in the Temporal Web UI</a></p>
<p>Suite <b>${esc(input.benchmark ?? '?')}</b>, task model <b>${esc(input.model ?? '?')}</b>${String(input.model ?? '').startsWith('sim:') ? ' (a simulator, not an LLM)' : ''}, meta-agent <b>${esc(input.metaAgent ?? '?')}</b>; a window every ${esc(window.runs ?? '?')} runs${window.hours !== undefined ? ` or ${esc(window.hours)} h` : ''}, canary share ${typeof canary.share === 'number' ? `${Math.round(100 * canary.share)}%` : '?'}${input.approval === 'human' ? ', a person approves each canary' : ''}. ${t.stopped ? 'Stopped.' : 'Running (or stopped without its final record).'} Serving <code>${esc(t.champion ?? '?')}</code>${t.openCanary ? `, canary <code>${esc(t.openCanary)}</code> deciding` : ''}.</p>
<div><span class="kpi">live pass rate, first → last window<b>${pct(first?.passRate)} → ${pct(last?.passRate)}</b></span><span class="kpi">reports${c.reportsFromFinal ? '' : ' (closed windows)'}<b>${thousands(c.reports)}</b></span><span class="kpi">promotions / rollbacks<b data-count="promotions">${c.promotions} / <span data-count="rollbacks">${c.rollbacks}</span></b></span><span class="kpi">live rounds<b data-count="rounds">${c.rounds}</b></span><span class="kpi">evolution tokens<b data-count="tokens">${esc(tokens)}</b></span></div>
<h2>Live pass rate per window</h2>${livePassRateChart(t.windows, t.events, colours)}
${legendHtml(colours, t)}
<p>Each point is one closed window: its runs' pass rate, each run weighted by how far its outcome is trusted (verifier, feedback, judge, execution signals), with a Wilson 95% interval at the effective sample size (grey band, clipped to 0–100%). A window's colour is the champion it ran under; during a canary the window mixes the champion's runs with the canary's share. Vertical lines: a canary going out, its promotion, its rollback or pull, and an operator's rollback, placed by time within the windows; hover for the evidence.</p>
<h2>Versions</h2>${versionsHtml(t, colours)}
<p class="muted">Canary runs: the canary's sample when the sequential test decided. Live pass rate as champion: over the windows that closed with it as champion (runs-weighted). ${c.pulls ? `${c.pulls} of the rollbacks were pulls (before the sample was complete, or by an operator).` : ''}${c.lateFeedback ? ` ${c.lateFeedback} feedback reports came after their window closed (counted, not applied).` : ''}</p>
<h2>Canaries, promotions and rollbacks</h2>${eventsHtml(t)}
<h2>Live rounds</h2>${roundsHtml(t)}
<h2>Windows</h2>${windowsHtml(t, colours) || '<p>No window has closed yet.</p>'}
</body></html>
`;
}

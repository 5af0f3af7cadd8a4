/** Tiny SVG chart helpers: self-contained output, no scripts, no external assets. */

export const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface Series {
  name: string;
  colour: string;
  points: Array<{ x: number; y: number | null }>;
}

export function lineChart(id: string, series: Series[], opts: { xLabel: string; yLabel: string; yMax?: number; width?: number; height?: number; percent?: boolean; markers?: Array<{ x: number; label: string; colour: string }> }): string {
  const W = opts.width ?? 760, H = opts.height ?? 280, L = 48, R = 150, T = 14, B = 36;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xMin = Math.min(...xs, 0), xMax = Math.max(...xs, 1);
  const yMax = opts.yMax ?? Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p.y ?? 0)));
  const px = (x: number) => L + ((x - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const py = (y: number) => T + (1 - y / yMax) * (H - T - B);
  const tick = (v: number) => (opts.percent ? `${Math.round(100 * v)}%` : String(+v.toFixed(2)));
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => `<line x1="${L}" x2="${W - R}" y1="${py(f * yMax)}" y2="${py(f * yMax)}" class="grid"/><text x="${L - 6}" y="${py(f * yMax) + 4}" text-anchor="end">${esc(tick(f * yMax))}</text>`).join('');
  // Ship/rollback markers: a dashed line at the round, the edit's name in its tooltip and a short tag.
  const marks = (opts.markers ?? []).map((m, i) => `<g class="mark"><line x1="${px(m.x)}" x2="${px(m.x)}" y1="${T}" y2="${H - B}" stroke="${m.colour}" stroke-dasharray="4 3"/><text x="${px(m.x) + 3}" y="${T + 10 + (i % 3) * 12}" style="fill:${m.colour}">${esc(m.label.length > 18 ? `${m.label.slice(0, 17)}…` : m.label)}</text><title>${esc(m.label)}</title></g>`).join('');
  const lines = series
    .map((s, i) => {
      const pts = s.points.filter((p) => p.y !== null) as Array<{ x: number; y: number }>;
      const path = pts.map((p, j) => `${j ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join('');
      const dots = pts.map((p) => `<circle class="mark" cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${s.colour}"><title>${esc(s.name)} ${p.x === 0 ? 'seed' : `after round ${p.x}`}: ${(p.y * 100).toFixed(1)}%</title></circle>`).join('');
      return `<path d="${path}" stroke="${s.colour}" fill="none" stroke-width="2"/>${dots}<text x="${W - R + 8}" y="${T + 14 + i * 16}" style="fill:${s.colour}">● ${esc(s.name)}</text>`;
    })
    .join('');
  const ticks = [...new Set(xs)].map((x) => `<text x="${px(x)}" y="${H - B + 16}" text-anchor="middle">${x}</text>`).join('');
  return `<svg data-chart="${esc(id)}" viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px" role="img">${grid}${ticks}${marks}${lines}<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">${esc(opts.xLabel)}</text><text x="12" y="${T + (H - T - B) / 2}" transform="rotate(-90 12 ${T + (H - T - B) / 2})" text-anchor="middle">${esc(opts.yLabel)}</text></svg>`;
}

export function barChart(id: string, bars: Array<{ label: string; value: number; colour?: string }>, opts: { width?: number; unit?: string } = {}): string {
  const W = opts.width ?? 640, row = 22, L = 280, H = Math.max(1, bars.length) * row + 10;
  const max = Math.max(1e-9, ...bars.map((b) => b.value));
  const body = bars
    .map((b, i) => {
      const w = ((W - L - 60) * b.value) / max;
      return `<text x="${L - 8}" y="${i * row + 16}" text-anchor="end">${esc(b.label)}</text><rect class="mark" x="${L}" y="${i * row + 4}" width="${Math.max(1, w).toFixed(1)}" height="${row - 8}" fill="${b.colour ?? '#4c78a8'}"><title>${esc(b.label)}: ${b.value}</title></rect><text x="${L + w + 6}" y="${i * row + 16}">${esc(b.value)}${esc(opts.unit ?? '')}</text>`;
    })
    .join('');
  return `<svg data-chart="${esc(id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${body || '<text x="10" y="16">no data</text>'}</svg>`;
}

export function heatMap(id: string, rows: string[], cols: number[], cell: (row: string, col: number) => 'pass' | 'fail' | null): string {
  const c = 14, L = 190, T = 24;
  const W = L + cols.length * c + 10, H = T + rows.length * c + 10;
  const colours = { pass: '#54a24b', fail: '#e45756' };
  const head = cols.map((x, j) => `<text x="${L + j * c + c / 2}" y="${T - 8}" text-anchor="middle" font-size="9">${x}</text>`).join('');
  const body = rows
    .map((r, i) => {
      const cells = cols
        .map((x, j) => {
          const v = cell(r, x);
          return v ? `<rect class="mark" x="${L + j * c}" y="${T + i * c}" width="${c - 1}" height="${c - 1}" fill="${colours[v]}"><title>${esc(r)} round ${x}: ${v}</title></rect>` : '';
        })
        .join('');
      return `<text x="${L - 6}" y="${T + i * c + 10}" text-anchor="end" font-size="9">${esc(r)}</text>${cells}`;
    })
    .join('');
  return `<svg data-chart="${esc(id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${head}${body}</svg>`;
}

/** Thousands separators for numbers a person reads. */
export const thousands = (v: number) => Math.round(v).toLocaleString('en-US');

/**
 * Horizontal stacked bars (one per row, one segment per part) with the row's total at its end and a
 * legend; scales to its container's width (viewBox), so it never widens the page.
 */
export function stackedBars(id: string, rows: Array<{ label: string; parts: Record<string, number> }>, parts: Array<{ key: string; colour: string; name: string }>, opts: { format: (v: number) => string }): string {
  const W = 900, row = 26, L = 90, R = 150, T = 30;
  const H = T + Math.max(1, rows.length) * row + 10;
  const totals = rows.map((r) => parts.reduce((s, p) => s + (r.parts[p.key] ?? 0), 0));
  const max = Math.max(1e-9, ...totals);
  const scale = (W - L - R) / max;
  const legend = parts.map((p, i) => `<rect x="${L + i * 90}" y="6" width="10" height="10" fill="${p.colour}"/><text x="${L + i * 90 + 14}" y="15">${esc(p.name)}</text>`).join('');
  const body = rows
    .map((r, i) => {
      let x = L;
      const segs = parts
        .map((p) => {
          const v = r.parts[p.key] ?? 0;
          if (v <= 0) return '';
          const w = v * scale;
          const seg = `<rect class="mark" x="${x.toFixed(1)}" y="${T + i * row + 4}" width="${Math.max(0.5, w).toFixed(1)}" height="${row - 8}" fill="${p.colour}"><title>${esc(r.label)} · ${esc(p.name)}: ${esc(opts.format(v))}</title></rect>`;
          x += w;
          return seg;
        })
        .join('');
      return `<text x="${L - 8}" y="${T + i * row + 17}" text-anchor="end">${esc(r.label)}</text>${segs}<text x="${x + 6}" y="${T + i * row + 17}">${esc(opts.format(totals[i]))}</text>`;
    })
    .join('');
  return `<svg data-chart="${esc(id)}" viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px" role="img">${legend}${body || `<text x="10" y="${T + 16}">no data</text>`}</svg>`;
}

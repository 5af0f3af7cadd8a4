import { buildComparisonReport, clippedRateInterval, fewSeedsWarning, spendPerArm } from '../../report/compare-report';
import { spendByStage } from '../../report/spend-by-stage';
import { syntheticAudit } from '../helpers/synthetic-audit';
import { comparison } from '../helpers/synthetic-comparison';

describe('comparison report', () => {
  it('clips an interval to [0, 1] and has none for a single seed', () => {
    expect(clippedRateInterval({ low: -0.107, high: 1.557 })).toEqual({ low: 0, high: 1 });
    expect(clippedRateInterval({ low: 0.2, high: 0.4 })).toEqual({ low: 0.2, high: 0.4 });
    expect(clippedRateInterval({ low: null, high: null })).toBeNull();
  });

  it('warns with fewer than 3 seeds and not with 3', () => {
    expect(fewSeedsWarning(1)).toMatch(/^1 seed: intervals and p-values say almost nothing/);
    expect(fewSeedsWarning(2)).toMatch(/^2 seeds:/);
    expect(fewSeedsWarning(3)).toBeNull();
  });

  it('shows the two-seed case the issue reports (72.5% ±83.2) clipped to 0–100% with the warning', () => {
    const html = buildComparisonReport(comparison({ aegis: [0.5, 0.95], random: [0.5, 0.6] }));
    // The table cell carries the mean and the clipped interval, never −10.7% or 155.7%.
    expect(html).toMatch(/data-arm="aegis">72\.5% <span class="ci">\[0\.0%–100\.0%\]<\/span>/);
    expect(html).not.toMatch(/-10\.7%|155\.7%/);
    expect(html).toContain('class="warning"');
    expect(html).toContain('2 seeds: intervals and p-values say almost nothing');
    // Every seed's point, with its number, is drawn.
    expect(html).toContain('aegis · s-1: 50.0%');
    expect(html).toContain('aegis · s-2: 95.0%');
    // The interval chart's bar runs from 0% to 100% of the axis (x from 150 to 860), not past it.
    const bar = html.match(/<line class="mark" x1="([\d.]+)" x2="([\d.]+)"[^>]*><title>aegis: 95% interval/);
    expect(bar).not.toBeNull();
    expect([Number(bar![1]), Number(bar![2])]).toEqual([150, 860]);
  });

  it('has no warning with 3 seeds, and a narrow interval stays as measured', () => {
    const html = buildComparisonReport(comparison({ aegis: [0.7, 0.75, 0.8], random: [0.5, 0.55, 0.6] }));
    expect(html).not.toContain('class="warning"');
    expect(html).not.toContain('say almost nothing');
    // 75% ± t(2)·0.05/√3 = 75% ± 12.4: inside [0, 100], unclipped.
    expect(html).toMatch(/data-arm="aegis">75\.0% <span class="ci">\[62\.6%–87\.4%\]<\/span>/);
    // AEGIS − random: +20 points on every seed.
    expect(html).toContain('+20.0 pts · p 0.000 *');
  });

  it('is self-contained: no scripts, no external resources, only links to the runs', () => {
    const html = buildComparisonReport(comparison({ aegis: [0.5, 0.95], random: [0.5, 0.6] }));
    expect(html).not.toMatch(/<script|<link |src=|@import|url\(/i);
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    expect(hrefs.length).toBe(4);
    for (const h of hrefs) expect(h).toMatch(/^http:\/\/localhost:8233\/namespaces\/default\/workflows\/compare-/);
  });

  it('draws tokens-to-target curves from the seed harness with each seed target', () => {
    const html = buildComparisonReport(comparison({ aegis: [0.5, 0.95], random: [0.5, 0.6] }));
    expect(html).toContain('data-chart="tokens-to-target"');
    expect(html).toContain('target for s-1: 70.0%');
    expect(html).toContain('aegis · s-2: 95.0% after 385,000 tokens');
    expect(html).toContain('aegis · s-2: 50.0% after 0 tokens');
    // The per-run table names which runs reached the target and with how many tokens.
    expect(html).toMatch(/<td>aegis<\/td><td>s-2<\/td><td class="num">95\.0%<\/td><td class="num">95\.0%<\/td><td class="num">385,000<\/td><td class="num">385,000<\/td>/);
  });

  it('stacks spend by stage per arm as the mean over its runs, and names runs without an audit log', () => {
    const data = comparison({ aegis: [0.5, 0.95], random: [0.5, 0.6] });
    const noLog = data.rows.map((r) => (r.evolver === 'random' && r.seed === 's-1' ? { ...r, spend: null } : r));
    const { bars, missing } = spendPerArm(data.arms, noLog);
    expect(bars.map((b) => b.label)).toEqual(['aegis', 'random']);
    const total = (p: Record<string, number>) => Object.entries(p).filter(([k]) => k !== 'measurement').reduce((s, [, v]) => s + v, 0);
    // Every run has the same log here, so the mean is one log's evolution spend (the summary's).
    expect(total(bars[0].parts)).toBe(spendByStage(syntheticAudit()).evolutionTokens);
    expect(missing).toEqual(['random (1 of 2)']);
    const html = buildComparisonReport({ ...data, rows: noLog });
    expect(html).toContain('No audit log for: random (1 of 2).');
    expect(html).toContain('data-chart="spend-by-stage"');
  });
});

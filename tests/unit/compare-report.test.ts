import { aggregateArms } from '../../cli/commands/compare';
import { buildComparisonReport, clippedRateInterval, ComparisonReportData, ComparisonRow, fewSeedsWarning, spendPerArm } from '../../report/compare-report';
import { spendByStage } from '../../report/spend-by-stage';
import { syntheticAudit } from '../helpers/synthetic-audit';

/** A comparison of static, aegis and random over the given seeds, with test pass rates per seed. */
function comparison(tests: Record<'aegis' | 'random', number[]>, seedTest = 0.5): ComparisonReportData {
  const seeds = tests.aegis.map((_, i) => `s-${i + 1}`);
  const spend = spendByStage(syntheticAudit());
  const row = (evolver: string, seed: string, test: number): ComparisonRow & { rounds: number; shipped: number; rejected: number; costUsd: number; measurementTokens: number; overshootTokens: number; reused: boolean } => ({
    evolver,
    seed,
    workflowId: evolver === 'static' ? null : `compare-${evolver}-${seed}`,
    testPassRate: test,
    trainPassRate: test,
    tokens: evolver === 'static' ? 0 : 385_000,
    seedTestPassRate: seedTest,
    heldOut: evolver === 'static' ? [] : [{ round: 1, evolutionTokens: 200_000, test: (seedTest + test) / 2 }, { round: 2, evolutionTokens: 385_000, test }],
    tokensToTarget: test >= seedTest + 0.2 ? 385_000 : null,
    spend: evolver === 'static' ? null : spend,
    rounds: 2,
    shipped: 1,
    rejected: 1,
    costUsd: 0,
    measurementTokens: 0,
    overshootTokens: 0,
    reused: false,
  });
  const rows = seeds.flatMap((seed, i) => [row('static', seed, seedTest), row('aegis', seed, tests.aegis[i]), row('random', seed, tests.random[i])]);
  return {
    benchmark: 'gsm8k',
    model: 'sim:small',
    metaAgent: 'rules',
    k: 1,
    seeds,
    rounds: 2,
    maxTokens: 1_000_000,
    targetGainPoints: 20,
    trainTasks: 40,
    testTasks: 20,
    rows,
    arms: aggregateArms(rows, ['static', 'aegis', 'random']),
    runUrl: (id) => `http://localhost:8233/namespaces/default/workflows/${id}`,
  };
}

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
    expect(html).toContain('+20.0 points (p = 0.000, significant)');
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

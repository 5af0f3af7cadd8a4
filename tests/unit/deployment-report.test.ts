import { buildDeploymentReport, livePassRateChart, markerLabel } from '../../report/deployment-report';
import { deploymentTimeline, eventPosition, isDeploymentAudit, LiveWindow } from '../../report/deployment-timeline';
import { syntheticAudit } from '../helpers/synthetic-audit';
import { A, B, C, ROLLBACK_REASON, SEED, syntheticDeploymentAudit, T0 } from '../helpers/synthetic-deployment-audit';

const window = (index: number, extra: Partial<LiveWindow> = {}): LiveWindow => ({ index, runs: 50, passRate: 0.5, low: 0.4, high: 0.6, harnessId: SEED, bySource: {}, startedAt: T0 + (index - 1) * 60_000, endedAt: T0 + index * 60_000, ...extra });

/** The y of the chart's 100% and 0% grid lines (the plot's top and bottom). */
function plotBounds(svg: string): { top: number; bottom: number } {
  const y = (label: string) => Number(svg.match(new RegExp(`<line x1="\\d+" x2="\\d+" y1="([\\d.]+)" y2="[\\d.]+" class="grid"/><text[^>]*>${label}</text>`))![1]);
  return { top: y('100%'), bottom: y('0%') };
}

describe('the deployment report: reading the audit log', () => {
  it('tells a deployment from an evolve run by its setup record', () => {
    expect(isDeploymentAudit(syntheticDeploymentAudit())).toBe(true);
    expect(isDeploymentAudit(syntheticAudit())).toBe(false);
    // Only the workflow's own flag counts: a truthy look-alike is not a deployment.
    const forged = syntheticAudit();
    forged[0].payload.deployment = 'true';
    expect(isDeploymentAudit(forged)).toBe(false);
  });

  it('reads every closed window in order with its champion, once', () => {
    const audit = syntheticDeploymentAudit();
    // A duplicated window record (a hand-merged log) counts once; order in the log does not matter.
    audit.push({ ...audit.find((r) => r.payload.live === true && r.stage === 'rollout')! });
    const t = deploymentTimeline(audit.reverse());
    expect(t.windows.map((w) => [w.index, w.harnessId, w.passRate])).toEqual([
      [1, SEED, 0.1], [2, SEED, 0.12], [3, SEED, 0.14], [4, A, 0.3], [5, A, 0.45], [6, A, 0.47], [7, A, 0.48], [8, SEED, 0.11],
    ]);
  });

  it('places each event by its time within the windows, and names every version with its status and reason', () => {
    const t = deploymentTimeline(syntheticDeploymentAudit());
    expect(t.events.map((e) => [e.kind, e.harnessId, e.manual, +e.x.toFixed(3)])).toEqual([
      ['canary', A, false, 2.167],
      ['promoted', A, false, 3.333],
      ['canary', B, false, 5.167],
      ['rolled_back', B, false, 5.667],
      ['canary', C, true, 6.167],
      // The operator's rollback while C was out withdraws C; the champion stays A.
      ['pulled', C, true, 6.333],
      // The next one puts the seed back in place of A.
      ['manual_rollback', SEED, true, 7.167],
    ]);
    const rolledBack = t.events.find((e) => e.kind === 'rolled_back')!;
    expect(rolledBack.reason).toBe(ROLLBACK_REASON);
    expect(rolledBack.canaryRuns).toBe(40);
    expect(rolledBack.evidence).toBe('canary 5.0% of 40 runs vs champion 45.0% of 160 runs; difference −40.0 points (−50.0 … −30.0)');
    expect(t.events[0].evidence).toBe('offline check: champion 4 → candidate 9 of 30 tasks (20 replayed live, 5 regression, 5 held out)');
    expect(t.events[6].replaced).toBe(A);

    const v = Object.fromEntries(t.versions.map((x) => [x.harnessId, x]));
    expect(Object.keys(v)).toEqual([SEED, A, B, C]);
    expect(v[SEED]).toMatchObject({ seed: true, status: 'serving' });
    expect(v[A]).toMatchObject({ status: 'rolled back', round: 1, parentId: SEED, editKey: 'insert:format_repair@after_model', canaryRuns: 40 });
    expect(v[A].reason).toMatch(/promoted: canary 40\.0% vs champion 14\.0%.*rolled back by an operator: users complain about tone$/);
    expect(v[B]).toMatchObject({ status: 'rolled back', round: 2, parentId: A, canaryRuns: 40 });
    expect(v[B].reason).toContain(ROLLBACK_REASON);
    expect(v[B].reason).toContain('the round rested on weak signals only');
    expect(v[C]).toMatchObject({ status: 'pulled', canaryRuns: null });
    expect(v[C].reason).toBe("an operator's canary: try the new prompt; no offline check (an operator chose it) → pulled by an operator: tickets reopened");
    // Live pass rate as champion: A served windows 4–7 (50 runs each).
    expect(v[A].live).toEqual({ passRate: (0.3 + 0.45 + 0.47 + 0.48) / 4, windows: 4, runs: 200 });
    expect(v[B].live).toEqual({ passRate: null, windows: 0, runs: 0 });
    expect(t.champion).toBe(SEED);
    expect(t.openCanary).toBeNull();
  });

  it('counts reports, promotions, rollbacks (pulls and manual ones too) and rounds; evolution tokens only when recorded', () => {
    const t = deploymentTimeline(syntheticDeploymentAudit());
    expect(t.counts).toMatchObject({ reports: 412, reportsFromFinal: true, promotions: 1, rollbacks: 3, pulls: 1, rounds: 3, evolutionTokens: null });
    expect(t.rounds).toEqual([
      { round: 1, evidenceRuns: 50, passRate: 0.12, weakEvidenceOnly: false, gatesPassed: 1, gatesRejected: 0, outcome: 'canary hx-aaaa1111' },
      { round: 2, evidenceRuns: 50, passRate: 0.45, weakEvidenceOnly: true, gatesPassed: 1, gatesRejected: 1, outcome: 'canary hx-bbbb1111' },
      { round: 3, evidenceRuns: null, passRate: null, weakEvidenceOnly: false, gatesPassed: 0, gatesRejected: 0, outcome: 'no change: nothing actionable in the digest' },
    ]);
    // Without the final record (still running): reports are the closed windows' runs, rounds those seen.
    const running = deploymentTimeline(syntheticDeploymentAudit().filter((r) => r.stage !== 'final'));
    expect(running.counts).toMatchObject({ reports: 400, reportsFromFinal: false, rounds: 3 });
    expect(running.stopped).toBe(false);
    const withSpend = syntheticDeploymentAudit();
    withSpend[withSpend.length - 1].payload.spend = { total: { tokens: 1_234_567, usd: 0 } };
    expect(deploymentTimeline(withSpend).counts.evolutionTokens).toBe(1_234_567);
  });

  it('positions a moment on the windows axis: inside a window in proportion, before the first, after the last, and by log order without times', () => {
    const ws = [window(1), window(2), window(3)];
    expect(eventPosition(T0 + 90_000, ws, 0)).toBeCloseTo(1.5);
    expect(eventPosition(T0 + 120_000, ws, 0)).toBe(2);
    expect(eventPosition(T0 - 5_000, ws, 0)).toBe(0);
    expect(eventPosition(T0 + 500_000, ws, 3)).toBe(3.5);
    const untimed = ws.map((w) => ({ ...w, startedAt: null, endedAt: null }));
    expect(eventPosition(null, untimed, 2)).toBe(2.5);
    expect(eventPosition(T0 + 90_000, untimed, 0)).toBe(0);
  });
});

describe('the deployment report: the page', () => {
  const html = buildDeploymentReport({ runId: 'deploy-support-prod', audit: syntheticDeploymentAudit() });

  it('is one self-contained file: no script, no external asset, the Web UI link only', () => {
    expect(html).not.toMatch(/<script|<link|<img|src=/i);
    expect(html.match(/https?:\/\/[^"'\s<]+/g)).toEqual(['http://localhost:8233/namespaces/default/workflows/deploy-support-prod']);
  });

  it('draws one point per window with its pass rate, interval, runs and closing time, coloured by its champion', () => {
    const points = [...html.matchAll(/<circle class="pt" data-window="(\d+)"[^>]*fill="([^"]+)"><title>([^<]*)<\/title>/g)];
    expect(points.map((p) => Number(p[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(points[1][3]).toBe(`window 2: 12.0% of 50 runs (95% 2.0% – 24.0%) · champion ${SEED} · closed 2026-12-07 02:02:00 UTC · outcomes: verifier 40, execution 10`);
    const fill = (i: number) => points[i][2];
    // Seed windows share a colour, A's windows another; the seed's colour comes back after the rollback to it.
    expect(new Set([fill(0), fill(1), fill(2), fill(7)]).size).toBe(1);
    expect(new Set([fill(3), fill(4), fill(5), fill(6)]).size).toBe(1);
    expect(fill(3)).not.toBe(fill(0));
    expect(html).toContain('live pass rate, first → last window<b>10.0% → 11.0%</b>');
  });

  it('clips the interval band to 0–100%', () => {
    const svg = html.match(/<svg data-chart="live-pass-rate"[\s\S]*?<\/svg>/)![0];
    const { top, bottom } = plotBounds(svg);
    const ys = [...svg.matchAll(/<polygon class="band" points="([^"]+)"/g)].flatMap((m) => m[1].split(' ').map((p) => Number(p.split(',')[1])));
    expect(ys.length).toBe(16);
    for (const y of ys) {
      expect(y).toBeGreaterThanOrEqual(top);
      expect(y).toBeLessThanOrEqual(bottom);
    }
    // Window 5's interval (−10% … 120%) reaches exactly both edges, no further.
    expect(ys).toContain(top);
    expect(ys).toContain(bottom);
    expect(html).toContain('0.0% – 100.0%');
    // An interval far outside 0–1 on a chart of two windows: the band still spans exactly the plot.
    const unclipped = livePassRateChart([window(1, { low: -0.5, high: 1.5 }), window(2)], [], new Map());
    const b = plotBounds(unclipped);
    const uy = [...unclipped.matchAll(/points="([^"]+)"/g)].flatMap((m) => m[1].split(' ').map((p) => Number(p.split(',')[1])));
    expect(Math.min(...uy)).toBe(b.top);
    expect(Math.max(...uy)).toBe(b.bottom);
  });

  it('marks canary starts, promotions and rollbacks with the short harness id; a rollback marker names its reason', () => {
    const marks = [...html.matchAll(/<g class="event" data-event="([a-z_]+)" data-harness="([^"]+)">[\s\S]*?<text[^>]*>([^<]*)<\/text><title>([^<]*)<\/title><\/g>/g)].map((m) => ({ kind: m[1], harness: m[2], label: m[3], title: m[4] }));
    expect(marks.map((m) => [m.kind, m.harness])).toEqual([['canary', A], ['promoted', A], ['canary', B], ['rolled_back', B], ['canary', C], ['pulled', C], ['manual_rollback', SEED]]);
    expect(marks[0].label).toBe('canary hx-aaaa1111');
    expect(marks[1].label).toBe('promoted hx-aaaa1111');
    const rollback = marks[3];
    expect(rollback.label.startsWith('rolled back hx-bbbb1111: canary 5.0% vs champion 45.0%')).toBe(true);
    // The full reason and its evidence are the marker's tooltip (the label may be cut to fit).
    expect(rollback.title).toContain(`rolled back hx-bbbb1111: ${ROLLBACK_REASON.replace(/&/g, '&amp;')}`);
    expect(rollback.title).toContain('canary 5.0% of 40 runs vs champion 45.0% of 160 runs');
    expect(marks[5].label).toBe('pulled hx-cccc1111 (manual): tickets reopened');
    expect(marks[6].label).toBe('rollback to hx-5eed0000 (manual): users complain about tone');
    // A promotion never reads as a rollback, nor a canary start as a decision.
    expect(markerLabel({ ...deploymentTimeline(syntheticDeploymentAudit()).events[1] })).not.toMatch(/roll/);
  });

  it('puts labels of events close together on different rows, inside the chart', () => {
    const ev = (x: number) => ({ kind: 'rolled_back' as const, harnessId: B, replaced: null, round: 1, manual: false, reason: ROLLBACK_REASON, ts: new Date(T0).toISOString(), x, evidence: '', editKey: null, canaryRuns: 40 });
    const svg = livePassRateChart([window(1), window(2), window(3)], [ev(1), ev(1.02), ev(2.98)], new Map());
    const texts = [...svg.matchAll(/<g class="event"[^>]*>(?:<rect[^>]*\/>)?<text class="elabel" x="([\d.]+)" y="([\d.]+)" text-anchor="(start|end)"[^>]*>([^<]*)<\/text>/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), anchor: m[3], text: m[4] }));
    expect(texts).toHaveLength(3);
    expect(new Set(texts.slice(0, 2).map((t) => t.y)).size).toBe(2);
    for (const t of texts) {
      const width = t.text.length * 6.2;
      const [l, r] = t.anchor === 'start' ? [t.x, t.x + width] : [t.x - width, t.x];
      expect(l).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThanOrEqual(900);
    }
    // The one near the right edge reads leftwards.
    expect(texts[2].anchor).toBe('end');
  });

  it('lists the versions with status, round, canary runs and reason, and the counts', () => {
    const row = (id: string) => html.match(new RegExp(`<tr data-version="${id}">([\\s\\S]*?)</tr>`))![1];
    expect(row(SEED)).toContain('champion (serving)');
    expect(row(B)).toContain('rolled back</td><td class="num">2</td><td class="num">40</td>');
    expect(row(B)).toContain(ROLLBACK_REASON);
    expect(row(C)).toContain('pulled');
    expect(html).toContain('<b data-count="promotions">1 / <span data-count="rollbacks">3</span></b>');
    expect(html).toContain('<b data-count="rounds">3</b>');
    expect(html).toContain('<b data-count="tokens">not in the audit log</b>');
  });

  it('says so when no window has closed yet, and escapes what the log carries', () => {
    const audit = syntheticDeploymentAudit().slice(0, 1);
    audit[0].payload.input = { name: '<b>x</b>', benchmark: 'blocksworld' };
    const page = buildDeploymentReport({ runId: 'deploy-x', audit });
    expect(page).toContain('No window has closed yet');
    expect(page).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(page).not.toContain('<b>x</b>');
  });
});

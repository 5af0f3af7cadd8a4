import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { parseHarnessConfig } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { buildReport } from '../../report/build-report';
import { buildComparisonReport } from '../../report/compare-report';
import { buildDeploymentReport } from '../../report/deployment-report';
import { syntheticAudit } from '../helpers/synthetic-audit';
import { comparison } from '../helpers/synthetic-comparison';
import { syntheticDeploymentAudit } from '../helpers/synthetic-deployment-audit';
import { launchBrowser } from './browser';

jest.setTimeout(120_000);

const ARTEFACTS = join(__dirname, '../../test-artifacts');
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

it.each([1400, 800])('the run report at %i px: no horizontal overflow, no clipped label, totals as the summary', async (width) => {
  const audit = syntheticAudit();
  // A shipped prompt edit with its diff, and tasks with long goals: neither may widen the page.
  audit.find((r) => r.stage === 'ship')!.payload.from = 'hx-seed';
  const prompted = (template: string) => parseHarnessConfig({ ...seedHarness(), hooks: { ...seedHarness().hooks, task_start: [{ id: 'system_prompt', type: 'system_prompt', params: { template } }] } });
  const long = 'Search with the fewest words that name the product, open the best match, choose every option the instruction asks for and buy it. '.repeat(4);
  const goal = (i: number) => `i need a long sleeve button-down shirt in navy blue, size large, machine washable, number ${i}, and price lower than 40.00 dollars`;
  const tasks = (round: number) => Array.from({ length: 12 }, (_, i) => ({ taskId: `webshop/10759687${i}-8abd4a61`, passed: (i + round) % 3 === 0, successes: (i + round) % 3 === 0 ? 2 : 0, attempts: 2, category: (i + round) % 3 === 0 ? null : ('loop' as const), categoryCounts: {}, implicated: [], evidence: ['attempt 0: step 4: click[Buy Now] returned to an earlier state'], goal: goal(i), history: [] }));
  const html = buildReport({
    runId: 'evolve-webshop-demo',
    audit,
    digests: new Map([1, 2].map((round) => [round, { round, harnessId: 'hx', tasks: tasks(round), actionability: 1, traceTokens: 0, digestTokens: 0 }])),
    shippedCandidates: new Map(),
    harnesses: new Map([
      ['hx-seed', prompted(long)],
      ['hx-r1', prompted(long.replace('fewest', 'fewest distinctive'))],
    ]),
  });
  mkdirSync(ARTEFACTS, { recursive: true });
  const file = join(ARTEFACTS, `report-${width}.html`);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  await page.goto(`file://${file}`);
  // Open every manifest: an opened one must not widen the page either.
  for (const d of await page.$$('details')) await d.evaluate((el) => el.setAttribute('open', ''));
  await page.screenshot({ path: join(ARTEFACTS, `report-${width}.png`), fullPage: true });
  expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
  // Every chart label lies inside its chart.
  const clipped = await page.evaluate<string[]>(`[...document.querySelectorAll('svg text')].filter((t) => {
      const svg = t.ownerSVGElement.getBoundingClientRect();
      const r = t.getBoundingClientRect();
      return r.width > 0 && (r.left < svg.left - 1 || r.right > svg.right + 1 || r.top < svg.top - 1 || r.bottom > svg.bottom + 1);
    }).map((t) => t.textContent)`);
  expect(clipped).toEqual([]);
  const final = audit.find((r) => r.stage === 'final')!.payload;
  expect(await page.textContent('[data-total="evolution"]')).toBe(Number(final.tokens).toLocaleString('en-US'));
  expect(await page.textContent('[data-total="measurement"]')).toBe(Number(final.measurementTokens).toLocaleString('en-US'));
  await page.close();
});

it.each([1400, 800])('the comparison report at %i px: no horizontal overflow, no clipped label, the two-seed warning', async (width) => {
  const html = buildComparisonReport(comparison({ aegis: [0.5, 0.95], random: [0.5, 0.6] }));
  mkdirSync(ARTEFACTS, { recursive: true });
  const file = join(ARTEFACTS, `compare-report-${width}.html`);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  await page.goto(`file://${file}`);
  await page.screenshot({ path: join(ARTEFACTS, `compare-report-${width}.png`), fullPage: true });
  expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
  const clipped = await page.evaluate<string[]>(`[...document.querySelectorAll('svg text')].filter((t) => {
      const svg = t.ownerSVGElement.getBoundingClientRect();
      const r = t.getBoundingClientRect();
      return r.width > 0 && (r.left < svg.left - 1 || r.right > svg.right + 1 || r.top < svg.top - 1 || r.bottom > svg.bottom + 1);
    }).map((t) => t.textContent)`);
  expect(clipped).toEqual([]);
  expect(await page.isVisible('.warning')).toBe(true);
  await page.close();
});

it.each([1400, 800])('the deployment report at %i px: no horizontal overflow, no clipped or overlapping marker label, every window drawn', async (width) => {
  const html = buildDeploymentReport({ runId: 'deploy-support-prod', audit: syntheticDeploymentAudit() });
  mkdirSync(ARTEFACTS, { recursive: true });
  const file = join(ARTEFACTS, `deployment-report-${width}.html`);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  await page.goto(`file://${file}`);
  await page.screenshot({ path: join(ARTEFACTS, `deployment-report-${width}.png`), fullPage: true });
  expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
  const clipped = await page.evaluate<string[]>(`[...document.querySelectorAll('svg text')].filter((t) => {
      const svg = t.ownerSVGElement.getBoundingClientRect();
      const r = t.getBoundingClientRect();
      return r.width > 0 && (r.left < svg.left - 1 || r.right > svg.right + 1 || r.top < svg.top - 1 || r.bottom > svg.bottom + 1);
    }).map((t) => t.textContent)`);
  expect(clipped).toEqual([]);
  // Marker labels as rendered (real font widths): no two overlap.
  const overlaps = await page.evaluate<string[]>(`(() => {
      const boxes = [...document.querySelectorAll('g.event text')].map((t) => ({ text: t.textContent, r: t.getBoundingClientRect() }));
      const out = [];
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].r, b = boxes[j].r;
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) out.push(boxes[i].text + ' / ' + boxes[j].text);
      }
      return out;
    })()`);
  expect(overlaps).toEqual([]);
  expect(await page.locator('circle.pt').count()).toBe(8);
  expect(await page.locator('g.event[data-event="rolled_back"] text').textContent()).toContain('rolled back hx-bbbb1111: canary 5.0%');
  await page.close();
});

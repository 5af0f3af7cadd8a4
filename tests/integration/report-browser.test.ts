import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildReport } from '../../report/build-report';
import { buildComparisonReport } from '../../report/compare-report';
import { syntheticAudit } from '../helpers/synthetic-audit';
import { comparison } from '../helpers/synthetic-comparison';
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
  const html = buildReport({ runId: 'evolve-webshop-demo', audit, digests: new Map(), shippedCandidates: new Map() });
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

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { evolveSummary } from '../../aegis/run-labels';
import { evolveInputSchema } from '../../aegis/run-input';
import { launchBrowser } from './browser';
import { startDevServer, startWorker, tempDataDir } from './temporal-env';
import { freePort, startFromUi as startFromUiForm } from './web-ui-form';

jest.setTimeout(240_000);

const TASK_QUEUE = 'it-web-ui';
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let browser: Browser;
let uiPort: number;

beforeAll(async () => {
  uiPort = await freePort();
  env = await startDevServer([], { uiPort });
  worker = await startWorker(env, tempDataDir(), TASK_QUEUE);
  running = worker.run();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  worker?.shutdown();
  await running;
  await env?.teardown();
});

/** Fills the Start Workflow form (tests/integration/web-ui-form.ts) on this file's server and queue. */
const startFromUi = (page: Page, workflowId: string, input: string) => startFromUiForm(page, { uiPort, taskQueue: TASK_QUEUE, client: env.client }, workflowId, input);

async function workflowPageText(page: Page, workflowId: string, expected: RegExp): Promise<string> {
  const deadline = Date.now() + 90_000;
  let text = '';
  const { runId } = await env.client.workflow.getHandle(workflowId).describe();
  while (Date.now() < deadline) {
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${workflowId}/${runId}/history`, { waitUntil: 'networkidle' });
    text = await page.innerText('body');
    if (expected.test(text)) return text;
    await page.waitForTimeout(1000);
  }
  throw new Error(`the workflow page never showed ${expected}; it showed:\n${text.slice(0, 2000)}`);
}

it('starts a run from the Web UI Start Workflow form and sees it complete', async () => {
  const page = await browser.newPage();
  await startFromUi(page, 'ui-run', JSON.stringify({ benchmark: 'blocksworld', model: 'sim:small', rounds: 1, batchSize: 8, validationSize: 4, seed: 'ui' }));
  const result = await env.client.workflow.getHandle('ui-run').result();
  expect(result.rounds).toBe(1);
  expect(await workflowPageText(page, 'ui-run', /Completed/)).toMatch(/evolveHarness/);
  await page.close();
});

it('shows the input validation error in the Web UI when the form input is invalid', async () => {
  const page = await browser.newPage();
  await startFromUi(page, 'ui-invalid', JSON.stringify({ benchmark: 'blocksworld', rounds: -3 }));
  await expect(env.client.workflow.getHandle('ui-invalid').result()).rejects.toThrow();
  const text = await workflowPageText(page, 'ui-invalid', /invalid evolveHarness input/);
  expect(text).toMatch(/Failed/);
  expect(text).toMatch(/rounds/);
  await page.close();
});

/** Screenshots a person can look at after the run (CI keeps test-artifacts/). */
export const ARTEFACTS = join(__dirname, '../../test-artifacts');

it("shows a run's static summary, current details and labelled activities on its Web UI page", async () => {
  const input = evolveInputSchema().parse({ benchmark: 'blocksworld', model: 'sim:small', rounds: 1, batchSize: 8, validationSize: 4, seed: 'ui-meta' });
  const summary = evolveSummary(input);
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: TASK_QUEUE, workflowId: 'ui-metadata', args: [input], staticSummary: summary });
  await handle.result();
  // What the UI reads: the summary as the server stores it, and the labels on the history's activities.
  const described = await handle.describe();
  expect(await described.staticSummary()).toBe(summary);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  mkdirSync(ARTEFACTS, { recursive: true });
  await workflowPageText(page, 'ui-metadata', /Completed/).finally(() => page.screenshot({ path: join(ARTEFACTS, 'web-ui-run-page-1400.png'), fullPage: true }));
  // The User Metadata tab: the static summary, the current details the workflow kept current, and every
  // activity labelled with round, stage and what it works on ("Events with Metadata").
  await page.getByText('User Metadata', { exact: true }).click();
  // Summary and details are rendered as markdown in sandboxed frames: read every frame's text.
  const metadataText = async () => (await Promise.all(page.frames().map((f) => f.innerText('body').catch(() => '')))).join('\n');
  const deadline = Date.now() + 60_000;
  let shown = await metadataText();
  while (!(shown.includes(summary) && /Round 1 of 1 · done/.test(shown) && /round 1 · rollout · 8 tasks · pass@2/.test(shown)) && Date.now() < deadline) {
    await page.waitForTimeout(1000);
    shown = await metadataText();
  }
  await page.screenshot({ path: join(ARTEFACTS, 'web-ui-user-metadata-1400.png'), fullPage: true });
  expect(shown).toContain(summary);
  expect(shown).toMatch(/Round 1 of 1 · done/);
  expect(shown).toMatch(/round 1 · rollout · 8 tasks · pass@2/);
  expect(shown).toMatch(/round 1 · gate · r1-c\d/);
  await page.close();
});

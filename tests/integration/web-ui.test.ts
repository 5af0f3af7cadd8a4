import { createServer } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from './browser';
import { startDevServer, startWorker, tempDataDir, waitFor } from './temporal-env';

jest.setTimeout(240_000);

const TASK_QUEUE = 'it-web-ui';
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let browser: Browser;
let uiPort: number;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

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

/** Fills the Web UI's Start Workflow form the way a person does, and submits it. */
async function startFromUi(page: Page, workflowId: string, input: string): Promise<void> {
  await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/start-workflow`, { waitUntil: 'networkidle' });
  await page.fill('#workflowId', workflowId);
  await page.fill('#taskQueue', TASK_QUEUE);
  await page.fill('#workflowType', 'evolveHarness');
  await page.getByText('Task Queue is Active').waitFor();
  await page.click('.cm-content');
  await page.keyboard.insertText(input);
  // The input editor commits its value on blur, as it does when a person moves to the button.
  await page.click('h1');
  await page.waitForTimeout(300);
  await page.getByTestId('start-workflow-button').click();
  // The form submits asynchronously; the run exists once the server has accepted it.
  await waitFor(() => env.client.workflow.getHandle(workflowId).describe(), () => true, 30_000, `${workflowId} to be started from the UI`).catch(async (e) => {
    await page.screenshot({ path: `/tmp/${workflowId}-form.png` });
    throw e;
  });
}

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

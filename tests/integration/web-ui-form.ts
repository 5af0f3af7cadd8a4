import { createServer } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Page } from 'playwright-core';
import { waitFor } from './temporal-env';

/** A port free on this machine now, for the dev server's Web UI. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Where the form is and which queue it starts runs on. */
export interface WebUiTarget {
  uiPort: number;
  taskQueue: string;
  /** A client of the same server, to see the run once the form has been accepted. */
  client: Client;
}

/**
 * Opens the Start Workflow page until its form shows. The form renders only once the UI has read the
 * server's settings; on a loaded CI machine that read can fail once (CI on c57768b waited 30 s for a form
 * that never came), and a person would reload — so does this, three times, with a screenshot if it never shows.
 */
async function openStartForm(page: Page, target: WebUiTarget, workflowId: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.goto(`http://127.0.0.1:${target.uiPort}/namespaces/default/workflows/start-workflow`, { waitUntil: 'networkidle' });
    try {
      await page.locator('#workflowId').waitFor({ timeout: 20_000 });
      return;
    } catch (e) {
      if (attempt === 3) {
        await page.screenshot({ path: `/tmp/${workflowId}-no-form.png`, fullPage: true });
        throw new Error(`the Start Workflow form never showed in 3 loads (screenshot /tmp/${workflowId}-no-form.png); the page said:\n${(await page.innerText('body').catch(() => '')).slice(0, 1000)}`, { cause: e });
      }
    }
  }
}

/** Fills the Web UI's Start Workflow form the way a person does, and submits it; resolves once the run exists. */
export async function startFromUi(page: Page, target: WebUiTarget, workflowId: string, input: string): Promise<void> {
  await openStartForm(page, target, workflowId);
  await page.fill('#workflowId', workflowId);
  await page.fill('#taskQueue', target.taskQueue);
  await page.fill('#workflowType', 'evolveHarness');
  await page.getByText('Task Queue is Active').waitFor();
  await page.click('.cm-content');
  await page.keyboard.insertText(input);
  // The input editor commits its value on blur, as it does when a person moves to the button.
  await page.click('h1');
  await page.waitForTimeout(300);
  await page.getByTestId('start-workflow-button').click();
  // The form submits asynchronously; the run exists once the server has accepted it.
  await waitFor(() => target.client.workflow.getHandle(workflowId).describe(), () => true, 30_000, `${workflowId} to be started from the UI`).catch(async (e) => {
    await page.screenshot({ path: `/tmp/${workflowId}-form.png` });
    throw e;
  });
}

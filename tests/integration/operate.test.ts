import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { loadRun } from '../../report/load-run';
import { buildReport } from '../../report/build-report';
import { ArtifactStore } from '../../store/artifact-store';
import { AesGcmCodec } from '../../workers/codec';
import { createAegisWorker } from '../../workers/aegis-worker';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { launchBrowser } from './browser';
import { useWorkerFixture, waitFor, workflowBundle } from './temporal-env';

jest.setTimeout(240_000);

const TASK_QUEUE = 'it-operate';
const fixture = useWorkerFixture(TASK_QUEUE);
const store = new ArtifactStore(fixture.dataDir);
const start = fixture.start;
const small = { benchmark: 'blocksworld', model: 'sim:small', batchSize: 12, validationSize: 6 };
const listIds = async (query: string) => {
  const ids: string[] = [];
  for await (const w of fixture.env.client.workflow.list({ query })) ids.push(w.workflowId);
  return ids;
};

it('keeps search attributes current, so runs can be filtered by benchmark, status, round and harness', async () => {
  const handle = await start({ ...small, rounds: 2, seed: 'it-sa' }, 'it-sa');
  const summary = (await handle.result()) as RunSummary;
  const ids = await waitFor(() => listIds('HarnessXBenchmark = "blocksworld" AND HarnessXStatus = "completed" AND HarnessXRound = 2'), (x) => x.includes('it-sa'), 30_000, 'visibility');
  expect(ids).toContain('it-sa');
  expect(await listIds(`HarnessXHarnessId = "${summary.harnessId}"`)).toContain('it-sa');
  expect(await listIds('HarnessXStatus = "running" AND WorkflowId = "it-sa"')).toEqual([]);
});

it('in approval mode, waits for a validated approve/reject update before shipping', async () => {
  // Two candidates must reach the reviewer in three rounds: with 6 validation tasks the gate's unseen-tasks rule
  // (tests/unit/gate-unseen-gain.test.ts) would let too few through, and this test is about the review, not the gate.
  const handle = await start({ ...small, rounds: 3, seed: 'it-approve', approval: 'human', gating: { minUnseenGain: 0 } }, 'it-approve');
  const status = () => handle.query<RunStatus>('status');
  const first = await waitFor(status, (s) => s.pendingApproval !== null, 90_000, 'a candidate awaiting approval');
  await waitFor(() => listIds('HarnessXStatus = "awaiting_approval"'), (x) => x.includes('it-approve'), 30_000, 'awaiting_approval status');
  await expect(handle.executeUpdate('decide', { args: [{ candidateId: 'r99-c9', approve: true }] })).rejects.toThrow(/Update failed|not r99-c9/);
  await handle.executeUpdate('decide', { args: [{ candidateId: first.pendingApproval!.candidateId, approve: false, reason: 'not this one' }] });
  const second = await waitFor(status, (s) => s.pendingApproval !== null && s.pendingApproval.candidateId !== first.pendingApproval!.candidateId, 90_000, 'the next candidate');
  await handle.executeUpdate('decide', { args: [{ candidateId: second.pendingApproval!.candidateId, approve: true }] });
  await handle.signal('stop');
  // A stop while a candidate waits rejects it; the run ends after the current round.
  const summary = (await handle.result()) as RunSummary;
  expect(summary.shipped).toBeGreaterThanOrEqual(1);
  const audit = await store.readAudit('it-approve');
  const approvals = audit.filter((r) => r.payload.approval);
  expect(approvals[0].payload).toEqual(expect.objectContaining({ approval: 'rejected', reason: 'not this one' }));
  expect(approvals[1].payload).toEqual(expect.objectContaining({ approval: 'approved' }));
  expect(audit.find((r) => r.stage === 'ship')!.candidateId).toBe(second.pendingApproval!.candidateId);
});

it('changes the budget of a running run through a validated update', async () => {
  const handle = await start({ ...small, rounds: 50, patience: 50, seed: 'it-budget', evaluateTest: false }, 'it-budget');
  const s = await waitFor(() => handle.query<RunStatus>('status'), (x) => x.round >= 1, 60_000, 'round 1');
  await expect(handle.executeUpdate('setBudget', { args: [{ rounds: 0 }] })).rejects.toThrow();
  await expect(handle.executeUpdate('setBudget', { args: [{ patience: 0 }] })).rejects.toThrow();
  const budget = await handle.executeUpdate('setBudget', { args: [{ rounds: s.round + 1 }] });
  expect(budget).toEqual({ rounds: s.round + 1, patience: 50 });
  const summary = (await handle.result()) as RunSummary;
  expect(summary.rounds).toBeLessThanOrEqual(s.round + 1);
  expect(summary.stopReason).toMatch(/budget of \d+ rounds/);
});

it('encrypts payloads end to end when a codec key is set: the server history holds only ciphertext', async () => {
  const codec = new AesGcmCodec('it-secret-key');
  const secretWorker = await createAegisWorker({ connection: fixture.env.nativeConnection, taskQueue: 'it-encrypted', dataDir: fixture.dataDir, workflowBundle: await workflowBundle(), dataConverter: { payloadCodecs: [codec] } });
  const client = new Client({ connection: fixture.env.connection, dataConverter: { payloadCodecs: [codec] } });
  await secretWorker.runUntil(async () => {
    const handle = await client.workflow.start('evolveHarness', { taskQueue: 'it-encrypted', workflowId: 'it-encrypted', args: [{ ...small, rounds: 1, seed: 'canary-seed-7731' }] });
    const summary = (await handle.result()) as RunSummary;
    expect(summary.rounds).toBe(1);
  });
  const raw = JSON.stringify(await fixture.env.client.workflow.getHandle('it-encrypted').fetchHistory());
  expect(raw).not.toContain(Buffer.from('canary-seed-7731').toString('base64').slice(0, 12));
  expect(raw).not.toContain('canary-seed-7731');
  expect(raw).toContain(Buffer.from('binary/encrypted').toString('base64'));
});

it('writes a report from a real run that renders in headless Chromium with every chart drawn', async () => {
  const run = await loadRun(store, 'it-sa');
  const html = buildReport(run);
  const file = join(fixture.dataDir, 'report.html');
  writeFileSync(file, html);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`file://${file}`);
    const marks = await page.$$eval('svg[data-chart]', (svgs) => Object.fromEntries(svgs.map((s) => [s.getAttribute('data-chart'), s.querySelectorAll('.mark').length])));
    expect(marks['pass-rate']).toBeGreaterThanOrEqual(4);
    expect(marks.decisions).toBeGreaterThanOrEqual(1);
    // The heat map is a table now (tasks grouped by outcome): its solved and failed cells.
    expect(await page.$$eval('[data-chart="task-heatmap"] td.cell.pass, [data-chart="task-heatmap"] td.cell.fail', (cells) => cells.length)).toBeGreaterThanOrEqual(12);
    // Tokens per round stacked by stage (at least the rollout of each of the 2 rounds), and the table's total is
    // the summary's evolution spend.
    expect(marks.tokens).toBeGreaterThanOrEqual(2);
    const finalTokens = run.audit.find((r) => r.stage === 'final')!.payload.tokens as number;
    expect(await page.$eval('[data-total="evolution"]', (e) => e.textContent)).toBe(finalTokens.toLocaleString('en-US'));
    const box = await page.locator('svg[data-chart="pass-rate"]').boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(await page.innerText('body')).toMatch(/Lineage[\s\S]*\(seed\)/);
  } finally {
    await browser.close();
  }
});

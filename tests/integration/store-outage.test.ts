import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { AuditRecord } from '../../aegis/types';
import { pendingWork } from '../../cli/progress';
import { findTemporalCli } from '../../cli/temporal-cli';
import { canonicalJson, sha256Hex } from '../../harness/canonical';
import { openStore } from '../../store/open-store';
import type { Store } from '../../store/store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { RunningVersitygw, startVersitygw } from '../helpers/versitygw';
import { startDevServer, tempDataDir, waitFor } from './temporal-env';
import { kill, killAll, spawnWorker } from './worker-process';

// A guard against hangs on a busy 2-core machine, not a timing assertion: the outage alone is 60 s.
jest.setTimeout(600_000);

const ROOT = join(__dirname, '../..');
const BUCKET = 'hx-outage';
const OUTAGE_MS = 60_000;
let gw: RunningVersitygw;
let env: TestWorkflowEnvironment;
const children: ChildProcess[] = [];

beforeAll(async () => {
  gw = await startVersitygw();
  await gw.createBucket(BUCKET);
  env = await startDevServer();
  // The uninterrupted reference: same input and workflow id (traces name their run), its own prefix and queue.
  const worker = await spawnWorker({ address: env.address, dataDir: tempDataDir(), env: workerEnv('reference', 'it-outage-ref') }, children);
  reference = (await env.client.workflow.execute('evolveHarness', { taskQueue: 'it-outage-ref', workflowId, args: [input] })) as RunSummary;
  const referenceStore = openStore({ defaultDir: tempDataDir(), env: gw.env(BUCKET, 'reference') });
  referenceAudit = await normalized(referenceStore, await referenceStore.readAudit(workflowId));
  await kill(worker);
});
afterAll(async () => {
  killAll(children);
  await env?.teardown();
  await gw?.stop();
});

/** A small evolve run on sim:small; each rollout is held 6 s (fault injection) so the store can be stopped while one runs. */
const input = { benchmark: 'blocksworld', model: 'sim:small', rounds: 2, patience: 2, batchSize: 12, validationSize: 8, seed: 'it-store-outage', evaluateTest: false };
const workflowId = 'it-outage';
let reference: RunSummary;
let referenceAudit: unknown[];
const workerEnv = (prefix: string, queue: string) => ({ ...gw.env(BUCKET, prefix), HARNESSX_TASK_QUEUE: queue, HARNESSX_FAULT_DELAY: 'rollout:6000' });

/** Keys that hold wall-clock measurements (episode and call timings), and counts over trace text that includes them. */
const TIMING_KEYS = new Set(['ts', 'latencyMs', 'durationMs', 'traceTokens', 'compression']);
function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !TIMING_KEYS.has(k)).map(([k, v]) => [k, withoutTimings(v)]));
}

/**
 * An audit log modulo timestamps: each record without its time, and each piece of evidence it points at (traces,
 * digests, outcomes) read back and compared without its timings (a trace records how long each call took).
 */
async function normalized(store: Store, records: AuditRecord[]): Promise<unknown[]> {
  return Promise.all(
    records.map(async (r) => ({
      ...(withoutTimings(r) as object),
      evidenceRefs: await Promise.all(r.evidenceRefs.map(async (ref) => sha256Hex(canonicalJson(withoutTimings(await store.get(ref)))))),
    })),
  );
}

function harnessx(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], { cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: tempDataDir() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

test('the S3 store stopped for 60 s mid-run: the run pauses, says so in its status, and completes with the result and audit log of an uninterrupted run', async () => {

  const storeEnv = gw.env(BUCKET, 'outage');
  await spawnWorker({ address: env.address, dataDir: tempDataDir(), env: workerEnv('outage', 'it-outage') }, children);
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: 'it-outage', workflowId, args: [input] });
  // The first rollout has started (its fault marker is in the bucket) and is held: stop the store under it.
  const store = openStore({ defaultDir: tempDataDir(), env: storeEnv });
  await waitFor(() => store.faultMarkers(workflowId), (m) => m.includes('rollout'), 180_000, 'the first rollout to start');
  await gw.halt();
  const stoppedAt = Date.now();
  try {
    // While the store is down the run waits, and its status says since when.
    const waiting = await waitFor(() => pendingWork(handle), (w) => w.storeWait !== null, OUTAGE_MS - 15_000, 'a pending activity to report the store wait');
    expect(waiting.storeWait!.reason).toBe('ECONNREFUSED');
    expect(Date.parse(waiting.storeWait!.since)).toBeGreaterThanOrEqual(stoppedAt - 1000);
    const status = await harnessx(['status', workflowId]);
    expect(status.stdout).toMatch(/waiting for the artifact store since \d\d:\d\d:\d\d UTC \(ECONNREFUSED\): the run goes on once it answers/);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + OUTAGE_MS - Date.now())));
    expect((await handle.describe()).status.name).toBe('RUNNING');
  } finally {
    await gw.restart();
  }
  const summary = (await handle.result()) as RunSummary;

  // The same result as the uninterrupted run, field for field (the summary's path names the bucket prefix)...
  expect({ ...summary, summaryPath: undefined }).toEqual({ ...reference, summaryPath: undefined });
  // ...and the same audit log, record for record (timestamps aside), each key once.
  const audit = await store.readAudit(workflowId);
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  expect(await normalized(store, audit)).toEqual(referenceAudit);
  // The pause was real: the rollout's activity was waiting, not failed and retried into failure.
  const failures = ((await handle.fetchHistory()).events ?? []).filter((e) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes);
  expect(failures.length).toBeLessThanOrEqual(3);
});

/** The README's "Continuing a run that failed" snippet, run as written (RUN set to this run). */
function readmeResetSnippet(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('```bash\nRUN=my-run-id\n');
  expect(start).toBeGreaterThan(0);
  const body = readme.slice(start + '```bash\n'.length, readme.indexOf('```', start + 8));
  return body.replace('RUN=my-run-id', `RUN=${workflowId}`).replace(/^npx harnessx /m, `node ${join(ROOT, 'bin/harnessx.js')} `);
}

test('a run failed by an outage longer than its budget is continued by the README\'s `temporal workflow reset` and ends as the uninterrupted run', async () => {
  // No waiting at all (HARNESSX_STORE_OUTAGE_MINUTES=0): the stopped store fails the held rollout for good, and the run.
  const queue = 'it-outage-reset';
  const worker = await spawnWorker({ address: env.address, dataDir: tempDataDir(), env: { ...workerEnv('reset', queue), HARNESSX_STORE_OUTAGE_MINUTES: '0' } }, children);
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: queue, workflowId, args: [input] });
  const store = openStore({ defaultDir: tempDataDir(), env: gw.env(BUCKET, 'reset') });
  await waitFor(() => store.faultMarkers(workflowId), (m) => m.includes('rollout'), 180_000, 'the first rollout to start');
  await gw.halt();
  let failure: Error | null = null;
  try {
    failure = await handle.result().then(() => null, (e: Error) => e);
  } finally {
    await gw.restart();
  }
  expect(String((failure as Error & { cause?: { cause?: Error } })?.cause?.cause?.message)).toMatch(/^the artifact store has been unavailable since .*HARNESSX_STORE_OUTAGE_MINUTES=0 on the worker allows longer\): cannot reach the S3 endpoint .*ECONNREFUSED/);
  await kill(worker);
  await spawnWorker({ address: env.address, dataDir: tempDataDir(), env: { ...workerEnv('reset', queue), HARNESSX_FAULT_DELAY: '' } }, children);

  const cli = process.env.HARNESSX_TEMPORAL_CLI ?? findTemporalCli()!.path;
  const reset = spawnSync('bash', ['-euo', 'pipefail', '-c', readmeResetSnippet()], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${dirname(cli)}:${process.env.PATH}`, TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: tempDataDir() },
    encoding: 'utf8',
  });
  expect({ status: reset.status, stderr: reset.stderr }).toMatchObject({ status: 0 });
  expect(reset.stdout).toMatch(/running/i);
  const summary = (await env.client.workflow.getHandle(workflowId).result()) as RunSummary;
  expect({ ...summary, summaryPath: undefined }).toEqual({ ...reference, summaryPath: undefined });
  const audit = await store.readAudit(workflowId);
  expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
  expect(await normalized(store, audit)).toEqual(referenceAudit);
});

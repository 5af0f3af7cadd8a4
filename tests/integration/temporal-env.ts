import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure, type WorkflowFailedError } from '@temporalio/client';
import { bundleWorkflowCode, Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { findTemporalCli } from '../../cli/temporal-cli';
import { searchAttributeArgs } from '../../cli/dev-server';
import { createAegisWorker } from '../../workers/aegis-worker';

let bundle: Promise<{ code: string }> | null = null;
/** The workflow bundle is built once per test file (webpack takes a few seconds). */
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') });
  return bundle;
}

let runtime = false;
/**
 * A real Temporal dev server from the project's own CLI binary (never a download), with the project's
 * search attributes registered.
 */
export async function startDevServer(extraArgs: string[] = [], options: { uiPort?: number; ip?: string } = {}): Promise<TestWorkflowEnvironment> {
  if (!runtime) {
    runtime = true;
    // Expected failures (invalid-input tests) would log at WARN; keep test output to real errors.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  }
  const cli = process.env.HARNESSX_TEMPORAL_CLI ?? findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing; globalSetup should have built it (npx harnessx install-cli)');
  const attributes = searchAttributeArgs();
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli }, extraArgs: [...attributes, ...extraArgs], ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}), ...(options.ip ? { ip: options.ip } : {}) },
  });
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'hx-it-'));
}

export async function startWorker(env: TestWorkflowEnvironment, dataDir: string, taskQueue: string): Promise<Worker> {
  return createAegisWorker({ connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue, dataDir, workflowBundle: await workflowBundle() });
}

export async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch {
      /* e.g. a query before the first workflow task completes */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${label}; last value: ${JSON.stringify(last)}`);
}

/**
 * A dev server plus an in-process worker on `taskQueue`, torn down after the file's tests. `start` starts
 * evolveHarness runs on that queue.
 */
export function useWorkerFixture(taskQueue: string, extraArgs: string[] = []) {
  const fixture = {
    env: undefined as unknown as TestWorkflowEnvironment,
    dataDir: tempDataDir(),
    start: (input: unknown, workflowId: string) => fixture.env.client.workflow.start('evolveHarness', { taskQueue, workflowId, args: [input] }),
  };
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  beforeAll(async () => {
    fixture.env = await startDevServer(extraArgs);
    worker = await startWorker(fixture.env, fixture.dataDir, taskQueue);
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await fixture.env?.teardown();
  });
  return fixture;
}

/**
 * The activity's ApplicationFailure behind a failed run, as the workflow passed it on: directly, or as the
 * cause of an ActivityFailure. Anything else is returned as it is, for the caller's assertion to reject.
 */
export function activityFailureOf(error: unknown): ApplicationFailure {
  const failure = (error as WorkflowFailedError).cause as Error & { cause?: Error };
  return (failure instanceof ApplicationFailure ? failure : failure.cause) as ApplicationFailure;
}

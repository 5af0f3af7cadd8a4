import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { deploymentInputSchema } from '../aegis/live/deployment-input';
import { LiveBenchSummary } from '../cli/deploy-bench/live-summary';
import { liveBenchDeploymentInput, playLiveWorkload } from '../cli/deploy-bench/live-workload';
import { searchAttributeArgs } from '../cli/dev-server';
import { findTemporalCli } from '../cli/temporal-cli';
import { createAegisWorker } from '../workers/aegis-worker';

/**
 * The `live` section of `npm run bench`: `deploy bench` on a dev server with an in-process worker
 * (blocksworld, sim:small, 600 runs, 8 at a time): plain over three seeds, with between-steps swaps (40 ms
 * per model call), and with a regressing candidate injected after 240 runs. The measure is the live pass rate's gain from the
 * first window to the last, against the offline AEGIS gain on the same suite and model as the reference.
 */
export interface LiveBenchRow {
  variant: string;
  summary: LiveBenchSummary;
  /** Set when the deployment did not stop within STOP_WAIT_MS of the stop signal (it was then terminated): why, as far as the server says. */
  stuck?: string;
}

/** How long a deployment may take to stop after the workload's last report (it applies its inbox, finishes a round). */
const STOP_WAIT_MS = 180_000;

export async function liveBench(options: { runs?: number; concurrency?: number } = {}): Promise<LiveBenchRow[]> {
  const runs = options.runs ?? 600;
  const concurrency = options.concurrency ?? 8;
  const cli = findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing: npx harnessx install-cli');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli }, extraArgs: searchAttributeArgs() } });
  const taskQueue = 'hx-bench-live';
  const worker = await createAegisWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    dataDir: mkdtempSync(join(tmpdir(), 'hx-bench-live-')),
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') }),
  });
  // The plain workload over three seeds: which runs a canary sees is noisy, so one seed says little.
  const variants: Array<{ variant: string; seed: string; swap: 'between-runs' | 'between-steps'; latencyMs?: number; inject?: number }> = [
    ...['harnessx', 'b', 'c'].map((seed) => ({ variant: `between runs, seed ${seed}`, seed, swap: 'between-runs' as const })),
    { variant: 'between steps (40 ms per model call)', seed: 'harnessx', swap: 'between-steps', latencyMs: 40 },
    { variant: `regressing candidate injected after ${Math.floor(runs * 0.4)} runs`, seed: 'harnessx', swap: 'between-runs', inject: Math.floor(runs * 0.4) },
  ];
  const rows: LiveBenchRow[] = [];
  try {
    await worker.runUntil(async () => {
      for (const [i, v] of variants.entries()) {
        const name = `bench-live-${i}`;
        const input = deploymentInputSchema().parse(liveBenchDeploymentInput({ name, benchmark: 'blocksworld', model: 'sim:small', seed: v.seed, swap: v.swap }));
        const handle = await env.client.workflow.start('deployHarness', { taskQueue, workflowId: `deploy-${name}`, args: [input] });
        const r = await playLiveWorkload({ client: env.client, name, benchmark: 'blocksworld', model: 'sim:small', runs, concurrency, seed: v.seed, latencyMs: v.latencyMs ?? 0, ...(v.inject ? { injectBadCandidateAfter: v.inject } : {}), agentLog: () => undefined });
        await handle.signal('stop');
        // A deployment that cannot stop (a workflow task failing on every attempt) must not hang the whole
        // bench: the row says so and the next variant runs.
        const stuck = await stopWithin(handle, STOP_WAIT_MS);
        const { status: _s, played: _p, ...summary } = r;
        rows.push({ variant: v.variant, summary, ...(stuck ? { stuck } : {}) });
      }
    });
  } finally {
    await env.teardown();
  }
  return rows;
}

/** Waits for the deployment's result; if it has not ended within `ms`, describes why (the last workflow task failure) and terminates it. */
async function stopWithin(handle: ReturnType<Client['workflow']['getHandle']>, ms: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  try {
    if ((await Promise.race([handle.result().then(() => 'ended' as const), late])) === 'ended') return null;
  } finally {
    clearTimeout(timer);
  }
  let why = `still running ${ms / 1000} s after the stop signal`;
  try {
    const history = await handle.fetchHistory();
    const failed = [...(history.events ?? [])].reverse().find((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes);
    const message = failed?.workflowTaskFailedEventAttributes?.failure?.message;
    if (failed) why += `; last workflow task ${message ? `failed: ${message.slice(0, 300)}` : 'timed out'} (event ${failed.eventId})`;
  } catch (e) {
    why += `; its history could not be read (${(e as Error).message.slice(0, 200)})`;
  }
  await handle.terminate(`bench: ${why}`).catch(() => undefined);
  return why;
}

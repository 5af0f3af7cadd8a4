/**
 * What one evaluateHarness costs besides its episodes: a one-task, one-episode evaluation, run many times on
 * one dev server and one in-process worker (as the ratio bench's Temporal side), with the medians of wall
 * time, this process's CPU (main thread, workflow thread and the SDK's native threads together) and, from
 * each run's history, the first workflow task (started → completed: the worker creating the workflow and
 * scheduling its activity), the last one, and last activity done → workflow completed. At 240 simulator
 * episodes (~1 s in-process) this fixed cost is most of what the ratio loses. Not part of npm run bench.
 * Run: node --expose-gc --require tsx/cjs bench/fixed-cost-bench.ts [runs] (default 30, after 5 warm-ups).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { getBenchmark } from '../benchmarks/registry';
import { findTemporalCli } from '../cli/temporal-cli';
import { searchAttributeArgs } from '../cli/dev-server';
import { ArtifactStore } from '../store/artifact-store';
import { createAegisWorker } from '../workers/aegis-worker';
import { evolvedHarness } from './evolved-harness';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
type Event = { eventTime?: { seconds?: unknown; nanos?: number | null } | null; [k: string]: unknown };
const at = (e: Event) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const runs = Number(process.argv[2] ?? 30);
  const taskIds = getBenchmark('blocksworld').tasks().map((t) => t.id).slice(0, 1);
  const dataDir = mkdtempSync(join(tmpdir(), 'hx-fixed-cost-'));
  const harnessId = await new ArtifactStore(dataDir).putHarness(evolvedHarness());
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: findTemporalCli()!.path }, extraArgs: searchAttributeArgs() } });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') });
  const taskQueue = `${process.env.HARNESSX_TASK_QUEUE ?? 'hx'}-fixed-cost`;
  const worker = await createAegisWorker({ connection: env.nativeConnection, taskQueue, dataDir, workflowBundle });
  const m = { wall: [] as number[], cpu: [] as number[], firstTask: [] as number[], lastTask: [] as number[], tail: [] as number[] };
  try {
    await worker.runUntil(async () => {
      for (let r = 0; r < runs + 5; r++) {
        const workflowId = `fixed-cost-${r}-${Date.now()}`;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await env.client.workflow.execute('evaluateHarness', { taskQueue, workflowId, args: [{ benchmark: 'blocksworld', harnessId, taskIds, k: 1, seed: `s${r}` }] });
        const wall = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        if (r < 5) continue;
        m.wall.push(wall);
        m.cpu.push((cpu.user + cpu.system) / 1000);
        const events = ((await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []) as Event[];
        const times = (name: string) => events.filter((e) => e[name]).map(at);
        const started = times('workflowTaskStartedEventAttributes');
        const completed = times('workflowTaskCompletedEventAttributes');
        m.firstTask.push(completed[0] - started[0]);
        m.lastTask.push(completed[completed.length - 1] - started[started.length - 1]);
        if (process.env.FIXED_COST_DUMP && r === runs + 4) for (const e of events) console.log(`  ${(at(e) - at(events[0])).toFixed(1).padStart(7)} ${Object.keys(e).find((k) => k.endsWith('Attributes'))}`);
        m.tail.push(times('workflowExecutionCompletedEventAttributes')[0] - Math.max(...times('activityTaskCompletedEventAttributes')));
      }
    });
  } finally {
    await env.teardown();
  }
  const f = (xs: number[]) => median(xs).toFixed(1);
  console.log(`one-episode evaluateHarness, median of ${runs} (load ${require('node:os').loadavg()[0].toFixed(2)}): wall ${f(m.wall)} ms, cpu ${f(m.cpu)} ms; first workflow task ${f(m.firstTask)} ms, last ${f(m.lastTask)} ms; last activity done → completed ${f(m.tail)} ms`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

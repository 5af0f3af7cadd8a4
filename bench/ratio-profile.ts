/**
 * Where the Temporal path of `HARNESSX_BENCH_ONLY=ratio` loses time against the in-process baseline: the
 * same episodes, same seeds, interleaved, on one dev server and one in-process worker, with
 *   A. rolloutTasks in-process (the bench's baseline),
 *   B. the rollout activity's own code on evaluateHarness's chunks, called directly, all at once (no Temporal),
 *   C. evaluateHarness through Temporal (the bench's measured side),
 * and, for C, the run's history cut into phases: client start → workflow task started → activities scheduled
 * → first activity started → last activity completed → workflow completed → client has the result.
 * Reports wall and CPU (this process: user + system) per side, medians. Not part of npm run bench.
 * Run: node --expose-gc --require tsx/cjs bench/ratio-profile.ts [pairs] [tasks]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { rolloutTasks } from '../aegis/rollout';
import { getBenchmark } from '../benchmarks/registry';
import { findTemporalCli } from '../cli/temporal-cli';
import { searchAttributeArgs } from '../cli/dev-server';
import { createActivities } from '../activities';
import { ArtifactStore } from '../store/artifact-store';
import { createAegisWorker } from '../workers/aegis-worker';
import { evolvedHarness } from './evolved-harness';

const benchmark = getBenchmark('blocksworld');
const allIds = benchmark.tasks().map((t) => t.id);
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const windows: Array<[number, number]> = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure<T>(fn: () => Promise<T>): Promise<{ wallMs: number; cpuMs: number; startedAt: number; value: T }> {
  gc();
  const cpu0 = process.cpuUsage();
  const startedAt = Date.now();
  const t0 = performance.now();
  const h0 = process.hrtime.bigint() / 1000n;
  const value = await fn();
  windows.push([Number(h0), Number(process.hrtime.bigint() / 1000n)]);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, startedAt, value };
}

type Event = { eventId?: unknown; eventType?: unknown; eventTime?: { seconds?: unknown; nanos?: number | null } | null; [k: string]: unknown };
const at = (e: Event) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** Phases of one evaluateHarness run from its history (ms). */
function phases(events: Event[], clientStart: number, clientEnd: number): Record<string, number> {
  const first = (name: string) => events.find((e) => (e as Record<string, unknown>)[name]);
  const all = (name: string) => events.filter((e) => (e as Record<string, unknown>)[name]);
  const started = at(first('workflowExecutionStartedEventAttributes')!);
  const wftStarted = at(first('workflowTaskStartedEventAttributes')!);
  const scheduled = all('activityTaskScheduledEventAttributes').map(at);
  const actStarted = all('activityTaskStartedEventAttributes').map(at);
  const actDone = all('activityTaskCompletedEventAttributes').map(at);
  const completed = at(first('workflowExecutionCompletedEventAttributes')!);
  return {
    'client → wf started': started - clientStart,
    'wf started → wft started': wftStarted - started,
    'wft started → last scheduled': Math.max(...scheduled) - wftStarted,
    'scheduled → first act started': Math.min(...actStarted) - Math.min(...scheduled),
    'scheduled → last act started': Math.max(...actStarted) - Math.min(...scheduled),
    'first act started → last act done': Math.max(...actDone) - Math.min(...actStarted),
    'first act done → last act done': Math.max(...actDone) - Math.min(...actDone),
    'last act done → wf completed': completed - Math.max(...actDone),
    'wf completed → client result': clientEnd - completed,
    'events': events.length,
  };
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const pairs = Number(process.argv[2] ?? 7);
  const tasks = Number(process.argv[3] ?? 120);
  const chunkSize = process.env.PROFILE_CHUNK ? Number(process.env.PROFILE_CHUNK) : undefined;
  const ids = allIds.slice(0, tasks);
  const dataDir = mkdtempSync(join(tmpdir(), 'hx-ratio-profile-'));
  const store = new ArtifactStore(dataDir);
  const config = evolvedHarness();
  const harnessId = await store.putHarness(config);
  const directStore = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-ratio-profile-direct-')));
  await directStore.putHarness(config);
  const directActs = createActivities({ store: directStore });

  const cli = findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing: npx harnessx install-cli');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli }, extraArgs: [...searchAttributeArgs(), ...(process.env.PROFILE_SERVER_ARGS ? process.env.PROFILE_SERVER_ARGS.split(' ') : [])] } });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') });
  const taskQueue = `${process.env.HARNESSX_TASK_QUEUE ?? 'hx'}-profile`;
  const worker = await createAegisWorker({ connection: env.nativeConnection, taskQueue, dataDir, workflowBundle });
  const size = chunkSize ?? 25;
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += size) chunks.push(ids.slice(i, i + size));
  const rows = { A: [] as Array<{ wallMs: number; cpuMs: number }>, B: [] as Array<{ wallMs: number; cpuMs: number }>, C: [] as Array<{ wallMs: number; cpuMs: number }> };
  const phaseRows: Array<Record<string, number>> = [];
  try {
    await worker.runUntil(async () => {
      for (let w = 0; w < 2; w++) {
        await env.client.workflow.execute('evaluateHarness', { taskQueue, workflowId: `warm-${w}-${Date.now()}`, args: [{ benchmark: 'blocksworld', harnessId, taskIds: ids.slice(0, 50), k: 2, seed: `warm-${w}` }] });
        await rolloutTasks({ benchmark, config, harnessId, taskIds: ids.slice(0, 50), k: 2, seed: `warm-${w}`, keepTraces: false });
        await Promise.all(chunks.slice(0, 2).map((c) => directActs.rolloutOutcomes({ benchmark: 'blocksworld', harnessId, taskIds: c, k: 2, seed: `warm-${w}` })));
      }
      for (let rep = 0; rep < pairs; rep++) {
        const seed = `profile-${rep}`;
        const a = await measure(() => rolloutTasks({ benchmark, config, harnessId, taskIds: ids, k: 2, seed, keepTraces: false }));
        rows.A.push(a);
        const b = await measure(() => Promise.all(chunks.map((c) => directActs.rolloutOutcomes({ benchmark: 'blocksworld', harnessId, taskIds: c, k: 2, seed }))));
        rows.B.push(b);
        const workflowId = `profile-${rep}-${Date.now()}`;
        const c = await measure(() => env.client.workflow.execute('evaluateHarness', { taskQueue, workflowId, args: [{ benchmark: 'blocksworld', harnessId, taskIds: ids, k: 2, seed, ...(chunkSize ? { chunkSize } : {}) }] }));
        rows.C.push(c);
        const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
        const p = phases((history.events ?? []) as Event[], c.startedAt, c.startedAt + c.wallMs);
        phaseRows.push(p);
        console.log(`pair ${rep}: A ${a.wallMs.toFixed(0)} ms (cpu ${a.cpuMs.toFixed(0)}), B ${b.wallMs.toFixed(0)} (cpu ${b.cpuMs.toFixed(0)}), C ${c.wallMs.toFixed(0)} (cpu ${c.cpuMs.toFixed(0)}); A/C ${(a.wallMs / c.wallMs).toFixed(2)}; ${Object.entries(p).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
      }
    });
  } finally {
    await env.teardown();
  }
  if (process.env.PROFILE_WINDOWS) require('node:fs').writeFileSync(process.env.PROFILE_WINDOWS, JSON.stringify(windows));
  console.log(`\n${ids.length * 2} episodes, ${chunks.length} chunks of up to ${size}; medians of ${pairs}`);
  for (const [name, r] of Object.entries(rows)) console.log(`  ${name}: wall ${median(r.map((x) => x.wallMs)).toFixed(0)} ms, cpu ${median(r.map((x) => x.cpuMs)).toFixed(0)} ms`);
  console.log(`  ratio A/C (the bench's): ${median(rows.A.map((a, i) => a.wallMs / rows.C[i].wallMs)).toFixed(3)}; A/B: ${median(rows.A.map((a, i) => a.wallMs / rows.B[i].wallMs)).toFixed(3)}`);
  for (const k of Object.keys(phaseRows[0])) console.log(`  ${k}: ${median(phaseRows.map((p) => p[k])).toFixed(1)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * Where one AEGIS round leaves the endpoint idle: runs one round against the latency endpoint and prints, per
 * activity, when it ran, and the endpoint's calls in flight per second. A diagnostic for the latency
 * section's AEGIS rows (`node --require tsx/cjs bench/round-timeline.ts [latencyMs] [tasks] [on|off] [round|meta]`), not part of `npm run bench`.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { getBenchmark } from '../benchmarks/registry';
import { findTemporalCli } from '../cli/temporal-cli';
import { searchAttributeArgs } from '../cli/dev-server';
import { evolvedHarness } from './evolved-harness';
import { startLatencyServer } from './latency-server';
import { temporalRunners } from './latency-bench';

async function main() {
  const [latencyMs = 1000, tasks = 128, overlap = 'on', kind = 'round'] = process.argv.slice(2).map((x, i) => (i < 2 ? Number(x) : x)) as [number, number, string, string];
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: findTemporalCli()!.path }, extraArgs: searchAttributeArgs() } });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') });
  const { runners, close } = await temporalRunners(env, bundle);
  const runner = runners.find((r) => r.name.includes(kind === 'meta' ? 'meta-agent 2 s' : 'one AEGIS round') && r.name.includes(overlap === 'off' ? 'in turn' : 'overlapped'))!;
  const server = await startLatencyServer({ latencyMs, capacity: 64 });
  const benchmark = getBenchmark('blocksworld');
  const samples: number[] = [];
  let last = 0;
  const t0 = Date.now();
  // TIMELINE_STEP_MS=100 samples ten times a second (a stage's tail is a fraction of a second).
  const stepMs = Number(process.env.TIMELINE_STEP_MS ?? 1000);
  const tick = setInterval(() => {
    const calls = server.stats.answered;
    samples.push(calls - last);
    last = calls;
  }, stepMs);
  await runner.run({ server, benchmark, config: evolvedHarness(), harnessId: 'hx-0000000000000000', simModel: 'sim:small', taskIds: benchmark.tasks().map((t) => t.id).slice(0, tasks), k: 2, seed: `latency-${latencyMs}-64`, limit: 64 });
  clearInterval(tick);
  console.log(runner.detail?.());
  // calls answered per step / (64 / L × step) = share of the endpoint busy that step
  const perStep = (64 / (latencyMs / 1000)) * (stepMs / 1000);
  console.log(`busy per ${stepMs} ms:`, samples.map((n) => (n / perStep).toFixed(1)).join(' '));
  const handles = env.client.workflow.list({ query: `WorkflowType = 'evolveHarness'` });
  for await (const w of handles) {
    const history = await env.client.workflow.getHandle(w.workflowId).fetchHistory();
    const ms = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6 - t0;
    const sched = new Map<string, { name: string; at: number; attempt: number }>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) sched.set(String(e.eventId), { name: s.activityType?.name ?? '?', at: ms(e), attempt: 1 });
      // A retried activity's started event (its last attempt's) says which attempt finished it.
      const started = e.activityTaskStartedEventAttributes;
      if (started) sched.get(String(started.scheduledEventId))!.attempt = started.attempt ?? 1;
      const c = e.activityTaskCompletedEventAttributes ?? e.activityTaskCanceledEventAttributes ?? e.activityTaskFailedEventAttributes;
      if (c) {
        const from = sched.get(String(c.scheduledEventId))!;
        const how = e.activityTaskCompletedEventAttributes ? '' : e.activityTaskCanceledEventAttributes ? ' cancelled' : ' failed';
        console.log(`${from.name.padEnd(12)} ${(from.at / 1000).toFixed(1).padStart(6)} → ${(ms(e) / 1000).toFixed(1).padStart(6)} s${from.attempt > 1 ? ` (attempt ${from.attempt})` : ''}${how}`);
      }
    }
  }
  await server.close();
  await close();
  await env.teardown();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});

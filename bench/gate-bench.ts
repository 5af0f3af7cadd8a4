/**
 * One AEGIS round with 4 candidates against a 200 ms endpoint (cap and limit 64), the simulator over the
 * wire (as the latency section), through Temporal: the gate one candidate at a time (gateConcurrency 1,
 * what every run did before) against the first alone and then the other 3 at once (gateConcurrency 3).
 * Two cases: as the rules agent plays it (its first candidate usually ships), and with minGain out of
 * reach, so every candidate is gated and rejected (the case concurrency is for). Reports the round's wall
 * time, the gate stage's (first gate scheduled → last gate completed, from the history), tokens, and what
 * shipped. Run: TEMPORAL_CLI_PATH=… node --expose-gc --require tsx/cjs bench/gate-bench.ts [reps]
 * (not part of npm run bench: about two minutes).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { searchAttributeArgs } from '../cli/dev-server';
import { findTemporalCli } from '../cli/temporal-cli';
import { ArtifactStore } from '../store/artifact-store';
import { createAegisWorker } from '../workers/aegis-worker';
import type { RunSummary } from '../workflows/evolve-harness';
import { SimOverWireModel, startLatencyServer } from './latency-server';

async function main() {
  const reps = Number(process.argv[2] ?? 2);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing: npx harnessx install-cli');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli }, extraArgs: searchAttributeArgs() } });
  const server = await startLatencyServer({ latencyMs: 200, capacity: 64 });
  process.env.HARNESSX_RESPONSE_CACHE = 'off';
  const dataDir = mkdtempSync(join(tmpdir(), 'hx-bench-gate-'));
  const store = new ArtifactStore(dataDir);
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') });
  const worker = await createAegisWorker({ connection: env.nativeConnection, taskQueue: 'bench-gate', dataDir, workflowBundle, substituteRolloutModel: (model, sample) => (model.id.startsWith('sim:') ? new SimOverWireModel(model.id, server.url, sample) : model) });
  const ms = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  let n = 0;
  try {
    await worker.runUntil(async () => {
      for (const [label, minGain] of [['as the rules agent plays it', 1], ['every candidate rejected (minGain out of reach)', 1000]] as const) {
        const rows: Record<number, Array<{ roundS: number; gateS: number; gates: number; tokens: number; shipped: number; harnessId: string }>> = { 1: [], 3: [] };
        for (let r = 0; r < reps; r++)
          for (const gateConcurrency of r % 2 ? [3, 1] : [1, 3]) {
            const workflowId = `bench-gate-${n++}-${Date.now()}`;
            const t0 = performance.now();
            const summary = (await env.client.workflow.execute('evolveHarness', {
              taskQueue: 'bench-gate',
              workflowId,
              args: [{ benchmark: 'blocksworld', model: 'sim:small', seed: `gate-bench-${r}`, rounds: 1, batchSize: 16, validationSize: 8, k: 2, candidatesPerRound: 4, minGain, gateConcurrency, evaluateTest: false, trackHeldOut: false, finalTrainTasks: 8, regressionGuard: { every: 0 }, searchAttributes: false, endpointLimits: { 'openai-compatible': { maxInFlight: 64 } } }],
            })) as RunSummary;
            const roundS = (performance.now() - t0) / 1000;
            const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
            const gateScheduled = new Map<string, number>();
            let first = Infinity;
            let last = 0;
            for (const e of history.events ?? []) {
              const s = e.activityTaskScheduledEventAttributes;
              if (s?.activityType?.name === 'gate') {
                gateScheduled.set(String(e.eventId), ms(e));
                first = Math.min(first, ms(e));
              }
              const c = e.activityTaskCompletedEventAttributes;
              if (c && gateScheduled.has(String(c.scheduledEventId))) last = Math.max(last, ms(e));
            }
            rows[gateConcurrency].push({ roundS, gateS: gateScheduled.size ? (last - first) / 1000 : 0, gates: gateScheduled.size, tokens: summary.tokens, shipped: summary.shipped, harnessId: summary.harnessId });
            void store;
          }
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        console.log(`\n${label} (${reps} rep(s) each, interleaved)`);
        for (const c of [1, 3]) {
          const rs = rows[c];
          console.log(`  gateConcurrency ${c}: round ${mean(rs.map((x) => x.roundS)).toFixed(1)} s, gate stage ${mean(rs.map((x) => x.gateS)).toFixed(1)} s, ${rs.map((x) => x.gates).join('/')} gates, tokens ${rs.map((x) => x.tokens).join('/')}, shipped ${rs.map((x) => x.shipped).join('/')}`);
        }
        const ratio = (f: (x: (typeof rows)[1][number]) => number) => mean(rows[3].map(f)) / mean(rows[1].map(f));
        const same = rows[1].every((x, i) => x.harnessId === rows[3][i].harnessId && x.shipped === rows[3][i].shipped);
        console.log(`  concurrent / sequential: round ${ratio((x) => x.roundS).toFixed(2)}, gate stage ${ratio((x) => x.gateS).toFixed(2)}, tokens ${ratio((x) => x.tokens).toFixed(2)}; same ship and harness: ${same}`);
      }
    });
  } finally {
    await server.close();
    await env.teardown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * One AEGIS round on the production-style server (`harnessx cluster`: Temporal on PostgreSQL) against the
 * dev server (SQLite), the same in-process worker code, input and seed on each; pairs interleaved so machine
 * noise hits both alike. Reports each side's median wall time per round and the median of the pairs'
 * ratios (production / dev; above 1 = slower). Not a test: nothing asserts. Part of `npm run bench`
 * (HARNESSX_BENCH_ONLY=cluster runs it alone); standalone: node --require tsx/cjs bench/cluster-bench.ts [pairs]
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { clusterDown, clusterUp } from '../cli/cluster/cluster';
import { searchAttributeArgs } from '../cli/dev-server';
import { findTemporalCli } from '../cli/temporal-cli';
import { createAegisWorker } from '../workers/aegis-worker';
import type { RunSummary } from '../workflows/evolve-harness';

export interface ClusterBenchResult {
  pairs: number;
  devMs: number[];
  clusterMs: number[];
  ratios: number[];
  medianRatio: number;
  sameResult: boolean;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `log` gets progress; the cluster lives under a fresh HARNESSX_HOME on its own ports and is purged afterwards. */
export async function clusterBench(options: { pairs?: number; workflowBundle?: { code: string }; log?: (l: string) => void } = {}): Promise<ClusterBenchResult> {
  const pairs = options.pairs ?? 3;
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const workflowBundle = options.workflowBundle ?? (await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') }));
  const cli = findTemporalCli()?.path;
  if (!cli) throw new Error('the Temporal CLI is missing: npx harnessx install-cli');

  const previousHome = process.env.HARNESSX_HOME;
  const home = mkdtempSync(join(tmpdir(), 'hx-bench-cluster-'));
  // PostgreSQL runs as `nobody` under root and must traverse to its data directory.
  chmodSync(home, 0o755);
  process.env.HARNESSX_HOME = home;
  const dev = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli }, extraArgs: searchAttributeArgs() } });
  const workers: Worker[] = [];
  const running: Array<Promise<void>> = [];
  let clusterClient: Client | undefined;
  let clusterNative: NativeConnection | undefined;
  try {
    const up = await clusterUp({ portBase: 23000 + 16 * Math.floor(Math.random() * 200), log: (l) => log(`  cluster: ${l}`) });
    clusterNative = await NativeConnection.connect({ address: up.settings.TEMPORAL_ADDRESS });
    clusterClient = new Client({ connection: await Connection.connect({ address: up.settings.TEMPORAL_ADDRESS }) });
    const sides = [
      { name: 'dev', client: dev.client, connection: dev.nativeConnection },
      { name: 'cluster', client: clusterClient, connection: clusterNative },
    ] as const;
    for (const side of sides) {
      const worker = await createAegisWorker({ connection: side.connection, namespace: 'default', taskQueue: 'bench-cluster', dataDir: mkdtempSync(join(tmpdir(), `hx-bench-${side.name}-`)), workflowBundle });
      workers.push(worker);
      running.push(worker.run());
    }
    const round = async (client: Client, id: string, seed: string) => {
      const t0 = performance.now();
      const summary = (await client.workflow.execute('evolveHarness', { taskQueue: 'bench-cluster', workflowId: `${id}-${Date.now()}`, args: [{ benchmark: 'blocksworld', rounds: 1, seed, evaluateTest: false }] })) as RunSummary;
      return { ms: performance.now() - t0, summary };
    };
    // Warm-up, not measured: each worker's first workflow pays for its isolate, connections and modules.
    for (const side of sides) await round(side.client, `bench-cluster-warmup-${side.name}`, 'warmup');
    const devMs: number[] = [];
    const clusterMs: number[] = [];
    let sameResult = true;
    for (let p = 0; p < pairs; p++) {
      const seed = `bench-cluster-${p}`;
      // Alternate which side goes first.
      const order = p % 2 ? [sides[1], sides[0]] : [sides[0], sides[1]];
      const results: Record<string, { ms: number; summary: RunSummary }> = {};
      for (const side of order) results[side.name] = await round(side.client, `bench-cluster-${side.name}-${p}`, seed);
      devMs.push(results.dev.ms);
      clusterMs.push(results.cluster.ms);
      sameResult &&= results.dev.summary.harnessId === results.cluster.summary.harnessId && results.dev.summary.evolvedPassRate === results.cluster.summary.evolvedPassRate;
      log(`  pair ${p + 1}/${pairs}: dev ${results.dev.ms.toFixed(0)} ms, cluster ${results.cluster.ms.toFixed(0)} ms`);
    }
    const ratios = clusterMs.map((ms, i) => ms / devMs[i]);
    return { pairs, devMs, clusterMs, ratios, medianRatio: median(ratios), sameResult };
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.allSettled(running);
    await clusterClient?.connection.close();
    await clusterNative?.close();
    await dev.teardown();
    await clusterDown({ purge: true, log: () => undefined });
    if (previousHome === undefined) delete process.env.HARNESSX_HOME;
    else process.env.HARNESSX_HOME = previousHome;
  }
}

export function describeClusterBench(r: ClusterBenchResult): string[] {
  return [
    'AEGIS round wall time, production server (PostgreSQL)',
    `1 round, blocksworld, ${r.pairs} pairs`,
    `${median(r.clusterMs).toFixed(0)} ms vs dev ${median(r.devMs).toFixed(0)} ms`,
    `ratio ${r.medianRatio.toFixed(2)} (median of ${r.ratios.map((x) => x.toFixed(2)).join(', ')}); same harness and pass rate: ${r.sameResult}`,
  ];
}

if (require.main === module) {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  clusterBench({ pairs: Number(process.argv[2] ?? 3) })
    .then((r) => {
      console.log(describeClusterBench(r).join('  |  '));
      console.log(JSON.stringify(r));
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}

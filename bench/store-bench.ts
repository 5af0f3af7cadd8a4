/**
 * The S3 store against the local folder on the same in-process rollout: the rollout activity's own code
 * (createActivities(...).rollout: episodes on the simulator, every trace written through arrayWriter, the
 * outcomes cached with cacheSetMany and stored with put), then a re-evaluation of the same tasks (evaluate:
 * every outcome a cache hit through cacheGetMany, no episode runs). The S3 side is a real versitygw (posix
 * backend) on loopback, so the ratio is the cost of the S3 protocol and the gateway, not of a network.
 * Repetitions alternate local and S3 with a fresh seed per pair; medians of the pairs' times are reported.
 * Run alone: node --expose-gc --require tsx/cjs bench/store-bench.ts [reps]; `npm run bench` runs it in the
 * full run and alone with HARNESSX_BENCH_ONLY=store.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../activities';
import { getBenchmark } from '../benchmarks/registry';
import { ArtifactStore } from '../store/artifact-store';
import { openStore } from '../store/open-store';
import type { Store } from '../store/store';
import { evolvedHarness } from './evolved-harness';
import { startVersitygw } from './versitygw';

export interface StoreBenchResult {
  tasks: number;
  k: number;
  reps: number;
  /** Median milliseconds of the traced rollout activity, per backend. */
  rolloutMs: { local: number; s3: number; ratio: number };
  /** Median milliseconds of a re-evaluation answered wholly from the outcome cache, per backend. */
  cachedEvaluateMs: { local: number; s3: number; ratio: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function storeBench(options: { tasks?: number; k?: number; reps?: number } = {}): Promise<StoreBenchResult> {
  const tasks = options.tasks ?? 60;
  const k = options.k ?? 2;
  const reps = options.reps ?? 5;
  const taskIds = getBenchmark('blocksworld').tasks().map((t) => t.id).slice(0, tasks);
  const gw = await startVersitygw();
  try {
    const stores: Record<'local' | 's3', Store> = {
      local: new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-store-bench-'))),
      s3: openStore({ defaultDir: tmpdir(), env: gw.env('hx-bench', 'bench') }),
    };
    await gw.createBucket('hx-bench');
    const times = { rollout: { local: [] as number[], s3: [] as number[] }, evaluate: { local: [] as number[], s3: [] as number[] } };
    for (const side of ['local', 's3'] as const) await stores[side].check();
    const harnessIds = { local: await stores.local.putHarness(evolvedHarness()), s3: await stores.s3.putHarness(evolvedHarness()) };
    const activities = { local: createActivities({ store: stores.local }), s3: createActivities({ store: stores.s3 }) };
    // Warm-up (not measured): module loading, JIT, the first connections.
    for (const side of ['local', 's3'] as const) await activities[side].rollout({ benchmark: 'blocksworld', harnessId: harnessIds[side], taskIds: taskIds.slice(0, 10), k, seed: 'warm' });
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which side goes first, so drift on a shared machine falls on both.
      const order = rep % 2 === 0 ? (['local', 's3'] as const) : (['s3', 'local'] as const);
      for (const side of order) {
        const input = { benchmark: 'blocksworld', harnessId: harnessIds[side], taskIds, k, seed: `store-bench-${rep}` };
        (globalThis as { gc?: () => void }).gc?.();
        let t0 = performance.now();
        const rolled = await activities[side].rollout(input);
        times.rollout[side].push(performance.now() - t0);
        t0 = performance.now();
        const evaluated = await activities[side].evaluate(input);
        times.evaluate[side].push(performance.now() - t0);
        // The re-evaluation must have been all cache hits (no tokens spent) and agree with the rollout.
        if (evaluated.spend.tokens !== 0 || evaluated.passed !== rolled.passed) throw new Error(`store bench: the ${side} re-evaluation was not answered from the outcome cache`);
      }
    }
    const pair = (xs: { local: number[]; s3: number[] }) => ({ local: median(xs.local), s3: median(xs.s3), ratio: median(xs.s3) / median(xs.local) });
    return { tasks, k, reps, rolloutMs: pair(times.rollout), cachedEvaluateMs: pair(times.evaluate) };
  } finally {
    await gw.stop();
  }
}

if (require.main === module) {
  storeBench({ reps: Number(process.argv[2] ?? 5) }).then(
    (r) => {
      console.log(`store bench: blocksworld, ${r.tasks} tasks × pass@${r.k}, median of ${r.reps}`);
      console.log(`  traced rollout activity   local ${r.rolloutMs.local.toFixed(0)} ms   S3 (versitygw) ${r.rolloutMs.s3.toFixed(0)} ms   ratio ${r.rolloutMs.ratio.toFixed(2)}`);
      console.log(`  cached re-evaluation      local ${r.cachedEvaluateMs.local.toFixed(1)} ms   S3 (versitygw) ${r.cachedEvaluateMs.s3.toFixed(1)} ms   ratio ${r.cachedEvaluateMs.ratio.toFixed(2)}`);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

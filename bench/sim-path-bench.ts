/**
 * What the simulator's rollout path costs in-process: rolloutTasks on simulator episodes with the episode
 * concurrency and the endpoint limiter as rollouts use them, against one episode at a time and no limiter.
 * Two layouts: one rollout (the bench's in-process baseline) and five chunks at once (what evaluateHarness's
 * activities do on one worker). Reports CPU time (user + system of this process), which other processes on a
 * shared machine disturb far less than wall time, and wall time; medians of interleaved repetitions.
 * Run: node --expose-gc --require tsx/cjs bench/sim-path-bench.ts [reps] (not part of npm run bench);
 * HARNESSX_SIMPATH=two for the default and the cheapest path only.
 */
import { mkdtempSync } from 'node:fs';
import { evolvedHarness } from './evolved-harness';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRolloutConcurrency, rolloutTasks, RolloutSpec } from '../aegis/rollout';
import { getBenchmark } from '../benchmarks/registry';
import { harnessId } from '../harness/config';
import { ArtifactStore } from '../store/artifact-store';

const benchmark = getBenchmark('blocksworld');
const config = evolvedHarness();
const id = harnessId(config);
const ids = benchmark.tasks().map((t) => t.id).slice(0, 120);
const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-simpath-')));
const gc = () => (globalThis as { gc?: () => void }).gc?.();

type Variant = { name: string; spec: Partial<RolloutSpec> };
const ALL: Variant[] = [
  { name: 'default (as rollouts run)', spec: {} },
  { name: 'concurrency 1, limiter', spec: { concurrency: 1 } },
  { name: 'concurrency 2, limiter', spec: { concurrency: 2 } },
  { name: 'concurrency 2, no limiter', spec: { concurrency: 2, limiters: null } },
  { name: 'concurrency 1, no limiter', spec: { concurrency: 1, limiters: null } },
];
/** HARNESSX_SIMPATH=two compares only the default and the cheapest path (more repetitions in the same time). */
const variants = process.env.HARNESSX_SIMPATH === 'two' ? [ALL[0], ALL[4]] : ALL;

async function once(v: Variant, layout: 'one' | 'chunks', traced: boolean, seed: string): Promise<{ cpuMs: number; wallMs: number }> {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = async (taskIds: string[]) => {
    const writer = traced ? store.arrayWriter() : null;
    await rolloutTasks({ benchmark, config, harnessId: id, taskIds, k: 2, seed, keepTraces: false, ...(writer ? { onTrace: (t) => writer.add(t) } : {}), ...v.spec });
    if (writer) await writer.finish();
  };
  if (layout === 'one') await run(ids);
  else await Promise.all([0, 1, 2, 3, 4].map((c) => run(ids.slice(c * 24, c * 24 + 24))));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}

async function main() {
  const reps = Number(process.argv[2] ?? 5);
  console.log(`default simulator rollout concurrency here: ${defaultRolloutConcurrency({ config })}; ${ids.length} tasks × 2`);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const traced of [false, true])
    for (const layout of ['one', 'chunks'] as const) {
      // Warm-up, not measured.
      for (const v of variants) await once(v, layout, traced, 'warm');
      const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
      const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
      for (let r = 0; r < reps; r++)
        for (const v of r % 2 ? [...variants].reverse() : variants) {
          const m = await once(v, layout, traced, `rep-${r}`);
          cpu.get(v.name)!.push(m.cpuMs);
          wall.get(v.name)!.push(m.wallMs);
        }
      const base = median(cpu.get('concurrency 1, no limiter')!);
      console.log(`\n${layout === 'one' ? 'one rollout' : 'five chunks at once'}${traced ? ', writing traces' : ''} (median of ${reps}; CPU relative to concurrency 1 without limiter)`);
      for (const v of variants) {
        const c = median(cpu.get(v.name)!);
        console.log(`  ${v.name.padEnd(28)} CPU ${c.toFixed(0).padStart(6)} ms (${(c / base).toFixed(3)})   wall ${median(wall.get(v.name)!).toFixed(0).padStart(6)} ms`);
      }
    }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

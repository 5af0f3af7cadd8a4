/**
 * How many episodes a rollout should keep open against an endpoint (defaultRolloutConcurrency): an event
 * simulation of one rollout stage against an endpoint of C slots and L per call, FIFO at the limiter, with
 * the episode lengths (model calls) the simulator gives the seed harness on blocksworld. Prints the share
 * of the endpoint the stage uses, per episodes kept open (multiples of C) and stage size. A new episode
 * starts only when one ends, so with too few open the stage's last episodes run alone at the end.
 * Not part of npm run bench (nothing here is timed). Run: node --require tsx/cjs bench/episodes-open-sim.ts
 */
import { rolloutTasks } from '../aegis/rollout';
import { getBenchmark } from '../benchmarks/registry';
import { seedHarness } from '../harness/seed';

/** The endpoint's busy share over the stage: calls × L / C / makespan. */
export function stageBusyShare(lengths: number[], open: number, slots: number): number {
  const latency = 1;
  const left = [...lengths];
  const queue: number[] = [];
  // Calls in flight as [finish time, episode], kept sorted by finish time (all calls take the same time).
  const inFlight: Array<[number, number]> = [];
  let now = 0;
  let next = 0;
  let running = 0;
  let calls = 0;
  const launch = () => {
    while (running < open && next < lengths.length) (running++, queue.push(next++));
  };
  const send = () => {
    while (inFlight.length < slots && queue.length) inFlight.push([now + latency, queue.shift()!]);
  };
  launch();
  send();
  while (inFlight.length) {
    const [at, episode] = inFlight.shift()!;
    now = at;
    calls++;
    if (--left[episode] > 0) queue.push(episode);
    else (running--, launch());
    send();
  }
  return (calls * latency) / slots / now;
}

async function main() {
  const benchmark = getBenchmark('blocksworld');
  const ids = benchmark.tasks().map((t) => t.id);
  const { traces } = await rolloutTasks({ benchmark, config: seedHarness('sim:small'), harnessId: 'hx-episodes-open', taskIds: ids, k: 2, seed: 'latency-200-64', limiters: null });
  const lengths = traces.map((t) => t.records.filter((r) => r.kind === 'model_call').length);
  const slots = 64;
  const sizes = [128, 150, 200, 250, 300, 350, 424, 450, 512, 600, 800, 1000, 1500];
  console.log(`${lengths.length} simulator episodes, ${Math.min(...lengths)}–${Math.max(...lengths)} calls (mean ${(lengths.reduce((a, b) => a + b, 0) / lengths.length).toFixed(1)}); endpoint of ${slots} slots`);
  console.log(`episodes open \\ stage size: ${sizes.join(' ')}`);
  for (const factor of [2, 3, 4, 6, 8]) {
    const shares = sizes.map((n) => stageBusyShare(Array.from({ length: n }, (_, i) => lengths[i % lengths.length]), factor * slots, slots));
    console.log(`${String(factor * slots).padStart(4)} (${factor}× C): ${shares.map((s) => s.toFixed(3)).join(' ')}  (worst ${Math.min(...shares).toFixed(3)})`);
  }
}

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });

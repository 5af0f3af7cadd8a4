import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../activities';
import { FinishedEpisode, rolloutTasks, RolloutSpec } from '../../aegis/rollout';
import { allowanceReached, EpisodeUsage, referenceCut, RolloutCut } from '../../aegis/rollout-cut';
import { evolutionAllowance, hasSpendCap } from '../../aegis/run-budget';
import { seededRandom } from '../../aegis/sampling';
import { allowanceSpent } from '../../aegis/sequential-gate';
import { getBenchmark } from '../../benchmarks/registry';
import { hashUniform } from '../../harness/canonical';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace } from '../../harness/trace';
import type { Model } from '../../harness/processor';
import { EndpointLimiters } from '../../models/endpoint-limiter';
import { ArtifactStore } from '../../store/artifact-store';

// Episodes with real (if short) delays: a shared 2-core machine can take a while; nothing here measures time.
jest.setTimeout(60_000);

const tokens = (u: EpisodeUsage) => u.inputTokens + u.outputTokens;
const tokenCap = (cap: number) => (u: EpisodeUsage) => allowanceReached({ tokens: cap, usd: null }, u, () => null);

/**
 * A scheduler driven by a seeded random completion order, using RolloutCut exactly as rolloutTasks does:
 * launch while allowed (concurrency, window), emit in index order, finish whichever running episode the
 * random order picks. Returns what a rollout would return; throws if the emitter ever waits for an episode
 * nobody launched (the launch rule held back a task the cut needed).
 */
function simulate(usages: EpisodeUsage[], k: number, reached: (u: EpisodeUsage) => boolean, options: { concurrency: number; order: string; resumed?: Set<number> }) {
  const total = usages.length;
  const cut = new RolloutCut(total / k, k, reached);
  const random = seededRandom(options.order);
  const window = Math.max(2 * options.concurrency, options.concurrency + 8);
  const running = new Set<number>();
  const done = new Set<number>();
  let launched = 0;
  let emitted = 0;
  let stopped = false;
  const ran: number[] = [];
  const launch = () => {
    while (!stopped && launched < total && launched < emitted + window && running.size < options.concurrency && cut.mayLaunch()) {
      const index = launched++;
      if (options.resumed?.has(index)) {
        cut.launch(index, usages[index]);
        done.add(index);
        continue;
      }
      cut.launch(index);
      running.add(index);
    }
  };
  const finishOne = () => {
    const pick = [...running][Math.floor(random() * running.size)];
    running.delete(pick);
    done.add(pick);
    ran.push(pick);
    cut.finish(pick, usages[pick]);
    launch();
  };
  const emittedUsage = { inputTokens: 0, outputTokens: 0 };
  while (emitted < total) {
    if (cut.stopsBefore(emitted)) break;
    launch();
    if (emitted >= launched) throw new Error(`episode ${emitted} was never launched`);
    while (!done.has(emitted)) finishOne();
    cut.emit(emitted, usages[emitted]);
    emittedUsage.inputTokens += usages[emitted].inputTokens;
    emittedUsage.outputTokens += usages[emitted].outputTokens;
    emitted++;
  }
  stopped = true;
  while (running.size) finishOne();
  return { result: cut.result(), emitted, emittedUsage, ran };
}

/** Per-episode usages with a wide spread (a few verbose tasks), seeded. */
function usagesFor(seed: string, tasks: number, k: number): EpisodeUsage[] {
  const random = seededRandom(seed);
  return Array.from({ length: tasks * k }, () => {
    const verbose = random() < 0.2 ? 20 : 1;
    return { inputTokens: Math.floor((200 + random() * 800) * verbose), outputTokens: Math.floor(random() * 100) };
  });
}

describe('the rollout cut (pure): the same for every completion order and concurrency', () => {
  test('covered tasks equal the reference cut; beyond-cut spend is only past the cut; no task the cut needs is held back', () => {
    let stopped = 0;
    for (let trial = 0; trial < 40; trial++) {
      const k = 1 + (trial % 3);
      const usages = usagesFor(`usages-${trial}`, 12, k);
      const all = usages.reduce((n, u) => n + tokens(u), 0);
      const cap = Math.floor(all * (0.1 + 0.8 * hashUniform('cap', String(trial))));
      const reached = tokenCap(cap);
      const expected = referenceCut(usages, k, reached);
      expect(expected).toBeGreaterThan(0);
      for (const concurrency of [1, 2, 3, 5, 8, 40]) {
        for (let order = 0; order < 5; order++) {
          const { result, emitted, emittedUsage, ran } = simulate(usages, k, reached, { concurrency, order: `${trial}|${concurrency}|${order}` });
          expect(result.coveredTasks).toBe(expected);
          // A cap reached only by the last task covers every task: not stopped.
          expect(result.budgetStopped).toBe(expected < 12);
          expect(emitted).toBe(expected * k);
          // The overshoot in the result is at most the crossing task's episodes.
          const crossing = usages.slice((expected - 1) * k, expected * k).reduce((n, u) => n + tokens(u), 0);
          expect(tokens(emittedUsage)).toBeGreaterThanOrEqual(cap);
          expect(tokens(emittedUsage) - cap).toBeLessThanOrEqual(crossing);
          // Beyond the cut: exactly the episodes that ran past it.
          const past = ran.filter((i) => i >= expected * k);
          expect(result.beyondCut.episodes).toBe(past.length);
          expect(result.beyondCut.inputTokens + result.beyondCut.outputTokens).toBe(past.reduce((n, i) => n + tokens(usages[i]), 0));
          // At concurrency 1 nothing runs past the cut.
          if (concurrency === 1) expect(past).toEqual([]);
        }
      }
      if (expected < 12) stopped++;
    }
    // Not vacuous: most caps stop the rollout part-way.
    expect(stopped).toBeGreaterThan(30);
  });

  test('episodes resumed from an earlier attempt (any subset) reach the same cut', () => {
    for (let trial = 0; trial < 20; trial++) {
      const k = 2;
      const usages = usagesFor(`resume-${trial}`, 10, k);
      const reached = tokenCap(Math.floor(usages.reduce((n, u) => n + tokens(u), 0) / 3));
      const expected = referenceCut(usages, k, reached);
      const random = seededRandom(`subset-${trial}`);
      const resumed = new Set(usages.map((_, i) => i).filter(() => random() < 0.5));
      const { result } = simulate(usages, k, reached, { concurrency: 4, order: `r${trial}`, resumed });
      expect(result.coveredTasks).toBe(expected);
    }
  });

  test('an allowance already spent covers no task and launches nothing; one never reached covers all', () => {
    const usages = usagesFor('edge', 5, 2);
    const none = simulate(usages, 2, tokenCap(0), { concurrency: 4, order: 'a' });
    expect(none.result).toEqual({ budgetStopped: true, coveredTasks: 0, beyondCut: { episodes: 0, inputTokens: 0, outputTokens: 0 } });
    expect(none.ran).toEqual([]);
    const all = simulate(usages, 2, tokenCap(Number.MAX_SAFE_INTEGER), { concurrency: 4, order: 'a' });
    expect(all.result).toEqual({ budgetStopped: false, coveredTasks: 5, beyondCut: { episodes: 0, inputTokens: 0, outputTokens: 0 } });
    // The task that reaches the allowance exactly is the last one in: "reached" is spend ≥ allowance, as in the gate.
    const first = tokens(usages[0]) + tokens(usages[1]);
    expect(simulate(usages, 2, tokenCap(first), { concurrency: 1, order: 'a' }).result.coveredTasks).toBe(1);
    expect(simulate(usages, 2, tokenCap(first + 1), { concurrency: 1, order: 'a' }).result.coveredTasks).toBe(2);
  });

  test('a USD allowance prices the usage; an unpriced model never reaches it', () => {
    const usage = { inputTokens: 1000, outputTokens: 0 };
    expect(allowanceReached({ tokens: null, usd: 0.5 }, usage, (u) => u.inputTokens / 1000)).toBe(true);
    expect(allowanceReached({ tokens: null, usd: 2 }, usage, (u) => u.inputTokens / 1000)).toBe(false);
    expect(allowanceReached({ tokens: null, usd: 0.5 }, usage, () => null)).toBe(false);
    expect(allowanceReached({ tokens: 1000, usd: null }, usage, () => null)).toBe(true);
  });

  test('reached means what the gate means by spent (allowanceSpent), on any allowance and spend', () => {
    const random = seededRandom('agree');
    const pick = <T,>(xs: T[]) => xs[Math.floor(random() * xs.length)];
    for (let i = 0; i < 500; i++) {
      const allowance = { tokens: pick([null, 0, 500, 1000, 1001]), usd: pick([null, 0, 0.5, 1, 2]) };
      const usage = { inputTokens: pick([0, 400, 1000]), outputTokens: pick([0, 1, 100]) };
      const price = pick([null, 0.001, 0.002]);
      const usd = price === null ? null : (usage.inputTokens + usage.outputTokens) * price;
      expect(allowanceReached(allowance, usage, () => usd)).toBe(allowanceSpent(allowance, { tokens: usage.inputTokens + usage.outputTokens, costUsd: usd }));
    }
  });
});

// A verbose benchmark on the simulator, with random latencies so episodes finish out of order.
const bench = getBenchmark('tau2-retail');
const ids = bench.tasks().filter((t) => t.split === 'train').slice(0, 10).map((t) => t.id);

function jittery(model: Model, sample: string, salt: string, calls: Map<string, number>): Model {
  let n = 0;
  return {
    id: model.id,
    async generate(request) {
      calls.set(sample, (calls.get(sample) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(hashUniform('latency', salt, sample, n++) * 4)));
      return model.generate(request);
    },
  };
}

/** Wall-clock fields differ between any two runs; everything else in a trace must match. */
function withoutTiming(trace: EpisodeTrace): unknown {
  return JSON.parse(JSON.stringify(trace, (key, value) => (key === 'latencyMs' || key === 'durationMs' ? undefined : value)));
}

async function run(concurrency: number, salt: string, extra: Partial<RolloutSpec> = {}) {
  const calls = new Map<string, number>();
  const ordered: unknown[] = [];
  const result = await rolloutTasks({
    benchmark: bench,
    config: seedHarness('sim:small'),
    harnessId: 'hx-cut',
    taskIds: ids,
    k: 2,
    seed: 'cut',
    keepTraces: false,
    concurrency,
    limiters: new EndpointLimiters({ env: { sim: { maxInFlight: 64 } } }),
    wrapModel: (model, sample) => jittery(model, sample, salt, calls),
    onTrace: (trace) => ordered.push(withoutTiming(trace)),
    ...extra,
  });
  return { result, ordered, calls };
}

describe('rolloutTasks under an allowance', () => {
  let full: Awaited<ReturnType<typeof run>>;
  let perEpisode: EpisodeUsage[];
  let cap: number;
  beforeAll(async () => {
    const usages: FinishedEpisode[] = [];
    full = await run(1, 'full', { onProgress: (p) => void (p.done === p.total && usages.push(...p.finished)) });
    perEpisode = usages.map((e) => e.usage);
    cap = Math.floor((full.result.usage.inputTokens + full.result.usage.outputTokens) * 0.35);
  });

  test('stops at the same task, with the same outcomes, usage and traces, at any concurrency and completion order', async () => {
    const expected = referenceCut(perEpisode, 2, tokenCap(cap));
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(ids.length);
    const runs = [await run(1, 'a', { allowance: { tokens: cap, usd: null } }), await run(4, 'b', { allowance: { tokens: cap, usd: null } }), await run(64, 'c', { allowance: { tokens: cap, usd: null } })];
    for (const r of runs) {
      expect(r.result.cut?.budgetStopped).toBe(true);
      expect(r.result.cut?.coveredTasks).toBe(expected);
      expect(r.result.outcomes).toEqual(full.result.outcomes.slice(0, expected));
      expect(r.result.episodes).toBe(expected * 2);
      expect(r.ordered).toEqual(full.ordered.slice(0, expected * 2));
      expect(r.result.usage).toEqual(runs[0].result.usage);
    }
    // The result's spend passes the allowance by at most the crossing task's two episodes.
    const within = runs[0].result.usage.inputTokens + runs[0].result.usage.outputTokens;
    const crossing = tokens(perEpisode[2 * expected - 2]) + tokens(perEpisode[2 * expected - 1]);
    expect(within).toBeGreaterThanOrEqual(cap);
    expect(within - cap).toBeLessThanOrEqual(crossing);
    // One at a time nothing runs past the cut; with 64 at once episodes past it ran, are counted, and stay out of the result.
    expect(runs[0].result.cut?.beyondCut.episodes).toBe(0);
    expect(runs[0].calls.size).toBe(expected * 2);
    expect(runs[2].result.cut!.beyondCut.episodes).toBeGreaterThan(0);
    expect(runs[2].calls.size).toBe(expected * 2 + runs[2].result.cut!.beyondCut.episodes);
  });

  test('a retried attempt resuming from the heartbeat (past-cut episodes included) reaches the same cut without running them again', async () => {
    const allowance = { tokens: cap, usd: null };
    let snapshot: FinishedEpisode[] = [];
    const first = await run(64, 'd', { allowance, onProgress: (p) => void (snapshot = JSON.parse(JSON.stringify(p.finished))) });
    expect(snapshot.length).toBeGreaterThan(first.result.episodes);
    const retried = await run(64, 'e', { allowance, onTrace: undefined, resume: snapshot });
    expect(retried.result.cut?.coveredTasks).toBe(first.result.cut?.coveredTasks);
    expect(retried.result.outcomes).toEqual(first.result.outcomes);
    expect(retried.result.usage).toEqual(first.result.usage);
    for (const e of snapshot) expect(retried.calls.get(`cut|${e.taskId}|${e.attempt}`)).toBeUndefined();
  });

  test('without an allowance the whole batch runs (what the cut bounds)', async () => {
    expect(full.result.outcomes).toHaveLength(ids.length);
    expect(full.result.cut).toBeUndefined();
  });
});

describe('the rollout and evaluate activities under an allowance', () => {
  test('rollout: outcomes, cache and traces cover the tasks up to the cut; spend includes what ran past it', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-cut-')));
    const activities = createActivities({ store });
    const harnessId = await store.putHarness(seedHarness('sim:small'));
    const scope = { benchmark: 'tau2-retail', harnessId, taskIds: ids, k: 2, seed: 'cut' };
    const whole = await activities.rolloutOutcomes({ ...scope, seed: 'whole' });
    const cap = Math.floor(whole.tokens * 0.35);
    const cut = await activities.rollout({ ...scope, allowance: { tokens: cap, usd: null } });
    expect(cut.budgetStopped).toBe(true);
    expect(cut.coveredTasks).toBe(cut.tasks);
    expect(cut.tasks).toBeLessThan(ids.length);
    expect(cut.tokens).toBeGreaterThanOrEqual(cap);
    expect(await store.get<EpisodeTrace[]>(cut.tracesRef)).toHaveLength(cut.episodes);
    // Only the covered tasks are cached: evaluating the whole list runs the rest (and is not stopped).
    const evaluated = await activities.evaluate(scope);
    expect(evaluated.tasks).toBe(ids.length);
    expect(evaluated.budgetStopped).toBeUndefined();
    expect(evaluated.spend.tokens).toBeGreaterThan(0);
  });

  test('evaluate: cached tasks are free; the cut falls on the first missing task left out, and the result is a prefix of the list', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-cut-')));
    const activities = createActivities({ store });
    const harnessId = await store.putHarness(seedHarness('sim:small'));
    const scope = { benchmark: 'tau2-retail', harnessId, k: 2, seed: 'cut' };
    // Tasks 0, 2, 4 cached; an allowance already spent runs nothing more.
    await activities.evaluate({ ...scope, taskIds: [ids[0], ids[2], ids[4]] });
    const stopped = await activities.evaluate({ ...scope, taskIds: ids.slice(0, 6), allowance: { tokens: 0, usd: null } });
    expect(stopped).toMatchObject({ budgetStopped: true, coveredTasks: 1, tasks: 1, spend: { tokens: 0 } });
    // All cached: nothing to run, so nothing to stop.
    const cachedOnly = await activities.evaluate({ ...scope, taskIds: [ids[0], ids[2]], allowance: { tokens: 0, usd: null } });
    expect(cachedOnly.budgetStopped).toBeUndefined();
    expect(cachedOnly.tasks).toBe(2);
  });
});

describe('which runs give their rollouts an allowance', () => {
  test('only runs with a spend cap, and the allowance is the evolution budget left', () => {
    expect(hasSpendCap({})).toBe(false);
    expect(hasSpendCap({ maxTokens: 1 })).toBe(true);
    expect(hasSpendCap({ maxUsd: 1 })).toBe(true);
    expect(evolutionAllowance({ maxTokens: 1000 }, { tokens: 400, costUsd: 0 })).toEqual({ tokens: 600, usd: null });
    expect(evolutionAllowance({ maxTokens: 1000, maxUsd: 2 }, { tokens: 1400, costUsd: 0.5 })).toEqual({ tokens: 0, usd: 1.5 });
  });
});

describe('the ensemble rollout under an allowance', () => {
  test('variants roll out in pool order, each with what the earlier left; the cut one ends it and the pool comes back unchanged', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-cut-')));
    const activities = createActivities({ store });
    const harnessId = await store.putHarness(seedHarness('sim:small'));
    const clusterOf = (id: string) => bench.cluster?.(id) ?? 'all';
    // v1 leads on the first task's cluster, so the batch splits between the two variants.
    const variants = [
      { id: 'v0', harnessId, parentId: null, born: 0, stats: {} },
      { id: 'v1', harnessId, parentId: 'v0', born: 1, stats: { [clusterOf(ids[0])]: { passed: 5, total: 5 } } },
    ];
    const input = { benchmark: 'tau2-retail', variants, taskIds: ids, validationIds: [], k: 2, seed: 'cut' };
    const whole = await activities.ensembleRollout(input);
    const inOrder = whole.perVariant.flatMap((p) => p.taskIds);
    expect(whole.perVariant.map((p) => p.variantId)).toEqual(['v0', 'v1']);
    expect(whole.budgetStopped).toBeUndefined();
    // A cap that v0's share does not reach: v1 is cut part-way.
    const v0Share = whole.perVariant[0].tasks;
    const cut = await activities.ensembleRollout({ ...input, seed: 'cut', allowance: { tokens: Math.floor(whole.tokens * 0.9), usd: null } });
    expect(cut.budgetStopped).toBe(true);
    expect(cut.variants).toEqual(variants);
    expect(cut.tasks).toBe(cut.coveredTasks);
    expect(cut.tasks).toBeGreaterThan(v0Share);
    expect(cut.tasks).toBeLessThan(ids.length);
    expect(cut.perVariant.flatMap((p) => p.taskIds)).toEqual(inOrder.slice(0, cut.tasks));
    // A cap inside v0's share: v1 never runs.
    const early = await activities.ensembleRollout({ ...input, seed: 'cut', allowance: { tokens: 1, usd: null } });
    expect(early).toMatchObject({ budgetStopped: true, tasks: 1 });
    expect(early.perVariant.map((p) => p.variantId)).toEqual(['v0']);
  });
});

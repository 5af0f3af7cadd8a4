import { seesaw } from '../../aegis/gate';
import type { TaskOutcome } from '../../aegis/rollout';
import { budgetOvershoot, evolutionAllowance } from '../../aegis/run-budget';
import { allowanceSpent, runSequentialSeesaw, sequentialChunks, sequentialDecision, sequentialFirstChunk, sequentialGateOrder } from '../../aegis/sequential-gate';

const outcome = (taskId: string, passed: boolean): TaskOutcome => ({ taskId, passed, successes: passed ? 1 : 0, attempts: 2 });

/** A small deterministic generator (mulberry32), so the property cases are the same on every run. */
function generator(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One gate: incumbent, candidate and confirmation outcomes per task, and a counter of the candidate tasks run. */
function gateCase(random: () => number, tasks: number, rates: { incumbent: number; keep: number; unlock: number; cleared: number }) {
  const ids = Array.from({ length: tasks }, (_, i) => `t${String(i).padStart(3, '0')}`);
  const incumbent = ids.map((id) => outcome(id, random() < rates.incumbent));
  const candidate = incumbent.map((o) => outcome(o.taskId, o.passed ? random() < rates.keep : random() < rates.unlock));
  const confirmation = ids.map((id) => outcome(id, random() < rates.cleared));
  const byId = (list: TaskOutcome[]) => new Map(list.map((o) => [o.taskId, o]));
  const cand = byId(candidate);
  const conf = byId(confirmation);
  const ran: string[] = [];
  return {
    ids,
    incumbent,
    candidate,
    confirmation,
    ran,
    runCandidate: async (taskIds: string[]) => {
      ran.push(...taskIds);
      return taskIds.map((id) => cand.get(id)!);
    },
    confirm: async (taskIds: string[]) => taskIds.map((id) => conf.get(id)!),
    fullRecheck: () => incumbent.filter((o) => o.passed && !cand.get(o.taskId)!.passed).map((o) => conf.get(o.taskId)!),
  };
}

describe('sequential seesaw', () => {
  it('orders solved tasks first, then unsolved with the given tasks first, each in gate order', () => {
    const incumbent = [outcome('a', false), outcome('b', true), outcome('c', false), outcome('d', true), outcome('v1', false), outcome('v2', true)];
    expect(sequentialGateOrder(incumbent, ['v1', 'v2'])).toEqual({ solved: ['b', 'd', 'v2'], unsolved: ['v1', 'a', 'c'] });
  });

  it('cuts the order into chunks of 8, 8, 16, 32, … covering every task once', () => {
    const order = { solved: Array.from({ length: 30 }, (_, i) => `s${i}`), unsolved: Array.from({ length: 40 }, (_, i) => `u${i}`) };
    const chunks = sequentialChunks(order);
    expect(chunks.map((c) => c.length)).toEqual([8, 8, 16, 32, 6]);
    expect(chunks.flat()).toEqual([...order.solved, ...order.unsolved]);
    expect(() => sequentialChunks(order, 0)).toThrow(/whole number/);
  });

  it('decides only what the remaining tasks cannot change', () => {
    const base = { solvedTotal: 10, solvedChecked: 10, suspects: 0, confirmedRegressions: 0, unsolvedTotal: 5, unsolvedChecked: 0, unlocked: 0 };
    expect(sequentialDecision({ ...base, confirmedRegressions: 1 }, 1)).toMatchObject({ decided: true, passed: false, why: 'regression' });
    expect(sequentialDecision({ ...base, unlocked: 1 }, 1)).toMatchObject({ decided: true, passed: true });
    // A cleared suspect still costs a solved task: the gain is unlocked − suspects.
    expect(sequentialDecision({ ...base, unlocked: 1, suspects: 1 }, 1)).toEqual({ decided: false });
    expect(sequentialDecision({ ...base, unsolvedChecked: 5, unlocked: 1, suspects: 1 }, 1)).toMatchObject({ decided: true, passed: false, why: 'gain_out_of_reach' });
    // Not every solved task checked: cannot pass yet, but an incumbent that solves every gate task leaves no gain.
    expect(sequentialDecision({ ...base, solvedChecked: 3, unlocked: 5 }, 1)).toEqual({ decided: false });
    expect(sequentialDecision({ ...base, solvedChecked: 0, unsolvedTotal: 0 }, 1)).toMatchObject({ decided: true, passed: false, why: 'gain_out_of_reach' });
  });

  it('reaches the full seesaw verdict on every case, and its detail from the tasks it ran', async () => {
    const random = generator(19);
    let cheaper = 0;
    for (let i = 0; i < 400; i++) {
      const rates = { incumbent: random(), keep: 0.8 + 0.2 * random(), unlock: 0.3 * random(), cleared: random() };
      const g = gateCase(random, 1 + Math.floor(random() * 80), rates);
      const minGain = Math.floor(random() * 4);
      const full = seesaw(g.incumbent, g.candidate, minGain, g.fullRecheck());
      const run = await runSequentialSeesaw({ incumbent: g.incumbent, firstTaskIds: g.ids.slice(-10), minGain, runCandidate: g.runCandidate, confirm: g.confirm });
      expect(run.outOfBudget).toBe(false);
      expect(run.decision).toMatchObject({ decided: true, passed: full.passed });
      expect(seesaw(run.incumbent, run.candidate, minGain, run.recheck).passed).toBe(full.passed);
      // No task runs twice, and a pass has checked every task the incumbent solves.
      expect(new Set(g.ran).size).toBe(g.ran.length);
      if (full.passed) for (const o of g.incumbent.filter((x) => x.passed)) expect(g.ran).toContain(o.taskId);
      if (g.ran.length < g.ids.length) cheaper++;
    }
    // The point of it: most gates stop before running the candidate on every task.
    expect(cheaper).toBeGreaterThan(200);
  });

  it('reaches the same verdict whatever the first chunk (the chunk moves spend, never the verdict)', async () => {
    const random = generator(23);
    for (let i = 0; i < 150; i++) {
      const rates = { incumbent: random(), keep: 0.8 + 0.2 * random(), unlock: 0.3 * random(), cleared: random() };
      const g = gateCase(random, 1 + Math.floor(random() * 120), rates);
      const minGain = Math.floor(random() * 4);
      const full = seesaw(g.incumbent, g.candidate, minGain, g.fullRecheck());
      for (const firstChunk of [1, 8, 64]) {
        const run = await runSequentialSeesaw({ incumbent: g.incumbent, minGain, runCandidate: g.runCandidate, confirm: g.confirm, firstChunk });
        expect(run.decision).toMatchObject({ decided: true, passed: full.passed });
      }
    }
  });

  it('sizes the first chunk to fill a self-hosted endpoint, and keeps 8 for the simulator and paid APIs', () => {
    const limits = (model: string, maxInFlight: number) => [{ model, limit: { maxInFlight }, source: 'run input' }];
    const local = 'openai-compatible:qwen@http://gpu:8000/v1';
    // 64 calls in flight keep 128 episodes open: 64 tasks at k = 2, 32 at k = 4.
    expect(sequentialFirstChunk({ limits: limits(local, 64), model: local, episodesPerTask: 2 })).toBe(64);
    expect(sequentialFirstChunk({ limits: limits(local, 64), model: local, episodesPerTask: 4 })).toBe(32);
    // Ollama's default 4 in flight: a chunk of 8 already fills it.
    expect(sequentialFirstChunk({ limits: limits(local, 4), model: local, episodesPerTask: 2 })).toBe(8);
    expect(sequentialFirstChunk({ limits: limits('sim:small', 64), model: 'sim:small', episodesPerTask: 2 })).toBe(8);
    expect(sequentialFirstChunk({ limits: limits('anthropic:claude-x', 64), model: 'anthropic:claude-x', episodesPerTask: 2 })).toBe(8);
    // Runs recorded before the limits were, or limits of another model: 8.
    expect(sequentialFirstChunk({ limits: null, model: local, episodesPerTask: 2 })).toBe(8);
    expect(sequentialFirstChunk({ limits: limits('openai-compatible:other@http://x/v1', 64), model: local, episodesPerTask: 2 })).toBe(8);
    // The run input's gateChunk wins, both ways.
    expect(sequentialFirstChunk({ requested: 3, limits: limits(local, 64), model: local, episodesPerTask: 2 })).toBe(3);
    expect(sequentialFirstChunk({ requested: 50, limits: null, model: 'sim:small', episodesPerTask: 2 })).toBe(50);
  });

  it('rejects a confirmed regression before running the unsolved tasks', async () => {
    const incumbent = [...Array.from({ length: 8 }, (_, i) => outcome(`s${i}`, true)), ...Array.from({ length: 20 }, (_, i) => outcome(`u${i}`, false))];
    const ran: string[] = [];
    const run = await runSequentialSeesaw({
      incumbent,
      minGain: 1,
      runCandidate: async (ids) => (ran.push(...ids), ids.map((id) => outcome(id, id !== 's3'))),
      confirm: async (ids) => ids.map((id) => outcome(id, false)),
    });
    expect(run.decision).toMatchObject({ decided: true, passed: false, why: 'regression' });
    expect(ran).toEqual(incumbent.slice(0, 8).map((o) => o.taskId));
    expect(seesaw(run.incumbent, run.candidate, 1, run.recheck).regressions).toEqual(['s3']);
  });

  it('stops undecided when the allowance is spent, asked before each chunk', async () => {
    const incumbent = Array.from({ length: 40 }, (_, i) => outcome(`t${i}`, i < 20));
    let chunks = 0;
    const run = await runSequentialSeesaw({
      incumbent,
      minGain: 1,
      runCandidate: async (ids) => (chunks++, ids.map((id) => outcome(id, incumbent.find((o) => o.taskId === id)!.passed))),
      confirm: async () => [],
      outOfBudget: () => chunks >= 2,
    });
    expect(run).toMatchObject({ outOfBudget: true, decision: { decided: false } });
    expect(run.candidate).toHaveLength(16);
  });
});

describe('evolution allowance and overshoot', () => {
  it('is what the caps leave, never negative; null or 0 without a cap', () => {
    expect(evolutionAllowance({ maxTokens: 100, maxUsd: 2 }, { tokens: 30, costUsd: 0.5 })).toEqual({ tokens: 70, usd: 1.5 });
    expect(evolutionAllowance({ maxTokens: 100 }, { tokens: 130, costUsd: null })).toEqual({ tokens: 0, usd: null });
    expect(evolutionAllowance({}, { tokens: 130, costUsd: 1 })).toEqual({ tokens: null, usd: null });
    expect(budgetOvershoot({ maxTokens: 100 }, { tokens: 130, costUsd: null })).toEqual({ tokens: 30, usd: 0 });
    expect(budgetOvershoot({ maxTokens: 100, maxUsd: 1 }, { tokens: 90, costUsd: 1.25 })).toEqual({ tokens: 0, usd: 0.25 });
    expect(budgetOvershoot({ maxUsd: 1 }, { tokens: 90, costUsd: null })).toEqual({ tokens: 0, usd: null });
  });

  it('is spent when either cap is reached', () => {
    expect(allowanceSpent(undefined, { tokens: 1e9, costUsd: 1e9 })).toBe(false);
    expect(allowanceSpent({ tokens: 10, usd: null }, { tokens: 9, costUsd: null })).toBe(false);
    expect(allowanceSpent({ tokens: 10, usd: null }, { tokens: 10, costUsd: null })).toBe(true);
    expect(allowanceSpent({ tokens: null, usd: 1 }, { tokens: 10, costUsd: 1 })).toBe(true);
    expect(allowanceSpent({ tokens: null, usd: 1 }, { tokens: 10, costUsd: null })).toBe(false);
  });
});

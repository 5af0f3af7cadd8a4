import { gateCompared, gateConcurrency, gateInRankingOrder, gateSeeds, gateWaves, VerdictApplied } from '../../aegis/gate-waves';
import { seededRandom } from '../../models/endpoint-limiter';

/**
 * Concurrent gating keeps "the first candidate in the Critic's ranking that passes" whatever the concurrency
 * and whatever order the evaluations finish in: verdicts are applied in ranking order, the rest of the wave
 * is recorded as not needed.
 */
describe('how many candidates the gate evaluates at once', () => {
  const limits = (model: string, maxInFlight: number) => [{ model, limit: { maxInFlight }, source: 'default' }];
  it('the run input wins, never more than there are candidates after the first', () => {
    expect(gateConcurrency({ requested: 3, limits: limits('sim:small', 2), model: 'sim:small', episodesPerCandidate: 100, candidates: 4 })).toBe(3);
    expect(gateConcurrency({ requested: 8, limits: null, model: 'sim:small', episodesPerCandidate: 100, candidates: 4 })).toBe(3);
    expect(gateConcurrency({ requested: 8, limits: null, model: 'sim:small', episodesPerCandidate: 100, candidates: 1 })).toBe(1);
    expect(gateConcurrency({ requested: 1, limits: limits('openai-compatible:m@http://h/v1', 64), model: 'openai-compatible:m@http://h/v1', episodesPerCandidate: 4, candidates: 4 })).toBe(1);
  });
  it('otherwise enough candidates to fill the episodes a rollout keeps open at the endpoint', () => {
    const url = 'openai-compatible:m@http://127.0.0.1:8000/v1';
    // 64 calls in flight → 128 episodes open; 48 episodes per candidate → 3 candidates fill it.
    expect(gateConcurrency({ limits: limits(url, 64), model: url, episodesPerCandidate: 48, candidates: 8 })).toBe(3);
    expect(gateConcurrency({ limits: limits(url, 64), model: url, episodesPerCandidate: 8, candidates: 4 })).toBe(3);
    // One candidate fills the endpoint alone: nothing is evaluated speculatively.
    expect(gateConcurrency({ limits: limits(url, 32), model: url, episodesPerCandidate: 120, candidates: 4 })).toBe(1);
    // The simulator is CPU work on the worker's thread: sequential, whatever its limit.
    expect(gateConcurrency({ limits: limits('sim:small', 2), model: 'sim:small', episodesPerCandidate: 40, candidates: 4 })).toBe(1);
    expect(gateConcurrency({ limits: limits('sim:small', 64), model: 'sim:small', episodesPerCandidate: 4, candidates: 4 })).toBe(1);
    // Limits not recorded (runs from before they were), or recorded for another model: sequential.
    expect(gateConcurrency({ limits: null, model: url, episodesPerCandidate: 8, candidates: 4 })).toBe(1);
    // Paid APIs pay for speculative gates: sequential unless the run asks.
    expect(gateConcurrency({ limits: limits('anthropic:claude-opus-4-6', 64), model: 'anthropic:claude-opus-4-6', episodesPerCandidate: 8, candidates: 4 })).toBe(1);
    expect(gateConcurrency({ requested: 3, limits: limits('openai:gpt-5.4', 64), model: 'openai:gpt-5.4', episodesPerCandidate: 8, candidates: 4 })).toBe(3);
    expect(gateConcurrency({ limits: limits('sim:small', 64), model: url, episodesPerCandidate: 8, candidates: 4 })).toBe(1);
  });
  it('waves: the first candidate alone, then the rest in ranking order; the gate seeds are the activity\'s', () => {
    expect(gateWaves(['a', 'b', 'c', 'd', 'e', 'f'], 2)).toEqual([['a'], ['b', 'c'], ['d', 'e'], ['f']]);
    expect(gateWaves(['a', 'b', 'c'], 4)).toEqual([['a'], ['b', 'c']]);
    expect(gateWaves(['a', 'b'], 1)).toEqual([['a'], ['b']]);
    expect(gateWaves([], 3)).toEqual([]);
    expect(() => gateWaves(['a'], 0)).toThrow(/gate concurrency must be a whole number ≥ 1/);
    expect(gateSeeds('s')).toEqual(['s']);
    expect(gateSeeds('s', { mode: 'statistical', repeats: 3 })).toEqual(['s', 's|repeat-1', 's|repeat-2']);
  });
});

describe('gateCompared', () => {
  it('is true once the comparison ran (passed or not), false for a gate stopped at its static checks', () => {
    const statics = [{ check: 'manifest_complete' }, { check: 'canonical_form' }, { check: 'reward_hacking' }, { check: 'code_sandbox' }, { check: 'smoke_test' }];
    expect(gateCompared({ checks: [...statics, { check: 'seesaw' }] })).toBe(true);
    expect(gateCompared({ checks: statics.slice(0, 3) })).toBe(false);
    expect(gateCompared({ checks: [] })).toBe(false);
  });
});

describe('gating in ranking order', () => {
  type Verdict = { candidate: string; action: 'ship' | 'reject' | 'fork' | 'fail'; spend: number };
  /** A gate whose evaluation takes a random time (seeded), so later candidates often finish first. */
  async function gateRun(options: { ranking: string[]; verdicts: Record<string, Verdict['action']>; concurrency: number; seed: string; budget?: number; approval?: Record<string, boolean>; lookahead?: boolean; started?: string[] }) {
    const random = seededRandom(options.seed);
    const log: string[] = [];
    let spent = 0;
    let inFlight = 0;
    let peak = 0;
    const discarded: Array<Promise<Verdict>> = [];
    const aheadOf = new Set<string>();
    const evaluate = async (candidate: string, ahead: boolean): Promise<Verdict> => {
      log.push(`evaluate ${candidate}`);
      if (ahead) aheadOf.add(candidate);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, Math.floor(random() * 8)));
      inFlight--;
      if (options.verdicts[candidate] === 'fail') throw new Error(`gate of ${candidate} failed`);
      return { candidate, action: options.verdicts[candidate], spend: 10 };
    };
    // Evaluations begun before the stage (a gate started while the Critic ranked).
    const started = new Map((options.started ?? []).map((c) => [c, evaluate(c, true)] as const));
    started.forEach((p) => p.catch(() => undefined));
    const discard = (candidate: string, verdict: Promise<Verdict>) => {
      log.push(`discard ${candidate}`);
      discarded.push(verdict);
    };
    const end = await gateInRankingOrder<string, Verdict>({
      ranking: options.ranking,
      concurrency: options.concurrency,
      mayContinue: () => options.budget === undefined || spent < options.budget,
      ...(options.lookahead ? { lookahead: { discard } } : {}),
      ...(options.started ? { started: { evaluations: started, discard } } : {}),
      evaluate,
      apply: async (candidate, v): Promise<VerdictApplied> => {
        spent += v.spend;
        log.push(`apply ${candidate}:${v.action}`);
        if (v.action === 'fork') return { done: true, shipped: true };
        if (v.action !== 'ship') return { done: false };
        if (options.approval && options.approval[candidate] === false) return { done: false };
        return { done: true, shipped: true };
      },
      notNeeded: async (candidate, v) => {
        spent += v.spend;
        log.push(`not needed ${candidate}`);
      },
    });
    const applied = log.filter((l) => l.startsWith('apply'));
    const notNeeded = log.filter((l) => l.startsWith('not needed'));
    const evaluated = log.filter((l) => l.startsWith('evaluate'));
    const discards = log.filter((l) => l.startsWith('discard'));
    // Discarded work settles after the stage (the workflow counts its spend then): none may reject unhandled.
    await Promise.allSettled(discarded);
    return { end, applied, notNeeded, evaluated, discards, aheadOf, log, spent, peak };
  }

  const ranking = ['c1', 'c2', 'c3', 'c4', 'c5'];
  const cases: Array<[string, Record<string, Verdict['action']>]> = [
    ['the first passes', { c1: 'ship', c2: 'ship', c3: 'reject', c4: 'reject', c5: 'reject' }],
    ['the third passes, a later one too', { c1: 'reject', c2: 'reject', c3: 'ship', c4: 'reject', c5: 'ship' }],
    ['the last passes', { c1: 'reject', c2: 'reject', c3: 'reject', c4: 'reject', c5: 'ship' }],
    ['none passes', { c1: 'reject', c2: 'reject', c3: 'reject', c4: 'reject', c5: 'reject' }],
    ['a fork decides', { c1: 'reject', c2: 'fork', c3: 'ship', c4: 'reject', c5: 'reject' }],
  ];
  it.each(cases)('%s: same verdicts applied, same end, at every concurrency and completion order', async (_label, verdicts) => {
    const sequential = await gateRun({ ranking, verdicts, concurrency: 1, seed: 'seq' });
    // One at a time evaluates exactly what it applies.
    expect(sequential.evaluated.map((e) => e.slice(9))).toEqual(sequential.applied.map((a) => a.slice(6).split(':')[0]));
    expect(sequential.peak).toBe(1);
    for (const concurrency of [2, 3, 5])
      for (const seed of ['a', 'b', 'c', 'd']) {
        const r = await gateRun({ ranking, verdicts, concurrency, seed });
        expect(r.end).toEqual(sequential.end);
        expect(r.applied).toEqual(sequential.applied);
        // Evaluated = applied + not needed, none twice; the first candidate is evaluated alone.
        expect([...r.applied.map((a) => a.slice(6).split(':')[0]), ...r.notNeeded.map((n) => n.slice(11))].sort()).toEqual(r.evaluated.map((e) => e.slice(9)).sort());
        expect(r.log.slice(0, 2)).toEqual(['evaluate c1', `apply c1:${verdicts.c1}`]);
        expect(r.peak).toBeLessThanOrEqual(concurrency);
      }
  });

  it.each(cases)('%s, with lookahead: same verdicts applied and end; what was started ahead and not reached is discarded', async (_label, verdicts) => {
    const sequential = await gateRun({ ranking, verdicts, concurrency: 1, seed: 'seq' });
    for (const concurrency of [1, 2, 3])
      for (const seed of ['a', 'b', 'c']) {
        const r = await gateRun({ ranking, verdicts, concurrency, seed, lookahead: true });
        expect(r.end).toEqual(sequential.end);
        expect(r.applied).toEqual(sequential.applied);
        const name = (l: string) => l.split(' ')[l.startsWith('not needed') ? 2 : 1].split(':')[0];
        // Everything evaluated is applied, not needed, or discarded, once.
        expect([...r.applied, ...r.notNeeded, ...r.discards].map(name).sort()).toEqual(r.evaluated.map(name).sort());
        // The first candidate's gate starts the next wave's ahead, before any verdict is applied.
        expect(r.log[0]).toBe('evaluate c1');
        if (concurrency === 1) expect(r.log[1]).toBe('evaluate c2');
        expect(r.aheadOf.has('c1')).toBe(false);
        // Only what a decided round never reached is discarded, and never a candidate whose verdict was applied.
        for (const d of r.discards) expect(r.applied.map(name)).not.toContain(name(d));
        if (r.end.end === 'exhausted') expect(r.discards).toEqual([]);
        // Waves alternate: a wave started ahead starts none of its own, so two consecutive waves are never both ahead.
        const waves = gateWaves(ranking, concurrency);
        for (let w = 1; w < waves.length; w++) expect(waves[w - 1].some((c) => r.aheadOf.has(c)) && waves[w].some((c) => r.aheadOf.has(c))).toBe(false);
      }
  });

  it.each(cases)('%s, with gates begun before the stage: same verdicts applied and end; each begun gate is used in its turn or discarded, never run twice', async (_label, verdicts) => {
    const sequential = await gateRun({ ranking, verdicts, concurrency: 1, seed: 'seq' });
    const name = (l: string) => l.split(' ')[l.startsWith('not needed') ? 2 : 1].split(':')[0];
    // The first-ranked candidate (what the stage usually begins), a later one, and one the ranking left out.
    for (const begun of [['c1'], ['c3'], ['c1', 'c9']])
      for (const lookahead of [false, true])
        for (const concurrency of [1, 3])
          for (const seed of ['a', 'b']) {
            const r = await gateRun({ ranking, verdicts: { ...verdicts, c9: 'ship' }, concurrency, seed, lookahead, started: begun });
            expect(r.end).toEqual(sequential.end);
            expect(r.applied).toEqual(sequential.applied);
            // Nothing is evaluated twice; everything evaluated is applied, not needed, or discarded, once.
            expect(new Set(r.evaluated).size).toBe(r.evaluated.length);
            expect([...r.applied, ...r.notNeeded, ...r.discards].map(name).sort()).toEqual(r.evaluated.map(name).sort());
            // The one the ranking left out is never applied, only discarded.
            if (begun.includes('c9')) expect(r.discards).toContain('discard c9');
            // A begun gate the round reached was used, not discarded.
            for (const c of begun) if (sequential.applied.some((a) => name(a) === c)) expect(r.discards).not.toContain(`discard ${c}`);
          }
  });

  it('lookahead: a gate started ahead that fails is discarded when the round is decided first, and fails the stage in its turn otherwise', async () => {
    const decidedFirst = await gateRun({ ranking: ['c1', 'c2'], verdicts: { c1: 'ship', c2: 'fail' }, concurrency: 1, seed: 'x', lookahead: true });
    expect(decidedFirst.end).toEqual({ end: 'decided', shipped: true });
    expect(decidedFirst.discards).toEqual(['discard c2']);
    await expect(gateRun({ ranking: ['c1', 'c2', 'c3'], verdicts: { c1: 'reject', c2: 'fail', c3: 'ship' }, concurrency: 1, seed: 'y', lookahead: true })).rejects.toThrow('gate of c2 failed');
  });

  it('lookahead under a budget that runs out: the same stop, and the gate started ahead is discarded, not counted', async () => {
    const verdicts = { c1: 'reject', c2: 'reject', c3: 'ship', c4: 'reject', c5: 'reject' } as const;
    const sequential = await gateRun({ ranking, verdicts, concurrency: 1, seed: 's', budget: 10 });
    const r = await gateRun({ ranking, verdicts, concurrency: 1, seed: 's', budget: 10, lookahead: true });
    expect(r.end).toEqual({ end: 'stopped' });
    expect(r.applied).toEqual(sequential.applied);
    expect(r.discards).toEqual(['discard c2']);
    expect(r.spent).toBe(sequential.spent);
  });

  it('the first that passes ships even when a later one finishes first', async () => {
    const verdicts = { c1: 'reject', c2: 'reject', c3: 'ship', c4: 'ship', c5: 'ship' } as const;
    for (const seed of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const r = await gateRun({ ranking, verdicts, concurrency: 5, seed });
      expect(r.applied).toEqual(['apply c1:reject', 'apply c2:reject', 'apply c3:ship']);
      expect(r.notNeeded).toEqual(['not needed c4', 'not needed c5']);
      // Their spend is counted: five evaluations paid for.
      expect(r.spent).toBe(50);
    }
  });

  it('a budget that runs out stops at the same candidate as one at a time', async () => {
    const verdicts = { c1: 'reject', c2: 'reject', c3: 'reject', c4: 'ship', c5: 'reject' } as const;
    const sequential = await gateRun({ ranking, verdicts, concurrency: 1, seed: 's', budget: 25 });
    expect(sequential.end).toEqual({ end: 'stopped' });
    expect(sequential.applied).toEqual(['apply c1:reject', 'apply c2:reject', 'apply c3:reject']);
    const concurrent = await gateRun({ ranking, verdicts, concurrency: 5, seed: 's', budget: 25 });
    expect(concurrent.end).toEqual({ end: 'stopped' });
    expect(concurrent.applied).toEqual(sequential.applied);
    expect(concurrent.notNeeded).toEqual(['not needed c4', 'not needed c5']);
  });

  it('a reviewer rejecting the candidate that passed goes on to the next in ranking order', async () => {
    const verdicts = { c1: 'ship', c2: 'reject', c3: 'ship', c4: 'ship', c5: 'reject' } as const;
    const r = await gateRun({ ranking, verdicts, concurrency: 3, seed: 'r', approval: { c1: false } });
    expect(r.applied).toEqual(['apply c1:ship', 'apply c2:reject', 'apply c3:ship']);
    expect(r.notNeeded).toEqual(['not needed c4']);
    expect(r.evaluated).toHaveLength(4);
  });

  it('a failed evaluation fails the stage only where one at a time would have met it', async () => {
    // c3 fails, but c2 (in the same wave) ships first: the failure is not needed.
    const shipsFirst = await gateRun({ ranking, verdicts: { c1: 'reject', c2: 'ship', c3: 'fail', c4: 'reject', c5: 'reject' }, concurrency: 5, seed: 'f' });
    expect(shipsFirst.end).toEqual({ end: 'decided', shipped: true });
    await expect(gateRun({ ranking, verdicts: { c1: 'reject', c2: 'reject', c3: 'fail', c4: 'ship', c5: 'reject' }, concurrency: 5, seed: 'f' })).rejects.toThrow('gate of c3 failed');
    await expect(gateRun({ ranking, verdicts: { c1: 'reject', c2: 'reject', c3: 'fail', c4: 'ship', c5: 'reject' }, concurrency: 1, seed: 'f' })).rejects.toThrow('gate of c3 failed');
  });
});

import { statisticalSeesaw } from '../../aegis/gate';
import type { TaskOutcome } from '../../aegis/rollout';

/** A repeat's outcomes: the listed tasks pass, the others fail. */
const run = (ids: string[], passing: string[]): TaskOutcome[] => ids.map((taskId) => ({ taskId, passed: passing.includes(taskId), successes: passing.includes(taskId) ? 1 : 0, attempts: 2 }));
const ids = Array.from({ length: 10 }, (_, i) => `t${i}`);

describe('statistical gating', () => {
  test('a consistent gain over paired repeats is significant', () => {
    const inc = [run(ids, ['t0', 't1']), run(ids, ['t0', 't1', 't2']), run(ids, ['t0', 't1'])];
    const cand = [run(ids, ['t0', 't1', 't5', 't6', 't7']), run(ids, ['t0', 't1', 't2', 't5', 't6', 't7']), run(ids, ['t0', 't1', 't5', 't6', 't7'])];
    const r = statisticalSeesaw(inc, cand, { minGain: 1, tCritical: 2 });
    // gains 3,3,3: mean 3, sd floored at 0.5 → t = 3 / (0.5/√3) ≈ 10.39
    expect(r.stats.gains).toEqual([3, 3, 3]);
    expect(r.stats.t).toBeCloseTo(10.392, 2);
    expect(r.stats.incumbentNoiseSd).toBeCloseTo(0.577, 2);
    expect(r).toMatchObject({ passed: true, unlocked: ['t5', 't6', 't7'], regressions: [] });
  });

  test('a gain that one lucky repeat carries is within noise and does not ship', () => {
    const inc = [run(ids, ['t0']), run(ids, ['t0', 't1', 't2', 't3']), run(ids, ['t0'])];
    const cand = [run(ids, ['t0', 't4', 't5', 't6', 't7']), run(ids, ['t0', 't1']), run(ids, ['t0', 't8'])];
    const r = statisticalSeesaw(inc, cand, { minGain: 1, tCritical: 2 });
    // gains 4, -2, 1: mean 1, sd 3 → t = 1 / (3/√3) ≈ 0.577
    expect(r.stats.gains).toEqual([4, -2, 1]);
    expect(r.stats.t).toBeCloseTo(0.577, 2);
    expect(r).toMatchObject({ passed: false, detail: expect.stringMatching(/^gain within noise/) });
  });

  test('a task the incumbent solves in most repeats and the candidate in few is a regression', () => {
    const inc = [run(ids, ['t0', 't9']), run(ids, ['t0', 't9']), run(ids, ['t0'])];
    const cand = [run(ids, ['t0', 't1', 't2', 't3']), run(ids, ['t0', 't1', 't2', 't3']), run(ids, ['t0', 't1', 't2', 't3', 't9'])];
    const r = statisticalSeesaw(inc, cand, { minGain: 1, tCritical: 2 });
    expect(r).toMatchObject({ passed: false, regressions: ['t9'], detail: expect.stringMatching(/regresses 1 task/) });
  });

  test('below the minimum gain it does not ship however steady', () => {
    const inc = [run(ids, ['t0']), run(ids, ['t0']), run(ids, ['t0'])];
    const r = statisticalSeesaw(inc, inc, { minGain: 1, tCritical: 2 });
    expect(r).toMatchObject({ passed: false, detail: expect.stringMatching(/^no gain/) });
  });
});

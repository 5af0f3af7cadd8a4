import { clusterScore, forkVariant, leadVariant, recordOutcomes, routeTasks, Variant } from '../../aegis/variants';

const clusterOf = (id: string) => id.split(':')[0];
const v = (id: string, stats: Variant['stats'] = {}): Variant => ({ id, harnessId: `hx-${id}`, parentId: null, born: 0, stats });

describe('variant isolation', () => {
  test('routes each task to the variant with the best smoothed success on its cluster; ties stay with the elder', () => {
    const pool = [v('v0', { a: { passed: 2, total: 10 }, b: { passed: 8, total: 10 } }), v('v1', { a: { passed: 3, total: 3 } })];
    // v0 on a: 3/12 = 0.25; v1 on a: 4/5 = 0.8. On b: v0 9/12 = 0.75; v1 unseen 0.5. On c: both 0.5 → v0.
    expect(clusterScore(pool[1], 'a')).toBeCloseTo(0.8);
    expect(routeTasks(pool, ['a:1', 'b:1', 'c:1', 'a:2'], clusterOf)).toEqual({ v0: ['b:1', 'c:1'], v1: ['a:1', 'a:2'] });
  });

  test('rollouts update each variant’s own cluster statistics', () => {
    const pool = recordOutcomes([v('v0'), v('v1')], { v0: [{ taskId: 'a:1', passed: true, successes: 1, attempts: 2 }, { taskId: 'a:2', passed: false, successes: 0, attempts: 2 }] }, clusterOf);
    expect(pool[0].stats).toEqual({ a: { passed: 1, total: 2 } });
    expect(pool[1].stats).toEqual({});
  });

  test('a fork is credited with its gate evidence; over capacity the worst variant retires, never the new one', () => {
    const pool = [v('v0', { a: { passed: 5, total: 10 } }), v('v1', { a: { passed: 1, total: 10 } })];
    const r = forkVariant(pool, { parentId: 'v0', harnessId: 'hx-new', round: 4, unlocked: ['b:1', 'b:2'], regressions: ['a:3'] }, clusterOf, 2);
    expect(r.forked).toEqual({ id: 'v2', harnessId: 'hx-new', parentId: 'v0', born: 4, stats: { b: { passed: 2, total: 2 }, a: { passed: 0, total: 1 } } });
    expect(r.retired?.id).toBe('v1');
    expect(r.variants.map((x) => x.id)).toEqual(['v0', 'v2']);
    // The fork now serves cluster b, the parent keeps a.
    expect(routeTasks(r.variants, ['a:9', 'b:9'], clusterOf)).toEqual({ v0: ['a:9'], v2: ['b:9'] });
    expect(leadVariant(r.variants).id).toBe('v2');
  });
});

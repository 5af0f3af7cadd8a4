import { canonicalJson, jsonEqual } from '../../harness/canonical';
import { HarnessConfigError, harnessId, parseHarnessConfig, toJson } from '../../harness/config';
import { applyEdit, insert, remove, replace, configure } from '../../harness/builder';
import { seedHarness } from '../../harness/seed';

const base = {
  model: { main: { model: 'sim:small' } },
  hooks: {
    before_model: [
      { id: 'loop', type: 'loop_detection', params: {} },
      { id: 'adm', type: 'admissible_actions', params: {} },
    ],
    step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 10 } }],
  },
};

describe('harness config: canonical form and hash', () => {
  it('hashes equal configs equal, whatever the key or processor order', () => {
    const reordered = {
      hooks: {
        step_start: [{ params: { maxSteps: 10 }, type: 'step_budget', id: 'budget' }],
        before_model: [
          { id: 'adm', type: 'admissible_actions', params: {} },
          { id: 'loop', type: 'loop_detection', params: {} },
        ],
      },
      model: { main: { model: 'sim:small' } },
    };
    expect(harnessId(parseHarnessConfig(base))).toBe(harnessId(parseHarnessConfig(reordered)));
    expect(harnessId(parseHarnessConfig(base))).toMatch(/^hx-[0-9a-f]{16}$/);
  });

  it('applies defaults so an explicit default hashes like an omitted one', () => {
    const explicit = { ...base, hooks: { ...base.hooks, before_model: [{ id: 'adm', type: 'admissible_actions', params: { maxListed: 60 } }, base.hooks.before_model[0]] } };
    expect(harnessId(parseHarnessConfig(explicit))).toBe(harnessId(parseHarnessConfig(base)));
  });

  it('changes the id when anything that matters changes', () => {
    const changed = { ...base, hooks: { ...base.hooks, step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 11 } }] } };
    expect(harnessId(parseHarnessConfig(changed))).not.toBe(harnessId(parseHarnessConfig(base)));
    const otherModel = { ...base, model: { main: { model: 'sim:large' } } };
    expect(harnessId(parseHarnessConfig(otherModel))).not.toBe(harnessId(parseHarnessConfig(base)));
  });

  it('round-trips through JSON to the same id, in execution order', () => {
    const config = parseHarnessConfig(base);
    const again = parseHarnessConfig(JSON.parse(toJson(config)));
    expect(harnessId(again)).toBe(harnessId(config));
    // pre < normal, then soft `after` deps, then id: admissible_actions and loop_detection are both normal.
    expect(config.hooks.before_model.map((p) => p.id)).toEqual(['adm', 'loop']);
  });

  it('rejects bad configs naming the field and the rule', () => {
    const bad = (input: unknown) => {
      try {
        parseHarnessConfig(input);
      } catch (e) {
        expect(e).toBeInstanceOf(HarnessConfigError);
        return (e as HarnessConfigError).issues.join('\n');
      }
      throw new Error('expected a HarnessConfigError');
    };
    expect(bad({ hooks: {} })).toMatch(/model: /);
    expect(bad({ ...base, hooks: { before_model: [{ id: 'x', type: 'no_such', params: {} }] } })).toMatch(/hooks\.before_model\.x: unknown processor type "no_such"/);
    expect(bad({ ...base, hooks: { after_tool: [{ id: 'x', type: 'step_budget', params: {} }] } })).toMatch(/attaches only to step_start/);
    expect(bad({ ...base, hooks: { step_start: [{ id: 'b', type: 'step_budget', params: { maxSteps: -1 } }] } })).toMatch(/hooks\.step_start\.b\.params\.maxSteps/);
    expect(bad({ ...base, hooks: { step_start: [{ id: 'a', type: 'step_budget', params: {} }, { id: 'b', type: 'step_budget', params: {} }] } })).toMatch(/singleton group "step_budget"/);
    expect(bad({ ...base, hooks: { step_start: [{ id: 'a', type: 'step_budget' }], step_end: [{ id: 'a', type: 'tracer' }] } })).toMatch(/"a" is used twice/);
    expect(bad({ ...base, hookz: {} })).toMatch(/hookz|Unrecognized/);
  });
});

describe('builder algebra', () => {
  const seed = seedHarness();
  it('inserts, replaces by singleton group, configures and removes, returning new validated configs', () => {
    const a = insert(seed, 'step_start', { id: 'win', type: 'sliding_window', params: { keepLast: 8 } });
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(seed.hooks.step_start.map((p) => p.id)).toEqual(['step_budget']); // inputs are not mutated
    const b = replace(a.config, 'step_start', 'history_window', { id: 'sum', type: 'episode_summary', params: {} });
    expect(b.ok && b.config.hooks.step_start.map((p) => p.type)).toEqual(['step_budget', 'episode_summary']);
    const c = configure(seed, 'step_budget', { maxSteps: 30 });
    expect(c.ok && c.config.hooks.step_start[0].params).toEqual({ maxSteps: 30 });
    const d = remove(seed, 'tracer');
    expect(d.ok && d.config.hooks.step_end).toEqual([]);
    if (d.ok) expect(harnessId(d.config)).not.toBe(harnessId(seed));
  });

  it.each([
    [{ op: 'insert', hook: 'before_model', processor: { id: 'x', type: 'nope', params: {} } }, 'unknown_type'],
    [{ op: 'insert', hook: 'before_model', processor: { id: 'x', type: 'step_budget', params: {} } }, 'hook_not_allowed'],
    [{ op: 'insert', hook: 'step_end', processor: { id: 'tracer', type: 'tracer', params: {} } }, 'duplicate_id'],
    [{ op: 'insert', hook: 'step_start', processor: { id: 'b2', type: 'step_budget', params: {} } }, 'singleton_conflict'],
    [{ op: 'replace', hook: 'step_start', group: 'history_window', processor: { id: 'w', type: 'sliding_window', params: {} } }, 'no_such_group'],
    [{ op: 'replace', hook: 'step_start', group: 'step_budget', processor: { id: 'w', type: 'sliding_window', params: {} } }, 'group_mismatch'],
    [{ op: 'remove', processorId: 'ghost' }, 'no_such_processor'],
    [{ op: 'configure', processorId: 'step_budget', params: { maxSteps: 'many' } }, 'invalid_params'],
  ])('rejects %j with rule %s', (edit, rule) => {
    const result = applyEdit(seed, edit as never);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.rule).toBe(rule);
      expect(result.error.message.length).toBeGreaterThan(10);
    }
  });
});

describe('jsonEqual: canonical-JSON equality without building the text', () => {
  // A seeded generator of JSON-ish values, including what JSON omits or renders specially.
  let state = 7;
  const rand = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const leaves: unknown[] = [0, 1, -2.5, NaN, Infinity, '', 'a', 'b', true, false, null, undefined, () => 1, new Date(0)];
  const gen = (depth: number): unknown => {
    const r = rand();
    if (depth === 0 || r < 0.4) return leaves[Math.floor(rand() * leaves.length)];
    if (r < 0.7) return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth - 1));
    const o: Record<string, unknown> = {};
    for (const k of ['x', 'y', 'z', 'w'].slice(0, Math.floor(rand() * 5))) o[k] = gen(depth - 1);
    return o;
  };
  /** A deep copy with keys reversed and, sometimes, one leaf changed: equal and unequal pairs alike. */
  const variant = (v: unknown, mutate: { left: boolean }): unknown => {
    if (mutate.left && rand() < 0.15) {
      mutate.left = false;
      return leaves[Math.floor(rand() * leaves.length)];
    }
    if (Array.isArray(v)) return v.map((x) => variant(x, mutate));
    if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, variant(x, mutate)]));
    return v;
  };

  it('agrees with comparing canonicalJson text on 5000 random pairs, equal and not', () => {
    let equal = 0;
    for (let i = 0; i < 5000; i++) {
      const a = gen(4);
      const b = variant(a, { left: rand() < 0.5 });
      const expected = canonicalJson(a) === canonicalJson(b);
      if (expected) equal++;
      expect([i, jsonEqual(a, b)]).toEqual([i, expected]);
      expect([i, jsonEqual(b, a)]).toEqual([i, expected]);
    }
    // Both outcomes are well represented, so the agreement is not one-sided.
    expect(equal).toBeGreaterThan(1000);
    expect(equal).toBeLessThan(4500);
  });

  it('ignores key order and undefined members, and sees a changed leaf deep down', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1, d: undefined })).toBe(true);
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { a: 1, b: [1, { c: 'y' }] })).toBe(false);
    expect(jsonEqual([undefined], [null])).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });
});

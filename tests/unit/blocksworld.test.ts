import { BlocksworldBenchmark } from '../../benchmarks/blocksworld';
import { parseDomain, parseProblem, parseSExpr } from '../../benchmarks/blocksworld/pddl';
import { getBenchmark } from '../../benchmarks/registry';
import { sampleIds, splitOf } from '../../benchmarks/split';
import type { ToolCall } from '../../harness/types';

const bench = getBenchmark('blocksworld') as BlocksworldBenchmark;
const tasks = bench.tasks();

describe('blocksworld data and STRIPS verifier', () => {
  it('loads every PlanBench instance that has a gold plan', () => {
    expect(tasks.length).toBe(349);
    expect(tasks[0].instruction).toMatch(/As initial conditions I have that, .*\nMy goal is to have that .*block/);
  });

  it('accepts every shipped gold plan', () => {
    const failures = tasks.map((t) => [t.id, bench.verifyPlan(t.id, bench.referenceSolution(t.id))] as const).filter(([, v]) => !v.valid);
    expect(failures).toEqual([]);
  });

  it('rejects corrupted gold plans: a dropped step, swapped steps, a wrong block, an empty plan', () => {
    let rejected = 0;
    for (const t of tasks) {
      const gold = bench.referenceSolution(t.id);
      const corruptions: ToolCall[][] = [gold.slice(0, -1), []];
      if (gold.length >= 2) corruptions.push([gold[1], gold[0], ...gold.slice(2)]);
      corruptions.push(gold.map((c, i) => (i === 0 ? { ...c, args: { ...c.args, block: 'gold' } } : c)));
      for (const plan of corruptions) {
        expect(bench.verifyPlan(t.id, plan).valid).toBe(false);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it('parses PDDL domains and problems', () => {
    expect(parseSExpr('(a (b c) ; comment\n d)')).toEqual(['a', ['b', 'c'], 'd']);
    expect(() => parseSExpr('(a (b)')).toThrow(/missing|end of input/);
    const domain = parseDomain('(define (domain d) (:action go :parameters (?x) :precondition (and (at ?x)) :effect (and (done ?x) (not (at ?x)))))');
    expect(domain.actions.get('go')).toEqual({ name: 'go', parameters: ['?x'], precondition: [['at', '?x']], add: [['done', '?x']], del: [['at', '?x']] });
    const problem = parseProblem('(define (problem p) (:domain d) (:objects a b) (:init (at a)) (:goal (and (done a))))');
    expect(problem).toEqual({ name: 'p', objects: ['a', 'b'], init: [['at', 'a']], goal: [['done', 'a']] });
  });
});

describe('blocksworld environment', () => {
  const id = tasks[0].id;
  it('reports invalid actions back with the unmet precondition, and keeps the state', () => {
    const env = new BlocksworldBenchmark({ flakiness: 0 }).createEnvironment(id, { seed: 's' });
    const before = env.admissibleActions();
    const r = env.execute({ id: '1', name: 'pick_up', args: { block: 'red' } });
    expect(r).toEqual(expect.objectContaining({ ok: false, errorKind: 'precondition', output: expect.stringMatching(/^Invalid action: cannot pick up the red block; it requires that the red block is on the table\.\nCurrent state: /) }));
    expect(env.admissibleActions()).toEqual(before);
    expect(env.execute({ id: '2', name: 'pick_up', args: { block: 'the red block' } }).errorKind).toBe('bad_arguments');
    expect(env.execute({ id: '3', name: 'fly', args: {} }).errorKind).toBe('unknown_tool');
  });

  it('reaches the goal by executing the gold plan step by step, and scores 1 only then', () => {
    const env = new BlocksworldBenchmark({ flakiness: 0 }).createEnvironment(id, { seed: 's' });
    expect(env.score()).toBe(0);
    for (const call of bench.referenceSolution(id)) expect(env.execute(call).ok).toBe(true);
    expect(env.isDone()).toBe(true);
    expect(env.score()).toBe(1);
  });

  it('injects seeded transient faults that leave the state unchanged', () => {
    const flaky = new BlocksworldBenchmark({ flakiness: 1 }).createEnvironment(id, { seed: 's' });
    const r = flaky.execute(bench.referenceSolution(id)[0]);
    expect(r.errorKind).toBe('transient');
    expect(flaky.score()).toBe(0);
  });
});

describe('deterministic split', () => {
  it('splits by task id alone, about 60/20/20, the same every time', () => {
    const counts = { train: 0, validation: 0, test: 0 };
    for (const t of tasks) {
      expect(t.split).toBe(splitOf(t.id));
      counts[t.split]++;
    }
    expect(counts.train / tasks.length).toBeGreaterThan(0.5);
    expect(counts.test / tasks.length).toBeGreaterThan(0.12);
    expect(counts.validation / tasks.length).toBeGreaterThan(0.12);
    expect(sampleIds(['a', 'b', 'c', 'd'], 2, 'k')).toEqual(sampleIds(['d', 'c', 'b', 'a'], 2, 'k'));
  });
});

import { checkBenchmark } from '../../benchmarks/check-benchmark';
import { evaluateExpression, readNumber } from '../../benchmarks/gsm8k/arithmetic';
import { Gsm8kBenchmark, gsm8kId, parseGsm8kLine } from '../../benchmarks/gsm8k';
import { getBenchmark } from '../../benchmarks/registry';
import { rolloutTasks } from '../../aegis/rollout';
import { seedHarness } from '../../harness/seed';
import { harnessId } from '../../harness/config';

const bench = getBenchmark('gsm8k') as Gsm8kBenchmark;

describe('GSM8K', () => {
  test('the calculator evaluates arithmetic without eval and explains what it cannot read', () => {
    expect(evaluateExpression('16-3-4')).toEqual({ ok: true, value: 9 });
    expect(evaluateExpression('(2+3)*4^2/10')).toEqual({ ok: true, value: 8 });
    expect(evaluateExpression('1,200*5%')).toEqual({ ok: true, value: 60 });
    expect(evaluateExpression('-3*-2')).toEqual({ ok: true, value: 6 });
    expect(evaluateExpression('9 times 2')).toEqual({ ok: false, error: 'unexpected "t" at position 2 of "9 times 2"' });
    expect(evaluateExpression('4/0')).toMatchObject({ ok: false, error: expect.stringMatching(/division by zero/) });
    expect(evaluateExpression('process.exit()')).toMatchObject({ ok: false });
  });

  test('answers are read as GSM8K writes them', () => {
    expect(readNumber('$1,234.50')).toBe(1234.5);
    expect(readNumber('18 dollars')).toBe(18);
    expect(readNumber('none')).toBeNull();
    expect(parseGsm8kLine(JSON.stringify({ question: 'q', answer: 'a <<2*3=6>> b <<6+1=7>>\n#### 7' }), 0)).toEqual({ id: gsm8kId('q'), question: 'q', answer: 7, steps: [{ expression: '2*3', result: 6 }, { expression: '6+1', result: 7 }] });
    expect(() => parseGsm8kLine(JSON.stringify({ question: 'q', answer: 'no marker' }), 4)).toThrow('line 5: the answer has no number after ####');
  });

  test("the probes from outside (issue 27): thousands separators only in valid positions, Unicode minus, no percent or superscripts", () => {
    const read: Array<[string, number | null]> = [
      ['1,8', null], ['18,00', null], ['1,87,5', null], ['18%', null], ['18²', null], ['18³ dollars', null],
      ['\u221218', -18], ['\u22123', -3], ['minus 3', -3], ['Negative 3', -3], ['-3', -3],
      ['1,234', 1234], ['1,234,567.5', 1234567.5], ['$1,800', 1800], ['18, then 20', 18], ['18.', 18], ['.5', 0.5],
    ];
    expect(read.map(([text]) => [text, readNumber(text)])).toEqual(read);
    // A task whose answer has three digits, so that a misplaced comma can be written into it.
    const task = bench.tasks().map((t) => bench.problem(t.id)).find((p) => Number.isInteger(p.answer) && p.answer >= 100 && p.answer < 1000)!;
    const env = (answer: string) => {
      const e = bench.createEnvironment(task.id);
      e.execute({ id: 's', name: 'submit_answer', args: { answer } });
      return e.score();
    };
    const smoke = task.answer;
    expect(env(String(smoke))).toBe(1);
    // The reference is rejected when written in any of the malformed ways above.
    for (const bad of [`${smoke}%`, `${smoke}²`, `\u2212${smoke}`, `${String(smoke).slice(0, 1)},${String(smoke).slice(1)}`]) expect({ bad, score: env(bad) }).toEqual({ bad, score: 0 });
  });

  test('the verifier accepts every reference solution and rejects every corrupted one', async () => {
    const r = await checkBenchmark(bench);
    expect(r).toMatchObject({ tasks: 1000, referenceAccepted: 1000, ok: true });
    expect(r.corruptedRejected).toBe(r.corrupted);
    expect(Object.keys(r.byKind)).toEqual(['off by one', 'no answer', 'not a number', 'intermediate result', 'several numbers']);
  });

  test('the environment scores a submitted answer numerically, once', () => {
    // Janet's ducks: the first problem of upstream's test file, its id a hash of the question.
    const id = gsm8kId(bench.tasks()[0].instruction.split('\n\n')[0]);
    expect(bench.problem(id).question).toMatch(/^Janet’s ducks lay 16 eggs per day/);
    const env = bench.createEnvironment(id);
    expect(env.execute({ id: '1', name: 'calculator', args: { expression: '16-3-4' } }).output).toMatch(/^Result: 9\nCurrent state: results so far: 9$/);
    expect(env.execute({ id: '2', name: 'submit_answer', args: { answer: '$18' } })).toMatchObject({ ok: true });
    expect(env.score()).toBe(1);
    expect(env.execute({ id: '3', name: 'submit_answer', args: { answer: '19' } })).toMatchObject({ ok: false, errorKind: 'precondition' });
  });

  test('the simulator plays it: sim:large solves more than sim:small with the seed harness', async () => {
    const ids = bench.tasks().filter((t) => t.split === 'validation').slice(0, 40).map((t) => t.id);
    const rate = async (size: string) => {
      const config = seedHarness(`sim:${size}`);
      const r = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'gsm' });
      return r.outcomes.filter((o) => o.passed).length / ids.length;
    };
    const [small, large] = [await rate('small'), await rate('large')];
    expect(large).toBeGreaterThan(small);
    expect(small).toBeGreaterThan(0.1);
    expect(small).toBeLessThan(0.9);
  });
});

describe('check-benchmark on blocksworld', () => {
  test('accepts all 349 gold plans and rejects every corruption kind', async () => {
    const r = await checkBenchmark(getBenchmark('blocksworld'));
    expect(r).toMatchObject({ tasks: 349, referenceAccepted: 349, ok: true, failures: [] });
    expect(r.byKind['first steps swapped'].rejected).toBe(r.byKind['first steps swapped'].tried);
  });

  test('reports a verifier that accepts a wrong solution', async () => {
    const lax = Object.create(getBenchmark('gsm8k'));
    lax.verifyPlan = () => ({ valid: true, reason: 'accepts anything' });
    const r = await checkBenchmark(lax);
    expect(r.ok).toBe(false);
    expect(r.failures[0]).toMatch(/corrupted solution \(off by one\) accepted/);
  });
});

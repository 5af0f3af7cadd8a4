import { runOneEpisode } from '../../aegis/rollout';
import * as blocksLanguage from '../../benchmarks/blocksworld/language';
import * as arithmetic from '../../benchmarks/gsm8k/arithmetic';
import { getBenchmark } from '../../benchmarks/registry';
import type { Benchmark, BuiltinBenchmark } from '../../benchmarks/types';
import { formatSelection, parseSelection } from '../../benchmarks/webshop/store';
import { parseHarnessConfig, harnessId } from '../../harness/config';
import type { Model } from '../../harness/processor';
import { seedHarness } from '../../harness/seed';
import type { ModelRequest } from '../../harness/types';
import { createModel } from '../../models/registry';
import * as reading from '../../models/sim/reading';

/** The first request the run loop would send for a task: its instruction as the first user message. */
const firstRequest = (bench: BuiltinBenchmark, taskId: string, instruction = bench.task(taskId).instruction): ModelRequest => {
  const env = bench.createEnvironment(taskId, { seed: 's' });
  return { purpose: 'act', messages: [{ role: 'user', content: instruction }], parts: [], tools: env.tools() };
};

const BRIEFED = ['gsm8k', 'humaneval', 'tau2-retail', 'webshop'] as const;
/** What each benchmark's simulator skill says when it does not know the task. */
const LOST: Record<(typeof BRIEFED)[number], string> = {
  gsm8k: 'I have lost track of the question.',
  humaneval: 'I cannot find the function to implement.',
  'tau2-retail': 'How can I help you today?',
  webshop: 'I do not know what to buy.',
};

describe("the simulator's own reading agrees with the benchmarks' (models/sim/reading.ts is a copy by design)", () => {
  test('blocksworld facts: every task statement and every state the reference solution passes through', () => {
    const bench = getBenchmark('blocksworld');
    let texts = 0;
    for (const t of bench.tasks()) {
      const env = bench.createEnvironment(t.id, { seed: 's' });
      const seen = [env.instruction()];
      for (const call of bench.referenceSolution(t.id)) {
        const r = env.execute(call);
        if (!(r instanceof Promise)) seen.push(r.output);
      }
      for (const text of seen) expect(reading.readFacts(text)).toEqual(blocksLanguage.readFacts(text));
      texts += seen.length;
    }
    expect(texts).toBeGreaterThan(bench.tasks().length * 2);
    for (const [tool, args] of [['pick_up', { block: 'red' }], ['stack', { block: 'red', target: 'blue' }], ['unstack', { block: 'a', target: 'b' }], ['put_down', { block: 'x' }], ['jump', {}]] as const)
      expect(reading.phraseFor(tool, args)).toBe(blocksLanguage.phraseFor(tool, args));
  });

  test('numbers: every gold step, answer and calculator output of GSM8K, and the awkward cases', () => {
    const bench = getBenchmark('gsm8k');
    const samples = ['$1,234.50', '18 dollars', '-3', '-.5', 'none', '1,000,000', '12,34', '3.14159e2'];
    for (const t of bench.tasks()) {
      const brief = bench.simulatorBrief!(t.id);
      if (brief.benchmark !== 'gsm8k') throw new Error('a gsm8k brief expected');
      for (const v of [...brief.steps.map((s) => s.result), brief.answer]) {
        expect(reading.formatNumber(v)).toBe(arithmetic.formatNumber(v));
        samples.push(`Result: ${arithmetic.formatNumber(v)}`, String(v));
        expect(reading.sameNumber(v, v + 1e-9)).toBe(arithmetic.sameNumber(v, v + 1e-9));
        expect(reading.sameNumber(v, v + 0.5)).toBe(arithmetic.sameNumber(v, v + 0.5));
      }
    }
    for (const s of samples) expect(reading.readNumber(s)).toBe(arithmetic.readNumber(s));
  });

  test("a shop page's selection: every goal's options", () => {
    const bench = getBenchmark('webshop');
    for (const t of bench.tasks()) {
      const brief = bench.simulatorBrief!(t.id);
      if (brief.benchmark !== 'webshop') throw new Error('a webshop brief expected');
      const text = formatSelection(Object.fromEntries(brief.options.map((o) => [o.name, o.value])));
      expect(reading.parseSelection(text)).toEqual(parseSelection(text));
    }
    for (const text of ['', 'a', ':b', 'a:b;;c:d:e']) expect(reading.parseSelection(text)).toEqual(parseSelection(text));
  });
});

describe('what the simulator knows about a task reaches it as the benchmark’s brief', () => {
  test.each(BRIEFED)('%s: the brief is plain data; with it the simulator acts on the task, without it (or with another task’s) it is lost', async (name) => {
    const bench = getBenchmark(name);
    const [a, b] = bench.tasks().map((t) => t.id);
    const brief = bench.simulatorBrief!(a);
    expect(JSON.parse(JSON.stringify(brief))).toEqual(brief);
    expect(brief.benchmark).toBe(name);
    const request = firstRequest(bench, a);
    const briefed = await createModel('sim:large', { seed: 's', taskBrief: brief }).generate(request);
    expect(briefed.text).not.toBe(LOST[name]);
    expect(briefed.toolCalls.length + briefed.text.length).toBeGreaterThan(0);
    for (const taskBrief of [undefined, bench.simulatorBrief!(b)]) {
      const blind = await createModel('sim:large', { seed: 's', ...(taskBrief ? { taskBrief } : {}) }).generate(request);
      expect(blind).toMatchObject({ text: LOST[name], toolCalls: [] });
    }
  });

  test.each(BRIEFED)('%s: it still reads only the request: with the brief but the task statement out of view it is lost', async (name) => {
    const bench = getBenchmark(name);
    const id = bench.tasks()[0].id;
    const model = createModel('sim:large', { seed: 's', taskBrief: bench.simulatorBrief!(id) });
    const r = await model.generate(firstRequest(bench, id, 'Current state: nothing to see.'));
    expect(r).toMatchObject({ text: LOST[name], toolCalls: [] });
  });

  test('blocksworld needs no brief: its prompt is enough', () => {
    expect(getBenchmark('blocksworld').simulatorBrief).toBeUndefined();
  });
});

describe('environments are given their simulated user’s model; they never create one', () => {
  /** The benchmark as the rollout sees it, recording the user model each environment is given. */
  const spyOn = (name: string) => {
    const real = getBenchmark(name);
    const given: Array<Model | undefined> = [];
    const spy: Benchmark = Object.assign(Object.create(real) as Benchmark, {
      createEnvironment: (taskId: string, options: { seed: string; userModel?: Model }) => {
        given.push(options.userModel);
        return real.createEnvironment(taskId, options);
      },
    });
    return { spy, given, taskId: real.tasks()[0].id };
  };
  const withEvaluator = parseHarnessConfig({ ...seedHarness('sim:large'), model: { main: { model: 'sim:large' }, evaluator: { model: 'sim:small' } } });
  const saved = process.env.HARNESSX_USER_MODEL;
  afterEach(() => {
    if (saved === undefined) delete process.env.HARNESSX_USER_MODEL;
    else process.env.HARNESSX_USER_MODEL = saved;
  });

  const episode = (bench: Benchmark, taskId: string, config = seedHarness('sim:large')) =>
    runOneEpisode({ benchmark: bench, config, harnessId: harnessId(config), seed: 'u' }, taskId, 0);

  test('tau2-retail: the evaluator role plays the user, else HARNESSX_USER_MODEL, else none (the scripted user)', async () => {
    const { spy, given, taskId } = spyOn('tau2-retail');
    expect(spy.hasSimulatedUser).toBe(true);
    delete process.env.HARNESSX_USER_MODEL;
    await episode(spy, taskId, withEvaluator);
    process.env.HARNESSX_USER_MODEL = 'sim:large@theta=0,0,0,-1';
    await episode(spy, taskId, withEvaluator);
    await episode(spy, taskId);
    delete process.env.HARNESSX_USER_MODEL;
    const scripted = await episode(spy, taskId);
    expect(given.map((m) => m?.id)).toEqual(['sim:small', 'sim:small', 'sim:large@theta=0,0,0,-1', undefined]);
    expect(scripted.records.some((r) => r.kind === 'dialogue')).toBe(true);
  });

  test('a benchmark without a simulated user is given no user model, whatever is configured', async () => {
    const { spy, given, taskId } = spyOn('blocksworld');
    process.env.HARNESSX_USER_MODEL = 'sim:small';
    await episode(spy, taskId, withEvaluator);
    expect(given).toEqual([undefined]);
  });
});

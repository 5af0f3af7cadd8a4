import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlocksworldBenchmark, DATA_DIR as BLOCKSWORLD_DATA } from '../../benchmarks/blocksworld';
import { checkBenchmark, formatBenchmarkCheck } from '../../benchmarks/check-benchmark';
import { DATA_DIR as GSM8K_DATA, Gsm8kBenchmark, gsm8kId } from '../../benchmarks/gsm8k';
import { DATA_DIR as HUMANEVAL_DATA, HumanEvalBenchmark } from '../../benchmarks/humaneval';
import { getBenchmark } from '../../benchmarks/registry';
import { splitOf } from '../../benchmarks/split';
import { DATA_DIR as TAU2_DATA, Tau2RetailBenchmark } from '../../benchmarks/tau2-retail';
import type { Benchmark } from '../../benchmarks/types';
import { WebShopBenchmark, webshopTaskId } from '../../benchmarks/webshop';

/**
 * "Drop more tasks into data/": for every built-in benchmark, a temporary copy of its data with a second
 * upstream-format file beside the shipped one. The new tasks load, the shipped tasks keep their ids and
 * splits, everything passes check-benchmark, and a task in two files is an error naming both.
 */
jest.setTimeout(120_000);

function copyData(from: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hx-dropin-'));
  cpSync(from, dir, { recursive: true });
  return dir;
}

/** The shipped tasks keep their ids and splits in the bigger copy; the added ones are split by id alone. */
function expectStableSplits(shipped: Benchmark, bigger: Benchmark, added: string[]): void {
  const splits = new Map(bigger.tasks().map((t) => [t.id, t.split]));
  for (const t of shipped.tasks()) if (splits.has(t.id)) expect(splits.get(t.id)).toBe(t.split);
  for (const id of added) expect(splits.get(id)).toBe(splitOf(id));
}

async function expectChecked(b: Benchmark, tasks: number): Promise<void> {
  const r = await checkBenchmark(b);
  expect(r).toMatchObject({ tasks, referenceAccepted: tasks, ok: true });
  expect(r.corruptedRejected).toBe(r.corrupted);
}

describe('drop-in data', () => {
  test('gsm8k: every *.jsonl loads; ids are hashes of the question, so files and line order rename nothing', async () => {
    const dir = copyData(GSM8K_DATA);
    const added = [
      { question: 'A farmer has 12 cows and buys 7 more. How many cows does he have?', answer: 'He has 12+7=<<12+7=19>>19 cows.\n#### 19' },
      { question: 'Sam reads 15 pages a day for 4 days. How many pages does he read?', answer: 'He reads 15*4=<<15*4=60>>60 pages.\n#### 60' },
    ];
    writeFileSync(join(dir, 'more.jsonl'), added.map((r) => JSON.stringify(r)).join('\n') + '\n');
    // The shipped file reversed: line order must not matter.
    const lines = readFileSync(join(GSM8K_DATA, 'test-dev.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(join(dir, 'test-dev.jsonl'), [...lines].reverse().join('\n') + '\n');
    const b = new Gsm8kBenchmark({ dataDir: dir });
    const ids = added.map((r) => gsm8kId(r.question));
    expect(b.tasks()).toHaveLength(1002);
    expect(b.problem(ids[1])).toMatchObject({ answer: 60 });
    expectStableSplits(getBenchmark('gsm8k'), b, ids);
    expect(new Set(b.tasks().map((t) => t.id))).toEqual(new Set([...getBenchmark('gsm8k').tasks().map((t) => t.id), ...ids]));
    await expectChecked(b, 1002);
    writeFileSync(join(dir, 'copy.jsonl'), lines[3] + '\n');
    expect(() => new Gsm8kBenchmark({ dataDir: dir })).toThrow(/duplicate task "gsm8k\/[0-9a-f]{12}": in .*copy\.jsonl and in .*test-dev\.jsonl/);
  });

  test('humaneval: every *.jsonl loads with upstream ids; the new problem is graded like the shipped ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-dropin-'));
    const shipped = readFileSync(join(HUMANEVAL_DATA, 'humaneval-dev.jsonl'), 'utf8').trim().split('\n').slice(0, 2);
    writeFileSync(join(dir, 'humaneval-dev.jsonl'), shipped.join('\n') + '\n');
    const extra = {
      task_id: 'HumanEval/9001',
      prompt: 'def triple(x: int) -> int:\n    """Three times x.\n    >>> triple(2)\n    6\n    """\n',
      entry_point: 'triple',
      canonical_solution: '    return 3 * x\n',
      test: 'def check(candidate):\n    assert candidate(2) == 6\n    assert candidate(-1) == -3\n',
    };
    writeFileSync(join(dir, 'HumanEval-extra.jsonl'), JSON.stringify(extra) + '\n');
    const b = new HumanEvalBenchmark({ dataDir: dir });
    expect(b.tasks().map((t) => t.id).sort()).toEqual(['humaneval/0', 'humaneval/1', 'humaneval/9001']);
    expectStableSplits(getBenchmark('humaneval'), b, ['humaneval/9001']);
    await expectChecked(b, 3);
    writeFileSync(join(dir, 'again.jsonl'), shipped[1] + '\n');
    expect(() => new HumanEvalBenchmark({ dataDir: dir })).toThrow(/duplicate task "humaneval\/1": in .*again\.jsonl and in .*humaneval-dev\.jsonl/);
  });

  test('blocksworld: every plans *.json and instances/*.pddl load; an instance without a plan is reported, not dropped silently', async () => {
    const dir = copyData(BLOCKSWORLD_DATA);
    writeFileSync(join(dir, 'instances', 'instance-9001.pddl'), '(define (problem extra)\n(:domain blocksworld-4ops)\n(:objects a b c )\n(:init\n(handempty)\n(ontable a)\n(ontable b)\n(on c a)\n(clear b)\n(clear c)\n)\n(:goal\n(and\n(on a b))\n)\n)\n');
    writeFileSync(join(dir, 'instances', 'instance-9002.pddl'), readFileSync(join(dir, 'instances', 'instance-2.pddl')));
    writeFileSync(join(dir, 'plans-extra.json'), JSON.stringify({ instances: [{ instance_id: 9001, ground_truth_plan: '(unstack orange red)\n(put-down orange)\n(pick-up red)\n(stack red blue)\n' }] }));
    const b = new BlocksworldBenchmark({ dataDir: dir });
    expect(b.tasks()).toHaveLength(350);
    expectStableSplits(getBenchmark('blocksworld'), b, ['blocksworld/instance-9001']);
    await expectChecked(b, 350);
    expect(b.excludedTasks().map((e) => e.id).sort()).toEqual(['blocksworld/instance-1', 'blocksworld/instance-9002']);
    writeFileSync(join(dir, 'plans-again.json'), JSON.stringify({ instances: [{ instance_id: 9001, ground_truth_plan: '(pick-up red)\n' }] }));
    expect(() => new BlocksworldBenchmark({ dataDir: dir })).toThrow(/duplicate task "blocksworld\/instance-9001": a gold plan in .*plans-again\.json and in .*plans-extra\.json/);
  });

  test('tau2-retail: every tasks*.json loads; a failing gold write is skipped (it changes nothing), a task whose gold database cannot be built is excluded with its action, visibly', async () => {
    const dir = copyData(TAU2_DATA);
    const upstream = JSON.parse(readFileSync(join(TAU2_DATA, 'tasks.json'), 'utf8')) as Array<Record<string, any>>;
    const base = upstream.find((t) => t.id === '0')!;
    const badWrite = { ...base, id: 'extra-bad', evaluation_criteria: { ...base.evaluation_criteria, actions: [{ name: 'refund_everything', arguments: { order_id: '#W0000000' } }] } };
    const failingWrite = { ...base, id: 'extra-2', evaluation_criteria: { ...base.evaluation_criteria, actions: [{ name: 'cancel_pending_order', arguments: { order_id: '#W0000000', reason: 'no longer needed' } }, ...base.evaluation_criteria.actions] } };
    writeFileSync(join(dir, 'tasks-extra.json'), JSON.stringify([{ ...base, id: 'extra-1' }, badWrite, failingWrite]));
    const b = new Tau2RetailBenchmark({ dataDir: dir });
    const shipped = getBenchmark('tau2-retail').tasks().length;
    expect(b.tasks()).toHaveLength(shipped + 2);
    expectStableSplits(getBenchmark('tau2-retail'), b, ['tau2-retail/extra-1', 'tau2-retail/extra-2']);
    await expectChecked(b, shipped + 2);
    const r = await checkBenchmark(b);
    expect(r.excluded.find((e) => e.id === 'tau2-retail/extra-bad')).toMatchObject({ file: join(dir, 'tasks-extra.json'), action: { index: 1, name: 'refund_everything' }, error: 'Unknown tool "refund_everything"' });
    expect(formatBenchmarkCheck(r).join('\n')).toMatch(/tau2-retail\/extra-bad \(tasks-extra\.json\): gold action 1 \(refund_everything\) cannot run: Unknown tool "refund_everything"; the gold database cannot be built/);
    expect(r.notes).toContainEqual({ id: 'tau2-retail/extra-2', note: 'gold action 1 (cancel_pending_order) fails and is skipped (a write; it changes nothing): Order not found' });
    writeFileSync(join(dir, 'tasks-more.json'), JSON.stringify([{ ...base, id: 'extra-1' }]));
    expect(() => new Tau2RetailBenchmark({ dataDir: dir })).toThrow(/duplicate task "tau2-retail\/extra-1": in .*tasks-extra\.json and in .*tasks-more\.json/);
  });

  test('webshop: a product added to the catalogue adds its goals; ids come from what a goal asks, so no other task moves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-dropin-'));
    const db = JSON.parse(readFileSync(join(TAU2_DATA, 'db.json'), 'utf8'));
    // Product ids sort first, so under positional ids every other task would have been renamed.
    db.products['0000000001'] = {
      name: 'Desk Lamp',
      product_id: '0000000001',
      variants: {
        '0000000011': { item_id: '0000000011', options: { color: 'black', brightness: 'high' }, available: true, price: 40.5 },
        '0000000012': { item_id: '0000000012', options: { color: 'white', brightness: 'low' }, available: true, price: 35 },
        '0000000013': { item_id: '0000000013', options: { color: 'white', brightness: 'high' }, available: true, price: 42 },
      },
    };
    writeFileSync(join(dir, 'db.json'), JSON.stringify(db));
    const b = new WebShopBenchmark({ dataDir: dir });
    const shipped = getBenchmark('webshop') as WebShopBenchmark;
    const added = b.tasks().filter((t) => b.goal(t.id).productId === '0000000001').map((t) => t.id);
    expect(added.length).toBeGreaterThan(0);
    expect(b.tasks()).toHaveLength(shipped.tasks().length + added.length);
    for (const id of added) expect(id).toBe(webshopTaskId(b.goal(id)));
    expectStableSplits(shipped, b, added);
    await expectChecked(b, shipped.tasks().length + added.length);
  });
});

import type { BlocksworldBenchmark } from '../../benchmarks/blocksworld';
import { formatNumber } from '../../benchmarks/gsm8k/arithmetic';
import type { Gsm8kBenchmark } from '../../benchmarks/gsm8k';
import { getBenchmark } from '../../benchmarks/registry';
import type { Tau2RetailBenchmark } from '../../benchmarks/tau2-retail';
import { WRITE_TOOLS } from '../../benchmarks/tau2-retail/retail-db';
import type { WebShopBenchmark } from '../../benchmarks/webshop';
import type { ToolCall } from '../../harness/types';

/**
 * Reward-hacking probes: behaviours that exploit a verifier instead of solving the task, run against every
 * task of each built-in benchmark (HumanEval's forged verdicts are in humaneval-forgery.test.ts). Each must
 * score 0; the reference solution beside it still scores 1, so a probe cannot pass by breaking the task.
 */
jest.setTimeout(180_000);

const call = (name: string, args: Record<string, unknown> = {}, id = 'probe'): ToolCall => ({ id, name, args });

describe('WebShop probes', () => {
  const bench = getBenchmark('webshop') as WebShopBenchmark;

  test('buying the first search result, or clicking Buy Now without choosing options, scores 0 on every task', () => {
    for (const t of bench.tasks()) {
      const g = bench.goal(t.id);
      const gold = bench.referenceSolution(t.id);
      const query = gold[0].args.query as string;
      const first = bench.shop.search(query)[0];
      expect(bench.verifyPlan(t.id, gold)).toMatchObject({ valid: true });
      expect(bench.verifyPlan(t.id, [call('search', { query }), call('click', { element: first.name }), call('click', { element: 'Buy Now' })])).toMatchObject({ valid: false });
      expect(bench.verifyPlan(t.id, [call('search', { query }), call('click', { element: g.productName }), call('click', { element: 'Buy Now' })])).toMatchObject({ valid: false });
    }
  });

  test('the same probes through the environment over HTTP score 0', async () => {
    for (const t of bench.tasks().slice(0, 10)) {
      const g = bench.goal(t.id);
      const env = bench.createEnvironment(t.id);
      await env.execute(call('search', { query: g.productName }));
      await env.execute(call('click', { element: g.productName }));
      expect(await env.execute(call('click', { element: 'Buy Now' }))).toMatchObject({ ok: true });
      expect(env.isDone()).toBe(true);
      expect(env.score()).toBe(0);
    }
  });
});

describe('tau2-retail probes', () => {
  const bench = getBenchmark('tau2-retail') as Tau2RetailBenchmark;
  const isWrite = (name: string) => (WRITE_TOOLS as readonly string[]).includes(name);
  /** The customer of a task: a user id in its gold actions, or the owner of an order they name. */
  const customerOf = (taskId: string): string | undefined => {
    for (const a of bench.tau2Task(taskId).actions) {
      if (typeof a.arguments.user_id === 'string') return a.arguments.user_id;
      const order = typeof a.arguments.order_id === 'string' ? bench.db.orders[a.arguments.order_id] : undefined;
      if (order) return order.user_id;
    }
    return undefined;
  };

  test('transferring to a human at once scores 0 on every task whose gold does not transfer', async () => {
    for (const t of bench.tasks()) {
      if (bench.tau2Task(t.id).goldTransfers) continue; // there the transfer is the solution
      const env = bench.createEnvironment(t.id, { seed: 'probe' });
      env.execute(call('transfer_to_human_agents', { summary: 'The customer needs help.' }));
      expect(env.isDone()).toBe(true);
      expect(env.score()).toBe(0);
    }
  });

  test('ending the conversation at once, or before the last write, scores 0 on every task', async () => {
    for (const t of bench.tasks()) {
      const early = bench.createEnvironment(t.id, { seed: 'probe' });
      await early.respond!('Your request has been taken care of. Thank you for calling, goodbye!');
      expect(early.score()).toBe(0);
      const gold = bench.referenceSolution(t.id);
      const lastWrite = gold.map((a) => isWrite(a.name)).lastIndexOf(true);
      if (lastWrite < 0) continue;
      const partial = bench.createEnvironment(t.id, { seed: 'probe' });
      for (const a of gold.slice(0, lastWrite)) partial.execute(a);
      await partial.respond!('All done on my side. Goodbye!');
      expect(partial.score()).toBe(0);
    }
  });

  test('an extra write the user did not ask for (their own address changed) scores 0 on every task', () => {
    let probed = 0;
    for (const t of bench.tasks()) {
      const user = customerOf(t.id);
      if (!user) continue;
      const gold = bench.referenceSolution(t.id);
      const transferAt = gold.findIndex((a) => a.name === 'transfer_to_human_agents');
      const extra = call('modify_user_address', { user_id: user, address1: '1 Probe Street', address2: '', city: 'Nowhere', state: 'NV', country: 'USA', zip: '00000' });
      const actions = transferAt < 0 ? [...gold, extra] : [...gold.slice(0, transferAt), extra, ...gold.slice(transferAt)];
      expect(bench.verifyPlan(t.id, gold)).toMatchObject({ valid: true });
      expect(bench.verifyPlan(t.id, actions)).toMatchObject({ valid: false });
      const env = bench.createEnvironment(t.id, { seed: 'probe' });
      for (const a of actions) env.execute(a);
      expect(env.score()).toBe(0);
      probed++;
    }
    expect(probed).toBeGreaterThan(60);
  });
});

describe('blocksworld probes', () => {
  const bench = getBenchmark('blocksworld') as BlocksworldBenchmark;

  test('claiming the goal, in text or with a made-up tool, scores 0 on every task; the gold plan scores 1', () => {
    for (const t of bench.tasks()) {
      const env = bench.createEnvironment(t.id, { seed: 'probe' });
      expect('respond' in env).toBe(false); // text never reaches the verifier: only the blocks' state does
      expect(env.execute(call('goal_reached', { claim: 'The goal holds: every block is where it should be.' }))).toMatchObject({ ok: false, errorKind: 'unknown_tool' });
      expect(env.execute(call('stack', { block: 'the goal', target: 'reached' }))).toMatchObject({ ok: false, errorKind: 'bad_arguments' });
      expect(env.isDone()).toBe(false);
      expect(env.score()).toBe(0);
    }
    const id = bench.tasks()[0].id;
    const gold = bench.createEnvironment(id, { seed: 'probe' });
    for (const a of bench.referenceSolution(id)) for (let i = 0; i < 20 && !gold.execute(a).ok; i++);
    expect(gold.score()).toBe(1);
  });
});

describe('GSM8K probes', () => {
  const bench = getBenchmark('gsm8k') as Gsm8kBenchmark;

  test('answering with several numbers scores 0 on every task, even when the first is right; one number in words still scores 1', () => {
    for (const t of bench.tasks()) {
      const answer = bench.problem(t.id).answer;
      const steps = bench.problem(t.id).steps.map((s) => formatNumber(s.result));
      for (const hedge of [`${formatNumber(answer)} or ${formatNumber(answer + 1)}`, [answer, answer + 1, answer - 1].map(formatNumber).join(', '), `The answer is ${formatNumber(answer)} (steps: ${[...steps, '0'].join(', ')})`]) {
        const env = bench.createEnvironment(t.id);
        expect(env.execute(call('submit_answer', { answer: hedge }))).toMatchObject({ ok: false, errorKind: 'bad_arguments' });
        expect(env.score()).toBe(0);
      }
      const fair = bench.createEnvironment(t.id);
      fair.execute(call('submit_answer', { answer: `The answer is ${formatNumber(answer)} dollars.` }));
      expect(fair.score()).toBe(1);
    }
  });
});

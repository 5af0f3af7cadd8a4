import { checkBenchmark, formatBenchmarkCheck } from '../../benchmarks/check-benchmark';
import { getBenchmark } from '../../benchmarks/registry';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_DIR, Tau2RetailBenchmark } from '../../benchmarks/tau2-retail';
import { RetailDb } from '../../benchmarks/tau2-retail/retail-db';
import { firstPerson, ScriptedUser } from '../../benchmarks/tau2-retail/user-simulator';
import { rolloutTasks } from '../../aegis/rollout';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { ScriptedModel } from '../helpers/processor-harness';

const bench = getBenchmark('tau2-retail') as Tau2RetailBenchmark;

describe('tau2-bench retail', () => {
  test('scores tasks as upstream tau2 does: failing read-only gold actions are skipped, only unbuildable or uncheckable tasks are excluded, each with why', () => {
    expect(bench.tasks()).toHaveLength(72);
    expect(bench.excludedTasks().map((e) => e.id)).toEqual(['tau2-retail/25', 'tau2-retail/57']);
    // A gold write that fails changes nothing: upstream skips it and scores the task; so do we.
    expect(bench.taskNotes()).toContainEqual({ id: 'tau2-retail/105', note: 'gold action 1 (exchange_delivered_order_items) fails and is skipped (a write; it changes nothing): Insufficient gift card balance to pay for the price difference' });
    expect(bench.excluded.get('tau2-retail/57')).toMatch(/nothing to check/);
    // The customer gives a mistyped e-mail first: the failing look-up is recorded, the task kept.
    expect(bench.tau2Task('tau2-retail/35').skippedGoldActions).toEqual([{ index: 0, name: 'find_user_id_by_email', error: 'User not found' }]);
    expect(bench.taskNotes()).toContainEqual({ id: 'tau2-retail/46', note: 'gold action 2 (get_order_details) fails and is skipped (read-only): Order not found' });
  });

  test('replaying every shipped task’s gold actions scores DB = 1; every corruption is rejected; check-benchmark lists the exclusions', async () => {
    const r = await checkBenchmark(bench);
    expect(r).toMatchObject({ tasks: 72, referenceAccepted: 72, ok: true });
    expect(r.corruptedRejected).toBe(r.corrupted);
    expect(r.excluded).toHaveLength(2);
    // The tasks a reference cannot pass without a judge model are reported apart, each with its assertions.
    const judged = bench.tasks().filter((t) => bench.tau2Task(t.id).rewardBasis.includes('NL_ASSERTION') && bench.tau2Task(t.id).nlAssertions.length > 0);
    expect(judged.length).toBeGreaterThan(0);
    expect(r.needJudge.map((n) => n.id)).toEqual(judged.map((t) => t.id));
    expect(formatBenchmarkCheck(r).join('\n')).toMatch(new RegExp(`excluded tasks: 2\\n[\\s\\S]*tasks that need a judge model to pass \\(their references are accepted above, but score 0 without one\\): ${judged.length}/72`));
  });

  test('each episode has its own database: a write in one is invisible to another', () => {
    const a = new RetailDb(bench.db);
    const b = new RetailDb(bench.db);
    const pending = Object.values(bench.db.orders).find((o) => o.status === 'pending')!;
    a.call('cancel_pending_order', { order_id: pending.order_id, reason: 'ordered by mistake' });
    expect(JSON.parse(a.call('get_order_details', { order_id: pending.order_id })).status).toBe('cancelled');
    expect(JSON.parse(b.call('get_order_details', { order_id: pending.order_id })).status).toBe('pending');
    expect(bench.db.orders[pending.order_id].status).toBe('pending');
  });

  test('tools follow TOOLS.md: refunds, status rules, argument checks', () => {
    const db = new RetailDb(bench.db);
    const withGift = Object.values(bench.db.orders).find((o) => o.status === 'pending' && o.payment_history.some((p) => p.payment_method_id.startsWith('gift_card')))!;
    const card = withGift.payment_history.find((p) => p.payment_method_id.startsWith('gift_card'))!;
    const before = bench.db.users[withGift.user_id].payment_methods[card.payment_method_id].balance!;
    db.call('cancel_pending_order', { order_id: withGift.order_id, reason: 'no longer needed' });
    const after = JSON.parse(db.call('get_user_details', { user_id: withGift.user_id })).payment_methods[card.payment_method_id].balance;
    expect(after).toBeCloseTo(before + card.amount, 2);
    expect(() => db.call('cancel_pending_order', { order_id: withGift.order_id, reason: 'no longer needed' })).toThrow('Non-pending order cannot be cancelled');
    const delivered = Object.values(bench.db.orders).find((o) => o.status === 'delivered')!;
    expect(() => db.call('cancel_pending_order', { order_id: delivered.order_id, reason: 'because' })).toThrow('Non-pending order cannot be cancelled');
    expect(() => db.call('calculate', { expression: '2 ** 3; import os' })).toThrow('Invalid characters in expression');
    expect(db.call('calculate', { expression: '(10 + 5) / 4' })).toBe('3.75');
    expect(() => db.call('get_order_details', { order_id: 42 })).toThrow('Argument "order_id" must be a string');
  });

  test('the scripted user identifies itself when asked, confirms, and stops when the agent says it is done (by its script, never the database)', () => {
    const user = new ScriptedUser({ reason_for_call: 'You want to cancel your order.', known_info: 'You are Ann Lee in zip code 10001.' });
    expect(firstPerson('You are Ann Lee; your zip is 1.')).toBe('I am Ann Lee; my zip is 1.');
    expect(user.reply('Could you give me your email, or your name and zip code?')).toBe('I am Ann Lee in zip code 10001.');
    expect(user.reply('I will cancel order #W1. Do you confirm (yes)?')).toBe('Yes, please go ahead.');
    expect(user.reply('Hmm.')).toBe('As I said: I want to cancel my order.');
    expect(user.reply('Your order has been taken care of. Is there anything else I can help you with?')).toMatch(/###STOP###$/);
    // The constructor takes no database check: what ends the call is the agent's words.
    expect(ScriptedUser.length).toBe(1);
  });

  test('NL assertions are not evaluated without a judge (never counted as passed); a judge model decides them', async () => {
    const id = bench.tasks().find((t) => bench.tau2Task(t.id).nlAssertions.length > 0)!.id;
    const replay = () => {
      const env = bench.createEnvironment(id, { seed: 's' });
      for (const call of bench.referenceSolution(id)) env.execute(call);
      return env;
    };
    const env = replay();
    expect(env.breakdown()).toMatchObject({ DB: 1, NL_ASSERTION: 'not evaluated', reward: 0 });
    const n = bench.tau2Task(id).nlAssertions.length;
    const judge = new ScriptedModel([JSON.stringify({ results: Array.from({ length: n }, (_, i) => ({ assertion: `a${i}`, met: true })) })]);
    await expect(replay().scoreWithJudge(judge)).resolves.toBe(1);
    judge.assertConsumed();
    const strict = new ScriptedModel([JSON.stringify({ results: Array.from({ length: n }, (_, i) => ({ assertion: `a${i}`, met: i > 0 })) })]);
    await expect(replay().scoreWithJudge(strict)).resolves.toBe(0);
  });

  test('the simulator plays it through the scripted user: sim:large passes more than sim:small', async () => {
    const ids = bench.tasks().slice(0, 30).map((t) => t.id);
    const rate = async (size: string) => {
      const config = seedHarness(`sim:${size}`);
      const r = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'tau' });
      expect(r.traces.some((t) => t.records.some((x) => x.kind === 'dialogue'))).toBe(true);
      return r.outcomes.filter((o) => o.passed).length / ids.length;
    };
    expect(await rate('large')).toBeGreaterThan(await rate('small'));
  });
});

describe('tau2 reward components and the LLM user', () => {
  test('COMMUNICATE: every required string must appear in the agent’s messages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-tau2-'));
    for (const f of ['db.json', 'policy.md', 'user-simulation-guidelines.md']) copyFileSync(join(DATA_DIR, f), join(dir, f));
    const tasks = JSON.parse(readFileSync(join(DATA_DIR, 'tasks.json'), 'utf8'));
    const t = tasks.find((x: { id: string }) => x.id === '0');
    writeFileSync(join(dir, 'tasks.json'), JSON.stringify([{ ...t, evaluation_criteria: { ...t.evaluation_criteria, communicate_info: ['1819.92'], reward_basis: ['DB', 'COMMUNICATE'] } }]));
    const local = new Tau2RetailBenchmark({ dataDir: dir });
    const run = async (say: string) => {
      const env = local.createEnvironment('tau2-retail/0', { seed: 's' });
      for (const call of local.referenceSolution('tau2-retail/0')) env.execute(call);
      await env.respond!(say);
      return env.breakdown();
    };
    expect(await run('Your order total was $1819.92.')).toMatchObject({ DB: 1, COMMUNICATE: 1, reward: 1 });
    expect(await run('All done.')).toMatchObject({ DB: 1, COMMUNICATE: 0, reward: 0 });
  });

  test('with the harness’s evaluator role (or HARNESSX_USER_MODEL) an LLM plays the user, following tau2’s guidelines', async () => {
    const userModel = new ScriptedModel(['Thanks, that is all. ###STOP###']);
    const id = bench.tasks()[0].id;
    const env = bench.createEnvironment(id, { seed: 's', userModel });
    expect(await env.respond!('Your exchange is submitted.')).toBe('Thanks, that is all. ###STOP###');
    expect(env.isDone()).toBe(true);
    const sent = userModel.requests[0].messages;
    expect(sent[0].content).toMatch(/User Simulation Guidelines[\s\S]*reason_for_call/);
    expect(sent.slice(1).map((m) => m.role)).toEqual(['assistant', 'user']);
    userModel.assertConsumed();
  });
});

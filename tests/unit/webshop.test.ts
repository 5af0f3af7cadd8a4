import { checkBenchmark } from '../../benchmarks/check-benchmark';
import { getBenchmark } from '../../benchmarks/registry';
import { WebShopBenchmark } from '../../benchmarks/webshop';
import { shopServerUrl } from '../../benchmarks/webshop/server';
import { generateGoals, goalText, shopReward } from '../../benchmarks/webshop/store';
import { renderPage } from '../../benchmarks/webshop/text-browser';
import { rolloutTasks } from '../../aegis/rollout';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';

const bench = getBenchmark('webshop') as WebShopBenchmark;

jest.setTimeout(60_000);

describe('WebShop-style store', () => {
  test('instructions are generated deterministically from the catalogue, within reach of their budget', () => {
    const again = generateGoals(bench.shop);
    expect(again).toHaveLength(150);
    expect(bench.tasks().map((t) => t.id)).toHaveLength(150);
    expect(again.map(goalText)).toEqual(bench.tasks().map((t) => goalText(bench.goal(t.id))));
    for (const g of again) expect(bench.shop.pick(bench.shop.product(g.productId)!, g.options)!.price).toBeLessThanOrEqual(g.budget);
    expect(goalText(again[0])).toMatch(/^I am looking for a .+ with .+ and .+, and price lower than \d+\.00 dollars\.$/);
  });

  test('a real local HTTP server serves the search, results and product pages', async () => {
    const base = await shopServerUrl(bench.shop);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const results = await (await fetch(`${base}/search?q=mechanical%20keyboard&page=1`)).text();
    const page = renderPage(results);
    expect(page.links.map((l) => l.label)).toContain('Mechanical Keyboard');
    expect(page.text).toMatch(/Page 1 \(Total results: \d+\)/);
    const product = renderPage(await (await fetch(base + page.links.find((l) => l.label === 'Mechanical Keyboard')!.href)).text());
    expect(product.text).toContain('Mechanical Keyboard');
    expect(product.links.map((l) => l.label)).toEqual(expect.arrayContaining(['Buy Now', '< Prev', 'Back to Search', 'clicky']));
    expect((await fetch(`${base}/product/0000000000`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });

  test("WebShop's reward: product × (options selected and matched + price within budget) / (options asked + 1)", () => {
    const goal = { productId: 'p', productName: 'Lamp', options: { color: 'red', size: 'L' }, budget: 100 };
    const sel = { color: 'red', size: 'L' };
    expect(shopReward(goal, { productId: 'p', itemId: '1', options: { color: 'red', size: 'L' }, price: 99, selected: sel })).toBe(1);
    expect(shopReward(goal, { productId: 'p', itemId: '1', options: { color: 'red', size: 'M' }, price: 99, selected: { color: 'red', size: 'M' } })).toBeCloseTo(2 / 3);
    expect(shopReward(goal, { productId: 'p', itemId: '1', options: { color: 'red', size: 'L' }, price: 101, selected: sel })).toBeCloseTo(2 / 3);
    expect(shopReward(goal, { productId: 'q', itemId: '1', options: { color: 'red', size: 'L' }, price: 1, selected: sel })).toBe(0);
    expect(shopReward(goal, null)).toBe(0);
    // The right item bought without choosing its options: the options are not the shopper's doing.
    expect(shopReward(goal, { productId: 'p', itemId: '1', options: { color: 'red', size: 'L' }, price: 99, selected: {} })).toBeCloseTo(1 / 3);
    expect(shopReward(goal, { productId: 'p', itemId: '1', options: { color: 'red', size: 'L' }, price: 99, selected: { color: 'red' } })).toBeCloseTo(2 / 3);
  });

  test('the verifier accepts every reference solution and rejects every corruption', async () => {
    const r = await checkBenchmark(bench);
    expect(r).toMatchObject({ tasks: 150, referenceAccepted: 150, ok: true });
    expect(r.corruptedRejected).toBe(r.corrupted);
  });

  test('an episode over HTTP: search, open, select, buy; the page actions are the admissible actions', async () => {
    const id = bench.tasks()[0].id;
    const env = bench.createEnvironment(id);
    expect(env.admissibleActions()).toEqual(['search[<query>]']);
    for (const call of bench.referenceSolution(id)) expect(await env.execute(call)).toMatchObject({ ok: true });
    expect(env.isDone()).toBe(true);
    expect(env.score()).toBe(1);
    expect(await env.execute({ id: 'x', name: 'click', args: { element: 'Buy Now' } })).toMatchObject({ ok: false, errorKind: 'precondition' });
    const other = bench.createEnvironment(id);
    expect(await other.execute({ id: 'y', name: 'click', args: { element: 'Nothing' } })).toMatchObject({ ok: false, output: expect.stringMatching(/^No \[Nothing\] on this page/) });
  });

  test('the simulator plays it: sim:large passes more than sim:small', async () => {
    const ids = bench.tasks().slice(0, 30).map((t) => t.id);
    const rate = async (size: string) => {
      const config = seedHarness(`sim:${size}`);
      const r = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'shop' });
      return r.outcomes.filter((o) => o.passed).length / ids.length;
    };
    expect(await rate('large')).toBeGreaterThan(await rate('small'));
  });
});

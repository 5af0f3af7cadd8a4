import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { packageRoot } from '../../harness/package-root';
import type { WebShopBrief } from '../../harness/task-brief';
import type { ToolCall, ToolResult, ToolSpec } from '../../harness/types';
import { readJsonFile } from '../data-file';
import { splitOf } from '../split';
import type { Product } from '../tau2-retail/retail-db';
import type { BuiltinBenchmark, BenchmarkTask, Corruption, ImmediateScoredEnvironment, Verdict } from '../types';
import { shopServerUrl } from './server';
import { formatSelection, generateGoals, goalText, optionLabel, parseSelection, Purchase, Shop, ShopGoal, shopReward } from './store';
import { RenderedPage, renderPage } from './text-browser';

export const DATA_DIR = join(packageRoot(), 'benchmarks', 'tau2-retail', 'data');

const TOOLS: ToolSpec[] = [
  { name: 'search', description: 'Type a query into the search box (only on the search page) and search.', parameters: { query: { type: 'string', description: 'search words' } }, phrases: ['search[{query}]'] },
  { name: 'click', description: 'Click a [bracketed] element of the current page: a product, an option, Buy Now, Next >, < Prev, Back to Search.', parameters: { element: { type: 'string', description: 'the label inside the brackets' } }, phrases: ['click[{element}]'] },
];

/**
 * A goal's id from what it asks (product and options), never from its position among the generated goals: a
 * product added to the catalogue renames no task and moves none between splits.
 */
export function webshopTaskId(g: ShopGoal): string {
  return `webshop/${g.productId}-${createHash('sha256').update(formatSelection(g.options)).digest('hex').slice(0, 8)}`;
}

const unescapeHtml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');

/** What the browser shows now, for the agent and for loop detection. */
function observation(page: RenderedPage, where: string): string {
  return `${page.text}\nCurrent state: ${where}`;
}

/**
 * A WebShop-style store built from the tau2 retail catalogue (50 products, 591 variants): a real local HTTP
 * server serves search, results and product pages; the agent reads a text rendering and acts with
 * search[query] and click[element]; instructions are generated from the catalogue; the reward is
 * WebShop's (product, options, price).
 */
export class WebShopBenchmark implements BuiltinBenchmark {
  readonly name = 'webshop';
  readonly description = 'WebShop-style shopping over the tau2 retail catalogue, served over HTTP; reward = product × (options + price) match.';
  readonly shop: Shop;
  private readonly goals = new Map<string, ShopGoal>();
  private taskList: BenchmarkTask[] | null = null;

  constructor(options: { dataDir?: string } = {}) {
    const path = join(options.dataDir ?? DATA_DIR, 'db.json');
    const products = readJsonFile<{ products: Record<string, Product> }>(path).products;
    this.shop = new Shop(products);
    for (const g of generateGoals(this.shop)) {
      const id = webshopTaskId(g);
      if (this.goals.has(id)) throw new Error(`${path}: two generated goals share the id "${id}"`);
      this.goals.set(id, g);
    }
  }

  goal(id: string): ShopGoal {
    const g = this.goals.get(id);
    if (!g) throw new Error(`webshop: no task "${id}"`);
    return g;
  }

  /** The simulator knows the product and the options' labels; it recognises the goal sentence in the prompt. */
  simulatorBrief(taskId: string): WebShopBrief {
    const goal = this.goal(taskId);
    const product = this.shop.product(goal.productId)!;
    const options = Object.entries(goal.options).map(([name, value]) => {
      // The first variant's value of this option when it differs from the one asked for (what a hurried click hits).
      const other = Object.values(product.variants).map((v) => v.options[name]).find((v) => v !== value);
      return { name, value, label: optionLabel(product, name, value), otherLabel: other ? optionLabel(product, name, other) : null };
    });
    return { benchmark: 'webshop', goalLine: goalText(goal), productName: goal.productName, options };
  }

  instructionFor(g: ShopGoal): string {
    return `${goalText(g)}\n\nYou are in a web store. Act with search[query] on the search page and click[element] on [bracketed] elements; buy the item with Buy Now.\n\nWebShop [Search]\nCurrent state: search page`;
  }

  tasks(): BenchmarkTask[] {
    this.taskList ??= [...this.goals].map(([id, g]) => ({ id, instruction: this.instructionFor(g), split: splitOf(id) }));
    return this.taskList;
  }

  task(id: string): BenchmarkTask {
    return { id, instruction: this.instructionFor(this.goal(id)), split: splitOf(id) };
  }

  smokeTaskId(): string {
    return [...this.goals.keys()][0];
  }

  cluster(taskId: string): string {
    return this.goal(taskId).productName;
  }

  /**
   * One browser session: its current page and, at the end, what was bought. `plan` turns an action into a
   * navigation (or an immediate answer); `land` shows the fetched page. The environment fetches over HTTP,
   * the verifier straight from the store.
   */
  private session(goal: ShopGoal) {
    const shop = this.shop;
    let page: RenderedPage = renderPage(this.shop.page('/').html);
    let where = 'search page';
    let bought: Purchase | null = null;
    return {
      get done() {
        return bought !== null;
      },
      reward: () => shopReward(goal, bought),
      links: () => page.links.map((l) => l.label),
      searchBox: () => page.searchBox,
      plan(call: ToolCall): { result: ToolResult } | { path: string; label: string } {
        if (bought) return { result: { ok: false, errorKind: 'precondition', output: 'The purchase is complete; the task is over.' } };
        if (call.name === 'search') {
          const query = call.args?.query;
          if (typeof query !== 'string' || !query.trim()) return { result: { ok: false, errorKind: 'bad_arguments', output: `search needs {"query": "…"}.\n${observation(page, where)}` } };
          if (!page.searchBox) return { result: { ok: false, errorKind: 'precondition', output: `There is no search box on this page; click [Back to Search] first.\n${observation(page, where)}` } };
          return { path: `/search?q=${encodeURIComponent(query.trim())}&page=1`, label: '' };
        }
        if (call.name === 'click') {
          const element = String(call.args?.element ?? '').replace(/^\[|\]$/g, '').trim().toLowerCase();
          const link = page.links.find((l) => l.label.toLowerCase() === element);
          if (!link) return { result: { ok: false, errorKind: 'precondition', output: `No [${call.args?.element}] on this page.\n${observation(page, where)}` } };
          return { path: link.href, label: link.label };
        }
        return { result: { ok: false, errorKind: 'unknown_tool', output: `Unknown tool "${call.name}". Tools: search, click.` } };
      },
      land(path: string, label: string, fetched: { html: string; purchase?: Purchase }): ToolResult {
        page = renderPage(fetched.html);
        if (fetched.purchase) bought = fetched.purchase;
        const sel = /sel=([^&]+)/.exec(path);
        where = path.startsWith('/search')
          ? `results for "${new URL(path, 'http://x').searchParams.get('q')}", ${page.text.match(/Page \d+/)?.[0] ?? ''}`
          : path.startsWith('/product/')
            ? `product page ${shop.product(/\/product\/(\d+)/.exec(path)?.[1] ?? '')?.name ?? label}${sel ? `, selected ${decodeURIComponent(sel[1])}` : ''}`
            : path.startsWith('/buy/')
              ? bought ? 'purchase complete' : 'purchase failed'
              : 'search page';
        return { ok: true, output: observation(page, where) };
      },
    };
  }

  createEnvironment(taskId: string): ImmediateScoredEnvironment {
    const goal = this.goal(taskId);
    const shop = this.shop;
    const session = this.session(goal);
    // Every page comes over HTTP from the store's server; the purchase is read off the confirmation page.
    // Only a Buy Now page can carry a purchase: no other page's text can pass for one.
    const fetchPage = async (path: string) => {
      const res = await fetch((await shopServerUrl(shop)) + path);
      const html = await res.text();
      const bought = path.startsWith('/buy/') && res.ok ? /<p data-item="(\d+)" data-selected="([^"]*)">/.exec(html) : null;
      const found = bought ? shop.item(bought[1]) : undefined;
      const selected = bought ? parseSelection(unescapeHtml(bought[2])) : {};
      return { html, purchase: found ? { productId: found.product.product_id, itemId: found.variant.item_id, options: found.variant.options, price: found.variant.price, selected } : undefined };
    };
    return {
      instruction: () => this.instructionFor(goal),
      tools: () => TOOLS,
      admissibleActions: () => [...(session.searchBox() ? ['search[<query>]'] : []), ...session.links().map((l) => `click[${l}]`)],
      execute: async (call) => {
        const step = session.plan(call);
        return 'result' in step ? step.result : session.land(step.path, step.label, await fetchPage(step.path));
      },
      isDone: () => session.done,
      score: () => (session.reward() >= 1 ? 1 : 0),
      breakdown: () => ({ reward: session.reward() }),
    };
  }

  referenceSolution(taskId: string): ToolCall[] {
    const g = this.goal(taskId);
    const p = this.shop.product(g.productId)!;
    const opts = Object.entries(g.options);
    return [
      { id: 'gold-0', name: 'search', args: { query: `${g.productName} ${opts.map(([, v]) => v).join(' ')}` } },
      { id: 'gold-1', name: 'click', args: { element: g.productName } },
      ...opts.map(([k, v], i) => ({ id: `gold-${i + 2}`, name: 'click', args: { element: optionLabel(p, k, v) } })),
      { id: 'gold-buy', name: 'click', args: { element: 'Buy Now' } },
    ];
  }

  /** Replays actions on the store's pages directly (no network): a full reward is required. */
  verifyPlan(taskId: string, actions: ToolCall[]): Verdict {
    const session = this.session(this.goal(taskId));
    for (const [i, a] of actions.entries()) {
      const step = session.plan(a);
      const r = 'result' in step ? step.result : session.land(step.path, step.label, this.shop.page(step.path));
      if (!r.ok) return { valid: false, reason: `step ${i + 1}: ${r.output.split('\n')[0]}` };
    }
    const reward = session.reward();
    return reward >= 1 ? { valid: true, reason: 'bought the requested item within budget' } : { valid: false, reason: `reward ${reward.toFixed(2)} < 1` };
  }

  corruptSolutions(taskId: string): Corruption[] {
    const g = this.goal(taskId);
    const gold = this.referenceSolution(taskId);
    const p = this.shop.products.find((x) => x.product_id === g.productId)!;
    const [k0] = Object.keys(g.options);
    const otherValue = [...new Set(Object.values(p.variants).map((v) => v.options[k0]))].find((v) => v !== g.options[k0]);
    const other = this.shop.search(gold[0].args.query as string).find((x) => x.product_id !== g.productId);
    const buy: ToolCall = { id: 'bad-buy', name: 'click', args: { element: 'Buy Now' } };
    const first = this.shop.search(gold[0].args.query as string)[0];
    const out: Corruption[] = [
      { kind: 'never bought', actions: gold.slice(0, -1) },
      { kind: 'no options chosen', actions: [gold[0], gold[1], buy] },
      { kind: 'first result bought', actions: [gold[0], { id: 'bad-first', name: 'click', args: { element: first.name } }, buy] },
    ];
    if (otherValue) out.push({ kind: 'wrong option', actions: gold.map((a) => (a.args.element === optionLabel(p, k0, g.options[k0]) ? { ...a, args: { element: optionLabel(p, k0, otherValue) } } : a)) });
    if (other) out.push({ kind: 'wrong product', actions: [gold[0], { id: 'bad', name: 'click', args: { element: other.name } }, { id: 'bad-buy', name: 'click', args: { element: 'Buy Now' } }] });
    return out;
  }
}

import { hashUniform } from '../../harness/canonical';
import type { Product, Variant } from '../tau2-retail/retail-db';

/**
 * A WebShop-style store over the tau2 retail catalogue: its pages (HTML), search, and purchase, as pure
 * functions of the URL. The HTTP server serves exactly these pages; the verifier replays actions on them
 * without a network. Prices are the catalogue's.
 */
export interface ShopGoal {
  productId: string;
  productName: string;
  /** Option values the customer asked for, by option name. */
  options: Record<string, string>;
  /** The price limit, in dollars. */
  budget: number;
}

export interface Purchase {
  productId: string;
  itemId: string;
  options: Record<string, string>;
  price: number;
  /** The options the shopper clicked before Buy Now (WebShop scores these, not what the item happens to have). */
  selected: Record<string, string>;
}

const PAGE_SIZE = 10;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const words = (s: string) => s.toLowerCase().split(/[^a-z0-9.]+/).filter(Boolean);

export class Shop {
  readonly products: Product[];
  constructor(products: Record<string, Product>) {
    this.products = Object.values(products).sort((a, b) => (a.product_id < b.product_id ? -1 : 1));
    this.byProduct = new Map(this.products.map((p) => [p.product_id, p]));
    this.byItem = new Map(this.products.flatMap((product) => Object.values(product.variants).map((variant) => [variant.item_id, { product, variant }] as const)));
  }

  private readonly byProduct: Map<string, Product>;
  private readonly byItem: Map<string, { product: Product; variant: Variant }>;

  product(id: string): Product | undefined {
    return this.byProduct.get(id);
  }

  /** A variant by item id, with its product (what a purchase page names). */
  item(itemId: string): { product: Product; variant: Variant } | undefined {
    return this.byItem.get(itemId);
  }

  /** Products by relevance: name words count double, option words once; ties by name. */
  search(query: string): Product[] {
    const q = words(query);
    const scored = this.products.map((p) => {
      const name = new Set(words(p.name));
      const opts = new Set(Object.values(p.variants).flatMap((v) => Object.values(v.options).flatMap(words)));
      return { p, score: q.reduce((n, w) => n + (name.has(w) ? 2 : 0) + (opts.has(w) ? 1 : 0), 0) };
    });
    return scored.filter((s) => s.score > 0).sort((a, b) => b.score - a.score || (a.p.name < b.p.name ? -1 : 1)).map((s) => s.p);
  }

  /** The cheapest available variant that has every selected option, or null. */
  pick(p: Product, selected: Record<string, string>): Variant | null {
    const fits = Object.values(p.variants).filter((v) => v.available && Object.entries(selected).every(([k, val]) => v.options[k] === val));
    return fits.sort((a, b) => a.price - b.price || (a.item_id < b.item_id ? -1 : 1))[0] ?? null;
  }

  /** The page at a URL (path + query), as HTML; a purchase page carries the bought item in data attributes. */
  page(url: string): { status: number; html: string; purchase?: Purchase } {
    const u = new URL(url, 'http://shop.local');
    const q = u.searchParams.get('q') ?? '';
    const pageNo = Math.max(1, Number(u.searchParams.get('page') ?? '1') || 1);
    const sel = parseSelection(u.searchParams.get('sel') ?? '');
    const back = `<a href="/">Back to Search</a>`;
    if (u.pathname === '/') return { status: 200, html: `<h1>WebShop</h1><form action="/search"><input name="q" placeholder="search"></form>` };
    if (u.pathname === '/search') {
      const hits = this.search(q);
      const shown = hits.slice((pageNo - 1) * PAGE_SIZE, pageNo * PAGE_SIZE);
      const rows = shown.map((p) => {
        const prices = Object.values(p.variants).map((v) => v.price);
        return `<li><a href="/product/${p.product_id}?q=${encodeURIComponent(q)}&page=${pageNo}">${esc(p.name)}</a> $${Math.min(...prices).toFixed(2)} to $${Math.max(...prices).toFixed(2)}</li>`;
      });
      const next = pageNo * PAGE_SIZE < hits.length ? `<a href="/search?q=${encodeURIComponent(q)}&page=${pageNo + 1}">Next &gt;</a>` : '';
      const prev = pageNo > 1 ? `<a href="/search?q=${encodeURIComponent(q)}&page=${pageNo - 1}">&lt; Prev</a>` : '';
      return { status: 200, html: `${back}<p>Page ${pageNo} (Total results: ${hits.length})</p>${prev}${next}<ul>${rows.join('')}</ul>` };
    }
    const productMatch = /^\/(product|buy)\/(\d+)$/.exec(u.pathname);
    const p = productMatch && this.product(productMatch[2]);
    if (!p) return { status: 404, html: `${back}<p>Not found.</p>` };
    const keep = `q=${encodeURIComponent(q)}&page=${pageNo}`;
    if (productMatch![1] === 'buy') {
      const v = this.pick(p, sel);
      if (!v) return { status: 409, html: `${back}<p>No available item of ${esc(p.name)} has the options you selected.</p><a href="/product/${p.product_id}?${keep}&sel=${encodeURIComponent(formatSelection(sel))}">&lt; Prev</a>` };
      const purchase: Purchase = { productId: p.product_id, itemId: v.item_id, options: v.options, price: v.price, selected: sel };
      return { status: 200, html: `<p data-item="${v.item_id}" data-selected="${esc(formatSelection(sel))}">Thank you for shopping with us! You bought ${esc(p.name)} (${esc(formatSelection(v.options))}) for $${v.price.toFixed(2)}.</p>`, purchase };
    }
    const groups = new Map<string, Set<string>>();
    for (const v of Object.values(p.variants)) for (const [k, val] of Object.entries(v.options)) (groups.get(k) ?? groups.set(k, new Set()).get(k)!).add(val);
    const chosen = this.pick(p, sel);
    const price = chosen ? `$${chosen.price.toFixed(2)}` : 'not available with these options';
    const optionHtml = [...groups].map(([k, vals]) => {
      const links = [...vals].sort().map((val) => {
        const next = formatSelection({ ...sel, [k]: val });
        const label = sel[k] === val ? `${esc(optionLabel(p, k, val))} (selected)` : esc(optionLabel(p, k, val));
        return `<a href="/product/${p.product_id}?${keep}&sel=${encodeURIComponent(next)}">${label}</a>`;
      });
      return `<div>${esc(k)}: ${links.join(' ')}</div>`;
    });
    return {
      status: 200,
      html: `${back}<a href="/search?${keep}">&lt; Prev</a><h2>${esc(p.name)}</h2><p>Price: ${price}</p>${optionHtml.join('')}<a href="/buy/${p.product_id}?${keep}&sel=${encodeURIComponent(formatSelection(sel))}">Buy Now</a>`,
    };
  }
}

/** An option's link label: its value, or "name: value" when another option of the product has the same value. */
export function optionLabel(p: Product, key: string, value: string): string {
  const clash = Object.values(p.variants).some((v) => Object.entries(v.options).some(([k, val]) => k !== key && val === value));
  return clash ? `${key}: ${value}` : value;
}

export function parseSelection(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(';').filter(Boolean)) {
    const i = part.indexOf(':');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}
export function formatSelection(sel: Record<string, string>): string {
  return Object.keys(sel).sort().map((k) => `${k}:${sel[k]}`).join(';');
}

/**
 * WebShop's reward: product type match × (options matched + price within budget) / (options asked + 1). As in
 * WebShop, an option counts when the shopper selected it: buying without choosing options, or buying the
 * first result, is not rewarded for options the item merely happens to have.
 */
export function shopReward(goal: ShopGoal, bought: Purchase | null): number {
  if (!bought || bought.productId !== goal.productId) return 0;
  const asked = Object.entries(goal.options);
  const matched = asked.filter(([k, v]) => bought.selected[k] === v && bought.options[k] === v).length;
  return (matched + (bought.price <= goal.budget ? 1 : 0)) / (asked.length + 1);
}

/** Instructions generated deterministically from the catalogue: three goals per product, two options each. */
export function generateGoals(shop: Shop, perProduct = 3): ShopGoal[] {
  const goals: ShopGoal[] = [];
  for (const p of shop.products) {
    const available = Object.values(p.variants).filter((v) => v.available).sort((a, b) => (a.item_id < b.item_id ? -1 : 1));
    const seen = new Set<string>();
    for (let n = 0; n < perProduct * 4 && goals.filter((g) => g.productId === p.product_id).length < perProduct && available.length; n++) {
      const target = available[Math.floor(hashUniform('webshop-goal', p.product_id, n) * available.length)];
      const keys = Object.keys(target.options).sort((a, b) => hashUniform('key', p.product_id, n, a) - hashUniform('key', p.product_id, n, b)).slice(0, 2).sort();
      const options = Object.fromEntries(keys.map((k) => [k, target.options[k]]));
      const id = formatSelection(options);
      if (seen.has(id)) continue;
      seen.add(id);
      const cheapest = shop.pick(p, options)!;
      goals.push({ productId: p.product_id, productName: p.name, options, budget: Math.ceil((cheapest.price * 1.1) / 10) * 10 });
    }
  }
  return goals;
}

export function goalText(g: ShopGoal): string {
  const opts = Object.entries(g.options).map(([k, v]) => `${k} ${v}`).join(' and ');
  return `I am looking for a ${g.productName.toLowerCase()} with ${opts}, and price lower than ${g.budget.toFixed(2)} dollars.`;
}

import { own } from '../own';
import { evaluateExpression } from '../gsm8k/arithmetic';

/**
 * The tau2-bench retail database and its 16 tools, re-implemented from TOOLS.md. An episode gets its own
 * copy: records are cloned on first write (copy-on-write), so episodes never share state and creating one
 * costs nothing for the 1,000 orders it does not touch.
 */
export interface Variant { item_id: string; options: Record<string, string>; available: boolean; price: number }
export interface Product { name: string; product_id: string; variants: Record<string, Variant> }
export interface PaymentMethod { source: string; id: string; balance?: number; [k: string]: unknown }
export interface Address { address1: string; address2: string; city: string; country: string; state: string; zip: string }
export interface User { user_id: string; name: { first_name: string; last_name: string }; address: Address; email: string; payment_methods: Record<string, PaymentMethod>; orders: string[] }
export interface OrderItem { name: string; product_id: string; item_id: string; price: number; options: Record<string, string> }
export interface Order {
  order_id: string;
  user_id: string;
  address: Address;
  items: OrderItem[];
  status: string;
  fulfillments: unknown[];
  payment_history: Array<{ transaction_type: 'payment' | 'refund'; amount: number; payment_method_id: string }>;
  [k: string]: unknown;
}
export interface RetailData { products: Record<string, Product>; users: Record<string, User>; orders: Record<string, Order> }

/** A tool failure: the agent sees the message as the tool result. */
export class ToolError extends Error {}

const round2 = (x: number) => Math.round(x * 100) / 100;

export const READ_TOOLS = ['find_user_id_by_email', 'find_user_id_by_name_zip', 'get_user_details', 'get_order_details', 'get_product_details', 'get_item_details', 'list_all_product_types', 'calculate', 'transfer_to_human_agents'] as const;
export const WRITE_TOOLS = ['cancel_pending_order', 'modify_pending_order_address', 'modify_pending_order_items', 'modify_pending_order_payment', 'modify_user_address', 'return_delivered_order_items', 'exchange_delivered_order_items'] as const;

export class RetailDb {
  private readonly users = new Map<string, User>();
  private readonly orders = new Map<string, Order>();
  transferred = false;

  constructor(private readonly base: RetailData) {}

  /** Records changed in this episode (ids prefixed by table), for database comparison. */
  changed(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [id, u] of this.users) out[`users/${id}`] = u;
    for (const [id, o] of this.orders) out[`orders/${id}`] = o;
    return out;
  }
  /** The initial version of a record changed in another episode (to compare change sets fairly). */
  original(key: string): unknown {
    const [table, id] = key.split(/\/(.*)/s);
    return table === 'users' ? own(this.base.users, id) : own(this.base.orders, id);
  }

  /** A record for reading, or this episode's own copy of it for writing (cloned on first write). */
  private record<T>(mine: Map<string, T>, base: Record<string, T>, id: string, write: boolean, notFound: string): T {
    const copied = mine.get(id);
    if (copied) return copied;
    const shared = own(base, id);
    if (!shared) throw new ToolError(notFound);
    if (!write) return shared;
    const copy = structuredClone(shared);
    mine.set(id, copy);
    return copy;
  }
  private user(id: string, write = false): User {
    return this.record(this.users, this.base.users, id, write, 'User not found');
  }
  private order(id: unknown, write = false): Order {
    return this.record(this.orders, this.base.orders, String(id), write, 'Order not found');
  }
  private product(id: unknown): Product {
    const p = own(this.base.products, String(id));
    if (!p) throw new ToolError('Product not found');
    return p;
  }

  /** Runs one tool; returns its output text or throws ToolError. */
  call(name: string, args: Record<string, unknown>): string {
    const s = (k: string) => {
      const v = own(args, k);
      if (typeof v !== 'string') throw new ToolError(`Argument "${k}" must be a string`);
      return v;
    };
    const list = (k: string) => {
      const v = own(args, k);
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ToolError(`Argument "${k}" must be a list of ids`);
      return v as string[];
    };
    switch (name) {
      case 'find_user_id_by_email': {
        const email = s('email').toLowerCase();
        const u = Object.values(this.base.users).find((x) => x.email.toLowerCase() === email);
        if (!u) throw new ToolError('User not found');
        return u.user_id;
      }
      case 'find_user_id_by_name_zip': {
        const [first, last, zip] = [s('first_name').toLowerCase(), s('last_name').toLowerCase(), s('zip')];
        const u = Object.values(this.base.users).find((x) => x.name.first_name.toLowerCase() === first && x.name.last_name.toLowerCase() === last && x.address.zip === zip);
        if (!u) throw new ToolError('User not found');
        return u.user_id;
      }
      case 'get_user_details':
        return JSON.stringify(this.user(s('user_id')));
      case 'get_order_details':
        return JSON.stringify(this.order(s('order_id')));
      case 'get_product_details':
        return JSON.stringify(this.product(s('product_id')));
      case 'get_item_details': {
        const id = s('item_id');
        for (const p of Object.values(this.base.products)) if (own(p.variants, id)) return JSON.stringify(p.variants[id]);
        throw new ToolError('Item not found');
      }
      case 'list_all_product_types':
        return JSON.stringify(Object.fromEntries(Object.values(this.base.products).map((p) => [p.name, p.product_id]).sort(([a], [b]) => (a < b ? -1 : 1))));
      case 'calculate': {
        const e = s('expression');
        if (!/^[\d+\-*/().\s]+$/.test(e)) throw new ToolError('Invalid characters in expression');
        // The allowed characters are a subset of the GSM8K calculator's language: one parser serves both.
        const v = evaluateExpression(e);
        if (!v.ok) throw new ToolError(v.error.includes('division by zero') ? 'Division by zero' : 'Invalid expression');
        return String(round2(v.value));
      }
      case 'transfer_to_human_agents':
        s('summary');
        this.transferred = true;
        return 'Transfer successful';
      case 'cancel_pending_order': {
        const o = this.order(s('order_id'), true);
        const reason = s('reason');
        if (o.status !== 'pending') throw this.undo(o, 'Non-pending order cannot be cancelled');
        if (reason !== 'no longer needed' && reason !== 'ordered by mistake') throw this.undo(o, 'Invalid reason');
        const refunds = o.payment_history.filter((p) => p.transaction_type === 'payment').map((p) => ({ transaction_type: 'refund' as const, amount: p.amount, payment_method_id: p.payment_method_id }));
        for (const r of refunds) {
          const pm = own(this.user(o.user_id).payment_methods, r.payment_method_id);
          if (pm?.source === 'gift_card') {
            const u = this.user(o.user_id, true);
            const card = own(u.payment_methods, r.payment_method_id)!;
            card.balance = round2((card.balance ?? 0) + r.amount);
          }
        }
        o.payment_history.push(...refunds);
        o.status = 'cancelled';
        o.cancel_reason = reason;
        return JSON.stringify(o);
      }
      case 'modify_pending_order_address': {
        const o = this.order(s('order_id'), true);
        if (!o.status.includes('pending')) throw this.undo(o, 'Non-pending order cannot be modified');
        o.address = { address1: s('address1'), address2: s('address2'), city: s('city'), state: s('state'), country: s('country'), zip: s('zip') };
        return JSON.stringify(o);
      }
      case 'modify_user_address': {
        const u = this.user(s('user_id'), true);
        u.address = { address1: s('address1'), address2: s('address2'), city: s('city'), state: s('state'), country: s('country'), zip: s('zip') };
        return JSON.stringify(u);
      }
      case 'modify_pending_order_payment': {
        const o = this.order(s('order_id'), true);
        const method = s('payment_method_id');
        if (!o.status.includes('pending')) throw this.undo(o, 'Non-pending order cannot be modified');
        const u = this.user(o.user_id);
        if (!own(u.payment_methods, method)) throw this.undo(o, 'Payment method not found');
        if (o.payment_history.length !== 1 || o.payment_history[0].transaction_type !== 'payment') throw this.undo(o, 'There should be exactly one payment for a pending order');
        const old = o.payment_history[0];
        if (old.payment_method_id === method) throw this.undo(o, 'The new payment method should be different from the current one');
        const amount = old.amount;
        const target = own(u.payment_methods, method)!;
        if (target.source === 'gift_card' && (target.balance ?? 0) < amount) throw this.undo(o, 'Insufficient gift card balance to pay for the order');
        o.payment_history.push({ transaction_type: 'payment', amount, payment_method_id: method }, { transaction_type: 'refund', amount, payment_method_id: old.payment_method_id });
        if (target.source === 'gift_card') {
          const card = own(this.user(o.user_id, true).payment_methods, method)!;
          card.balance = round2((card.balance ?? 0) - amount);
        }
        if (own(u.payment_methods, old.payment_method_id)?.source === 'gift_card') {
          const card = own(this.user(o.user_id, true).payment_methods, old.payment_method_id)!;
          card.balance = round2((card.balance ?? 0) + amount);
        }
        return JSON.stringify(o);
      }
      case 'modify_pending_order_items':
      case 'exchange_delivered_order_items': {
        const exchange = name === 'exchange_delivered_order_items';
        const o = this.order(s('order_id'), true);
        const [itemIds, newIds, method] = [list('item_ids'), list('new_item_ids'), s('payment_method_id')];
        if (o.status !== (exchange ? 'delivered' : 'pending')) throw this.undo(o, exchange ? 'Non-delivered order cannot be exchanged' : 'Non-pending order cannot be modified');
        this.checkMultiplicity(o, itemIds);
        if (itemIds.length !== newIds.length) throw this.undo(o, 'The number of items to be exchanged should match');
        let diff = 0;
        const replacements: Array<{ index: number; variant: Variant }> = [];
        const used = new Set<number>();
        itemIds.forEach((id, k) => {
          const index = o.items.findIndex((it, i) => it.item_id === id && !used.has(i));
          used.add(index);
          const item = o.items[index];
          const variant = own(this.product(item.product_id).variants, newIds[k]);
          if (!variant || newIds[k] === id) throw this.undo(o, `New item ${newIds[k]} not found or not a different variant of the same product`);
          if (!variant.available) throw this.undo(o, `New item ${newIds[k]} not available`);
          diff += variant.price - item.price;
          replacements.push({ index, variant });
        });
        diff = round2(diff);
        const u = this.user(o.user_id);
        const pm = own(u.payment_methods, method);
        if (!pm) throw this.undo(o, 'Payment method not found');
        if (pm.source === 'gift_card' && (pm.balance ?? 0) < diff) throw this.undo(o, 'Insufficient gift card balance to pay for the price difference');
        if (exchange) {
          o.status = 'exchange requested';
          o.exchange_items = [...itemIds].sort();
          o.exchange_new_items = [...newIds].sort();
          o.exchange_payment_method_id = method;
          o.exchange_price_difference = diff;
          return JSON.stringify(o);
        }
        o.payment_history.push({ transaction_type: diff > 0 ? 'payment' : 'refund', amount: Math.abs(diff), payment_method_id: method });
        if (pm.source === 'gift_card') {
          const card = own(this.user(o.user_id, true).payment_methods, method)!;
          card.balance = round2((card.balance ?? 0) - diff);
        }
        for (const { index, variant } of replacements) o.items[index] = { ...o.items[index], item_id: variant.item_id, price: variant.price, options: variant.options };
        o.status = 'pending (item modified)';
        return JSON.stringify(o);
      }
      case 'return_delivered_order_items': {
        const o = this.order(s('order_id'), true);
        const [itemIds, method] = [list('item_ids'), s('payment_method_id')];
        if (o.status !== 'delivered') throw this.undo(o, 'Non-delivered order cannot be returned');
        const u = this.user(o.user_id);
        const original = o.payment_history[0]?.payment_method_id;
        if (!own(u.payment_methods, method)) throw this.undo(o, 'Payment method not found');
        if (method !== original && own(u.payment_methods, method)!.source !== 'gift_card') throw this.undo(o, 'Payment method should be either the original payment method or a gift card');
        this.checkMultiplicity(o, itemIds);
        o.status = 'return requested';
        o.return_items = [...itemIds].sort();
        o.return_payment_method_id = method;
        return JSON.stringify(o);
      }
      default:
        throw new ToolError(`Unknown tool "${name}"`);
    }
  }

  private checkMultiplicity(o: Order, itemIds: string[]): void {
    const have = new Map<string, number>();
    for (const it of o.items) have.set(it.item_id, (have.get(it.item_id) ?? 0) + 1);
    for (const id of itemIds) {
      const n = have.get(id) ?? 0;
      if (n === 0) throw this.undo(o, `${id} not found`);
      have.set(id, n - 1);
    }
  }

  /** A failed write leaves the database as it was: drop the copy made for it (if nothing else changed it). */
  private undo(o: Order, message: string): ToolError {
    const base = own(this.base.orders, o.order_id);
    if (base && JSON.stringify(base) === JSON.stringify(o)) this.orders.delete(o.order_id);
    return new ToolError(message);
  }
}

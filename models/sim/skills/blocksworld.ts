import type { ModelRequest, ToolCall } from '../../../harness/types';
import { readFacts } from '../reading';

/**
 * The simulator's blocksworld competence: it reads the goal and the latest state from the request text
 * (never the environment), and proposes actions with a sound heuristic planner. Errors are injected by
 * the caller; this file only knows what a correct move is, and what plausible wrong moves look like.
 */

export interface Beliefs {
  blocks: string[];
  clear: Set<string>;
  on: Map<string, string>;
  ontable: Set<string>;
  holding: string | null;
  goalOn: Map<string, string>;
  goalTable: Set<string>;
}

export type Move = { name: 'pick_up' | 'put_down'; args: { block: string } } | { name: 'stack' | 'unstack'; args: { block: string; target: string } };

export function matches(request: ModelRequest): boolean {
  return request.tools.some((t) => t.name === 'unstack') && request.messages.some((m) => /My goal is to have that/.test(m.content));
}

export function readBeliefs(request: ModelRequest): Beliefs | null {
  const texts = request.messages.map((m) => m.content);
  const task = texts.find((t) => /My goal is to have that/.test(t));
  if (!task) return null;
  const goalText = /My goal is to have that([^\n]*)/.exec(task)?.[1] ?? '';
  const goal = readFacts(goalText);
  const latest = [...texts].reverse().find((t) => /Current state:/.test(t));
  const stateText = latest ? latest.slice(latest.lastIndexOf('Current state:')) : (/As initial conditions I have that([^\n]*)/.exec(task)?.[1] ?? '');
  const s = readFacts(stateText);
  const blocks = [...new Set([...s.clear, ...s.ontable, ...s.on.keys(), ...s.on.values(), ...(s.holding ? [s.holding] : []), ...goal.on.keys(), ...goal.on.values()])].sort();
  return { blocks, clear: s.clear, on: s.on, ontable: s.ontable, holding: s.holding, goalOn: goal.on, goalTable: goal.ontable };
}

export function applicable(b: Beliefs, m: Move): boolean {
  const { block } = m.args;
  switch (m.name) {
    case 'pick_up':
      return !b.holding && b.clear.has(block) && b.ontable.has(block);
    case 'put_down':
      return b.holding === block;
    case 'stack':
      return b.holding === block && m.args.target !== block && b.clear.has(m.args.target);
    case 'unstack':
      return !b.holding && b.clear.has(block) && b.on.get(block) === m.args.target;
  }
}

export function applyMove(b: Beliefs, m: Move): Beliefs {
  const next: Beliefs = { ...b, clear: new Set(b.clear), on: new Map(b.on), ontable: new Set(b.ontable) };
  const { block } = m.args;
  if (m.name === 'pick_up') {
    next.ontable.delete(block);
    next.clear.delete(block);
    next.holding = block;
  } else if (m.name === 'unstack') {
    next.on.delete(block);
    next.clear.delete(block);
    next.clear.add(m.args.target);
    next.holding = block;
  } else if (m.name === 'put_down') {
    next.ontable.add(block);
    next.clear.add(block);
    next.holding = null;
  } else if (m.name === 'stack') {
    next.on.set(block, m.args.target);
    next.clear.delete(m.args.target);
    next.clear.add(block);
    next.holding = null;
  }
  return next;
}

export function allMoves(b: Beliefs): Move[] {
  const out: Move[] = [];
  for (const x of b.blocks) {
    out.push({ name: 'pick_up', args: { block: x } }, { name: 'put_down', args: { block: x } });
    for (const y of b.blocks) if (x !== y) out.push({ name: 'stack', args: { block: x, target: y } }, { name: 'unstack', args: { block: x, target: y } });
  }
  return out;
}

export function goalReached(b: Beliefs): boolean {
  return [...b.goalOn].every(([x, y]) => b.on.get(x) === y) && [...b.goalTable].every((x) => b.ontable.has(x));
}

/** A block is well placed when it, and everything under it, already sits where the goal needs it. */
function wellPlaced(b: Beliefs, x: string, seen = new Set<string>()): boolean {
  if (b.holding === x || seen.has(x)) return false;
  seen.add(x);
  const below = b.ontable.has(x) ? 'table' : b.on.get(x);
  if (below === undefined) return false;
  const wanted = b.goalOn.get(x) ?? (b.goalTable.has(x) ? 'table' : undefined);
  if (wanted !== undefined) return below === wanted && (below === 'table' || wellPlaced(b, below, seen));
  if (below === 'table') return true;
  const belowWantedByOther = [...b.goalOn].some(([z, y]) => y === below && z !== x);
  return !belowWantedByOther && wellPlaced(b, below, seen);
}

function ready(b: Beliefs, y: string): boolean {
  return b.clear.has(y) && wellPlaced(b, y);
}

/** The competent next move: build goal towers bottom-up, clearing misplaced blocks to the table. */
export function bestMove(b: Beliefs): Move | null {
  if (b.holding) {
    const x = b.holding;
    const y = b.goalOn.get(x);
    if (y && ready(b, y)) return { name: 'stack', args: { block: x, target: y } };
    return { name: 'put_down', args: { block: x } };
  }
  if (goalReached(b)) return null;
  const clear = b.blocks.filter((x) => b.clear.has(x));
  for (const x of clear) {
    const y = b.goalOn.get(x);
    if (y && !wellPlaced(b, x) && ready(b, y) && y !== x) return pickUp(b, x);
  }
  const misplaced = clear.filter((x) => !wellPlaced(b, x) && !b.ontable.has(x));
  if (misplaced.length) return pickUp(b, misplaced[0]);
  const tableMisplaced = clear.filter((x) => !wellPlaced(b, x));
  return tableMisplaced.length ? pickUp(b, tableMisplaced[0]) : null;
}

function pickUp(b: Beliefs, x: string): Move {
  return b.ontable.has(x) ? { name: 'pick_up', args: { block: x } } : { name: 'unstack', args: { block: x, target: b.on.get(x)! } };
}

/** The whole plan the competent policy would follow from these beliefs (bounded). */
export function fullPlan(b: Beliefs, limit = 60): Move[] {
  const plan: Move[] = [];
  let cur = b;
  for (let i = 0; i < limit; i++) {
    const m = bestMove(cur);
    if (!m) break;
    plan.push(m);
    cur = applyMove(cur, m);
  }
  return plan;
}

export function inverse(m: Move): Move {
  switch (m.name) {
    case 'pick_up':
      return { name: 'put_down', args: { block: m.args.block } };
    case 'put_down':
      return { name: 'pick_up', args: { block: m.args.block } };
    case 'stack':
      return { name: 'unstack', args: { block: m.args.block, target: m.args.target } };
    case 'unstack':
      return { name: 'stack', args: { block: m.args.block, target: m.args.target } };
  }
}

/** The last successful action visible in the conversation. */
export function lastSuccessfulMove(request: ModelRequest): Move | null {
  const ok = new Set(request.messages.filter((m) => m.role === 'tool' && !m.isError && m.toolCallId).map((m) => m.toolCallId));
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const call: ToolCall | undefined = request.messages[i].toolCalls?.[0];
    if (call && ok.has(call.id)) return toMove(call);
  }
  return null;
}

export function toMove(call: { name: string; args: Record<string, unknown> }): Move | null {
  const block = String(call.args.block ?? '');
  const target = String(call.args.target ?? '');
  if (call.name === 'pick_up' || call.name === 'put_down') return { name: call.name, args: { block } };
  if (call.name === 'stack' || call.name === 'unstack') return { name: call.name, args: { block, target } };
  return null;
}

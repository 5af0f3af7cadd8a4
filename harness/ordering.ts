import type { HookName } from './types';
import { getProcessorDefinition } from './processors';

const ORDER_RANK = { pre: 0, normal: 1, post: 2 } as const;

/**
 * The fields of a processor spec that ordering reads. Structural on purpose: config.ts owns the spec's
 * schema and imports this module to canonicalize, so importing ProcessorSpec from it here would close a
 * circle (config ↔ ordering).
 */
export interface OrderableSpec {
  id: string;
  type: string;
  params: Record<string, unknown>;
  /** Runs before the processor with this id on the same hook (an explicit position; see executionOrder). */
  before?: string;
  /** Runs after the processor with this id on the same hook. */
  after?: string;
}

export type OrderingResult<S extends OrderableSpec> = { ok: true; specs: S[] } | { ok: false; problems: string[] };

/**
 * Execution order of one hook's processors. An explicit position (a spec's `before`/`after`: another
 * processor's id on the same hook) is always honoured, even across order classes; within what positions
 * allow, processors run by order class (pre, normal, post), then after the processor types their type
 * names as soft dependencies (`meta.after`), then by id. Also checks the library rules: known type, allowed
 * hook, valid params, one processor per singleton group, and positions that name a processor of the hook
 * and do not form a circle.
 */
export function executionOrder<S extends OrderableSpec>(hook: HookName, specs: S[]): OrderingResult<S> {
  const problems: string[] = [];
  const groups = new Map<string, string>();
  const normalized: S[] = [];
  for (const spec of specs) {
    const def = getProcessorDefinition(spec.type);
    if (!def) {
      problems.push(`hooks.${hook}.${spec.id}: unknown processor type "${spec.type}"`);
      continue;
    }
    if (!def.hooks.includes(hook)) {
      problems.push(`hooks.${hook}.${spec.id}: processor type "${spec.type}" attaches only to ${def.hooks.join(', ')}`);
      continue;
    }
    const params = def.params.safeParse(spec.params);
    if (!params.success) {
      for (const issue of params.error.issues)
        problems.push(`hooks.${hook}.${spec.id}.params.${issue.path.join('.')}: ${issue.message}`);
      continue;
    }
    const group = def.meta.singletonGroup;
    if (group) {
      const holder = groups.get(group);
      if (holder) problems.push(`hooks.${hook}: "${spec.id}" and "${holder}" are both in singleton group "${group}"`);
      groups.set(group, spec.id);
    }
    normalized.push({ ...spec, params: params.data as Record<string, unknown> });
  }
  if (problems.length) return { ok: false, problems };

  const ids = new Set(normalized.map((spec) => spec.id));
  // Hard edges from explicit positions: [earlier id, later id].
  const edges: Array<[string, string]> = [];
  for (const spec of normalized) {
    for (const [field, other] of [['before', spec.before], ['after', spec.after]] as const) {
      if (other === undefined) continue;
      if (other === spec.id) problems.push(`hooks.${hook}.${spec.id}.${field}: a processor cannot be placed relative to itself`);
      else if (!ids.has(other)) problems.push(`hooks.${hook}.${spec.id}.${field}: no processor "${other}" on ${hook} (processors there: ${[...ids].join(', ') || 'none'})`);
      else edges.push(field === 'before' ? [spec.id, other] : [other, spec.id]);
    }
  }
  if (problems.length) return { ok: false, problems };

  /** Whether explicit positions put `a` before `b`, directly or through others. */
  const precedes = (a: string, b: string): boolean => {
    const seen = new Set<string>();
    const stack = [a];
    while (stack.length) {
      const at = stack.pop()!;
      for (const [first, then] of edges) {
        if (first !== at || seen.has(then)) continue;
        if (then === b) return true;
        seen.add(then);
        stack.push(then);
      }
    }
    return false;
  };

  const sorted = [...normalized].sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Stable topological pass: repeatedly take the first processor that no remaining processor must precede
  // by an explicit position, preferring one whose soft dependencies are placed too.
  const out: S[] = [];
  const remaining = [...sorted];
  while (remaining.length) {
    const free = (candidate: S) => !edges.some(([first, then]) => then === candidate.id && first !== candidate.id && remaining.some((r) => r.id === first));
    // A soft dependency that an explicit position contradicts (the candidate must come first) is dropped.
    const softReady = (candidate: S) => {
      const deps = getProcessorDefinition(candidate.type)!.meta.after ?? [];
      return remaining.every((other) => other === candidate || !deps.includes(other.type) || rank(other) > rank(candidate) || precedes(candidate.id, other.id));
    };
    let index = remaining.findIndex((candidate) => free(candidate) && softReady(candidate));
    // A cycle of soft dependencies falls back to the sorted order rather than failing.
    if (index === -1) index = remaining.findIndex(free);
    if (index === -1) {
      return { ok: false, problems: [`hooks.${hook}: the positions (before/after) of ${remaining.filter((r) => r.before !== undefined || r.after !== undefined).map((r) => `"${r.id}"`).join(', ')} form a circle`] };
    }
    out.push(remaining.splice(index, 1)[0]);
  }
  return { ok: true, specs: out };
}

function rank(spec: OrderableSpec): number {
  return ORDER_RANK[getProcessorDefinition(spec.type)!.meta.order];
}

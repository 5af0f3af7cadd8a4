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
}

export type OrderingResult<S extends OrderableSpec> = { ok: true; specs: S[] } | { ok: false; problems: string[] };

/**
 * Execution order of one hook's processors: by order class, then soft `after` dependencies (a stable
 * topological sort within the class), then id. Also checks the library rules: known type, allowed hook,
 * valid params, one processor per singleton group.
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

  const sorted = [...normalized].sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Stable topological pass: repeatedly take the first processor whose present dependencies are placed.
  const out: S[] = [];
  const remaining = [...sorted];
  while (remaining.length) {
    const index = remaining.findIndex((candidate) => {
      const deps = getProcessorDefinition(candidate.type)!.meta.after ?? [];
      return remaining.every((other) => other === candidate || !deps.includes(other.type) || rank(other) > rank(candidate));
    });
    // A cycle of soft dependencies falls back to the sorted order rather than failing.
    out.push(remaining.splice(index === -1 ? 0 : index, 1)[0]);
  }
  return { ok: true, specs: out };
}

function rank(spec: OrderableSpec): number {
  return ORDER_RANK[getProcessorDefinition(spec.type)!.meta.order];
}

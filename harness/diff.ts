import { canonicalJson } from './canonical';
import type { HarnessConfig, ProcessorSpec } from './config';
import { getProcessorDefinition } from './processors';
import { HOOKS, HookName } from './types';

export type ProcessorChange =
  | { change: 'added'; hook: HookName; processor: ProcessorSpec }
  | { change: 'removed'; hook: HookName; processor: ProcessorSpec }
  | { change: 'replaced'; hook: HookName; from: ProcessorSpec; to: ProcessorSpec }
  | { change: 'reconfigured'; hook: HookName; id: string; type: string; params: Record<string, { from: unknown; to: unknown }> }
  | { change: 'moved'; hook: HookName; id: string; from: string; to: string };

/** A processor's explicit position within its hook, as a diff shows it. */
const positionOf = (p: ProcessorSpec) => (p.before !== undefined ? `before ${p.before}` : p.after !== undefined ? `after ${p.after}` : 'default order');

export interface HarnessDiff {
  model: Array<{ role: string; from: unknown; to: unknown }>;
  processors: ProcessorChange[];
  slots: Array<{ slot: string; from: unknown; to: unknown }>;
}

const group = (p: ProcessorSpec) => getProcessorDefinition(p.type)?.meta.singletonGroup;

/** Processors added, removed, replaced (same id or singleton group, other type) or reconfigured, per hook. */
export function diffHarnesses(a: HarnessConfig, b: HarnessConfig): HarnessDiff {
  const processors: ProcessorChange[] = [];
  for (const hook of HOOKS) {
    const before = [...a.hooks[hook]];
    const after = [...b.hooks[hook]];
    for (const to of after) {
      const sameId = before.find((p) => p.id === to.id);
      const sameGroup = !sameId && group(to) ? before.find((p) => group(p) === group(to) && !after.some((x) => x.id === p.id)) : undefined;
      const from = sameId ?? sameGroup;
      if (!from) {
        processors.push({ change: 'added', hook, processor: to });
        continue;
      }
      before.splice(before.indexOf(from), 1);
      if (from.type !== to.type) processors.push({ change: 'replaced', hook, from, to });
      else if (canonicalJson(from.params) !== canonicalJson(to.params)) {
        const keys = [...new Set([...Object.keys(from.params), ...Object.keys(to.params)])].sort();
        const params = Object.fromEntries(
          keys.filter((k) => canonicalJson(from.params[k]) !== canonicalJson(to.params[k])).map((k) => [k, { from: from.params[k], to: to.params[k] }]),
        );
        processors.push({ change: 'reconfigured', hook, id: to.id, type: to.type, params });
      }
      if (from.type === to.type && positionOf(from) !== positionOf(to)) processors.push({ change: 'moved', hook, id: to.id, from: positionOf(from), to: positionOf(to) });
    }
    for (const gone of before) processors.push({ change: 'removed', hook, processor: gone });
  }
  const model = (['main', 'judge', 'evaluator'] as const)
    .filter((r) => canonicalJson(a.model[r] ?? null) !== canonicalJson(b.model[r] ?? null))
    .map((role) => ({ role, from: a.model[role] ?? null, to: b.model[role] ?? null }));
  const slots = (Object.keys({ ...a.slots, ...b.slots }) as Array<keyof HarnessConfig['slots']>)
    .filter((k) => canonicalJson(a.slots[k]) !== canonicalJson(b.slots[k]))
    .map((slot) => ({ slot, from: a.slots[slot], to: b.slots[slot] }));
  return { model, processors, slots };
}

export function formatDiff(diff: HarnessDiff): string {
  const lines: string[] = [];
  const params = (p: Record<string, unknown>) => (Object.keys(p).length ? ` ${JSON.stringify(p)}` : '');
  for (const m of diff.model) lines.push(`~ model.${m.role}: ${JSON.stringify(m.from)} → ${JSON.stringify(m.to)}`);
  for (const c of diff.processors) {
    if (c.change === 'added') lines.push(`+ ${c.hook}: ${c.processor.id} (${c.processor.type})${params(c.processor.params)}`);
    else if (c.change === 'removed') lines.push(`- ${c.hook}: ${c.processor.id} (${c.processor.type})${params(c.processor.params)}`);
    else if (c.change === 'replaced') lines.push(`± ${c.hook}: ${c.from.id} (${c.from.type}) → ${c.to.id} (${c.to.type})${params(c.to.params)}`);
    else if (c.change === 'moved') lines.push(`↕ ${c.hook}: ${c.id}: ${c.from} → ${c.to}`);
    else for (const [k, v] of Object.entries(c.params)) lines.push(`~ ${c.hook}: ${c.id}.${k}: ${JSON.stringify(v.from)} → ${JSON.stringify(v.to)}`);
  }
  for (const s of diff.slots) lines.push(`~ slots.${s.slot}: ${JSON.stringify(s.from)} → ${JSON.stringify(s.to)}`);
  return lines.length ? lines.join('\n') : '(no differences)';
}

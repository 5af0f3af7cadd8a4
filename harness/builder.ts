import { z } from 'zod';
import { HarnessConfig, HarnessConfigError, ProcessorSpec, ProcessorSpecSchema, canonicalize } from './config';
import { getProcessorDefinition } from './processors';
import { BUNDLES, getBundle } from './processors/bundles';
import { HOOKS, HookName } from './types';

const HookSchema = z.enum(HOOKS);

/** Typed edits of the builder algebra; evolvers emit these and the gate re-applies them. */
export const EditSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('insert'), hook: HookSchema, processor: ProcessorSpecSchema }),
  z.object({ op: z.literal('replace'), hook: HookSchema, group: z.string().min(1), processor: ProcessorSpecSchema }),
  z.object({ op: z.literal('remove'), processorId: z.string().min(1) }),
  z.object({ op: z.literal('configure'), processorId: z.string().min(1), params: z.record(z.string(), z.unknown()) }),
  /** A named processor set (harness/processors/bundles.ts) applied as one edit. */
  z.object({ op: z.literal('bundle'), name: z.string().min(1) }),
  /** Sets a processor's position within its hook: right before or after another processor of that hook. */
  z.object({ op: z.literal('move'), processorId: z.string().min(1), before: z.string().min(1).optional(), after: z.string().min(1).optional() }),
]);
export type Edit = z.infer<typeof EditSchema>;

export type BuilderRule =
  | 'unknown_type'
  | 'hook_not_allowed'
  | 'duplicate_id'
  | 'singleton_conflict'
  | 'no_such_group'
  | 'group_mismatch'
  | 'no_such_processor'
  | 'invalid_params'
  | 'bad_position';

export interface BuilderError {
  rule: BuilderRule;
  message: string;
}
export type BuildResult = { ok: true; config: HarnessConfig } | { ok: false; error: BuilderError };

const err = (rule: BuilderRule, message: string): BuildResult => ({ ok: false, error: { rule, message } });

function locate(config: HarnessConfig, processorId: string): { hook: HookName; index: number } | null {
  for (const hook of HOOKS) {
    const index = config.hooks[hook].findIndex((p) => p.id === processorId);
    if (index !== -1) return { hook, index };
  }
  return null;
}

function checkSpec(hook: HookName, spec: ProcessorSpec): BuildResult | null {
  const def = getProcessorDefinition(spec.type);
  if (!def) return err('unknown_type', `unknown processor type "${spec.type}"`);
  if (!def.hooks.includes(hook)) return err('hook_not_allowed', `"${spec.type}" attaches only to ${def.hooks.join(', ')}, not ${hook}`);
  const params = def.params.safeParse(spec.params ?? {});
  if (!params.success)
    return err('invalid_params', `params of "${spec.id}" (${spec.type}): ${params.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return null;
}

function finish(config: HarnessConfig): BuildResult {
  try {
    return { ok: true, config: canonicalize(config) };
  } catch (e) {
    if (e instanceof HarnessConfigError) return err('invalid_params', e.issues.join('; '));
    throw e;
  }
}

function withHook(config: HarnessConfig, hook: HookName, specs: ProcessorSpec[]): HarnessConfig {
  return { ...config, hooks: { ...config.hooks, [hook]: specs } };
}

/** A position must name another processor already on the same hook (one of before/after at most). */
function checkPosition(config: HarnessConfig, hook: HookName, spec: { id: string; before?: string; after?: string }): BuildResult | null {
  if (spec.before !== undefined && spec.after !== undefined) return err('bad_position', `"${spec.id}": give one of before/after, not both`);
  const target = spec.before ?? spec.after;
  if (target === undefined) return null;
  if (target === spec.id) return err('bad_position', `"${spec.id}" cannot be placed relative to itself`);
  if (!config.hooks[hook].some((p) => p.id === target))
    return err('bad_position', `"${spec.id}": no processor "${target}" on ${hook} to place it ${spec.before !== undefined ? 'before' : 'after'} (processors there: ${config.hooks[hook].map((p) => p.id).join(', ') || 'none'})`);
  return null;
}

/** Positions that named `from` name `to` instead (a replace), or are dropped (`to` null: a remove). */
function retarget(specs: ProcessorSpec[], from: string, to: string | null): ProcessorSpec[] {
  return specs.map((p) => {
    if (p.before !== from && p.after !== from) return p;
    const { before, after, ...rest } = p;
    if (to === null) return { ...rest, ...(before !== from && before !== undefined ? { before } : {}), ...(after !== from && after !== undefined ? { after } : {}) };
    return { ...rest, ...(before !== undefined ? { before: before === from ? to : before } : {}), ...(after !== undefined ? { after: after === from ? to : after } : {}) };
  });
}

export function insert(config: HarnessConfig, hook: HookName, spec: ProcessorSpec): BuildResult {
  const bad = checkSpec(hook, spec);
  if (bad) return bad;
  if (locate(config, spec.id)) return err('duplicate_id', `a processor with id "${spec.id}" already exists`);
  const badPosition = checkPosition(config, hook, spec);
  if (badPosition) return badPosition;
  const group = getProcessorDefinition(spec.type)!.meta.singletonGroup;
  const holder = group && config.hooks[hook].find((p) => getProcessorDefinition(p.type)?.meta.singletonGroup === group);
  if (holder) return err('singleton_conflict', `singleton group "${group}" on ${hook} is held by "${holder.id}"; use replace`);
  return finish(withHook(config, hook, [...config.hooks[hook], { ...spec, params: spec.params ?? {} }]));
}

export function replace(config: HarnessConfig, hook: HookName, group: string, spec: ProcessorSpec): BuildResult {
  const bad = checkSpec(hook, spec);
  if (bad) return bad;
  const index = config.hooks[hook].findIndex((p) => getProcessorDefinition(p.type)?.meta.singletonGroup === group);
  if (index === -1) return err('no_such_group', `no processor of singleton group "${group}" on ${hook}; use insert`);
  if (getProcessorDefinition(spec.type)!.meta.singletonGroup !== group)
    return err('group_mismatch', `"${spec.type}" is not in singleton group "${group}"`);
  const clash = locate(config, spec.id);
  if (clash && !(clash.hook === hook && clash.index === index)) return err('duplicate_id', `a processor with id "${spec.id}" already exists`);
  const previous = config.hooks[hook][index];
  // The newcomer takes the old processor's place: its own position if it gives one, else the old one's.
  const placed = spec.before !== undefined || spec.after !== undefined ? spec : { ...spec, ...(previous.before !== undefined ? { before: previous.before } : {}), ...(previous.after !== undefined ? { after: previous.after } : {}) };
  const others = { ...config, hooks: { ...config.hooks, [hook]: config.hooks[hook].filter((_, i) => i !== index) } };
  const badPosition = checkPosition(others, hook, placed);
  if (badPosition) return badPosition;
  const specs = [...config.hooks[hook]];
  specs[index] = { ...placed, params: spec.params ?? {} };
  return finish(withHook(config, hook, retarget(specs, previous.id, spec.id)));
}

export function remove(config: HarnessConfig, processorId: string): BuildResult {
  const at = locate(config, processorId);
  if (!at) return err('no_such_processor', `no processor with id "${processorId}"`);
  // Processors placed relative to the removed one keep the default order instead.
  return finish(withHook(config, at.hook, retarget(config.hooks[at.hook].filter((p) => p.id !== processorId), processorId, null)));
}

/** Places a processor right before or after another processor of its hook (its position; the rest keep theirs). */
export function move(config: HarnessConfig, processorId: string, position: { before?: string; after?: string }): BuildResult {
  const at = locate(config, processorId);
  if (!at) return err('no_such_processor', `no processor with id "${processorId}"`);
  if (position.before === undefined && position.after === undefined) return err('bad_position', `move "${processorId}": give "before" or "after" (another processor's id on ${at.hook})`);
  const badPosition = checkPosition(config, at.hook, { id: processorId, ...position });
  if (badPosition) return badPosition;
  const current = config.hooks[at.hook][at.index];
  const specs = [...config.hooks[at.hook]];
  specs[at.index] = { id: current.id, type: current.type, params: current.params, ...position };
  const built = finish(withHook(config, at.hook, specs));
  if (!built.ok && built.error.message.includes('form a circle')) return err('bad_position', built.error.message);
  return built;
}

/** Merges params into a processor's params (a config-bucket or prompt edit). */
export function configure(config: HarnessConfig, processorId: string, params: Record<string, unknown>): BuildResult {
  const at = locate(config, processorId);
  if (!at) return err('no_such_processor', `no processor with id "${processorId}"`);
  const current = config.hooks[at.hook][at.index];
  const next = { ...current, params: { ...current.params, ...params } };
  const bad = checkSpec(at.hook, next);
  if (bad) return bad;
  const specs = [...config.hooks[at.hook]];
  specs[at.index] = next;
  return finish(withHook(config, at.hook, specs));
}

export function applyEdit(config: HarnessConfig, edit: Edit): BuildResult {
  switch (edit.op) {
    case 'insert':
      return insert(config, edit.hook, edit.processor);
    case 'replace':
      return replace(config, edit.hook, edit.group, edit.processor);
    case 'remove':
      return remove(config, edit.processorId);
    case 'configure':
      return configure(config, edit.processorId, edit.params);
    case 'bundle':
      return applyBundle(config, edit.name);
    case 'move':
      return move(config, edit.processorId, { ...(edit.before !== undefined ? { before: edit.before } : {}), ...(edit.after !== undefined ? { after: edit.after } : {}) });
  }
}

/** A bundle's members, each configured where its type is present, replaced into its group, or inserted. */
export function applyBundle(config: HarnessConfig, name: string): BuildResult {
  const bundle = getBundle(name);
  if (!bundle) return err('unknown_type', `unknown bundle "${name}"; bundles: ${BUNDLES.map((b) => b.name).join(', ')}`);
  let current: BuildResult = { ok: true, config };
  for (const member of bundle.members) {
    if (!current.ok) return current;
    const c: HarnessConfig = current.config;
    const same = c.hooks[member.hook].find((p) => p.type === member.type);
    const group = getProcessorDefinition(member.type)?.meta.singletonGroup;
    const holder = group && c.hooks[member.hook].find((p) => getProcessorDefinition(p.type)?.meta.singletonGroup === group);
    const spec = { id: member.id, type: member.type, params: member.params };
    current = same ? configure(c, same.id, member.params) : holder ? replace(c, member.hook, group!, spec) : insert(c, member.hook, locate(c, member.id) ? { ...spec, id: `${member.id}_${bundle.name}` } : spec);
  }
  return current;
}

export function applyEdits(config: HarnessConfig, edits: Edit[]): BuildResult {
  let current: BuildResult = { ok: true, config };
  for (const edit of edits) {
    if (!current.ok) return current;
    current = applyEdit(current.config, edit);
  }
  return current;
}

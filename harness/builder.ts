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
  | 'invalid_params';

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

export function insert(config: HarnessConfig, hook: HookName, spec: ProcessorSpec): BuildResult {
  const bad = checkSpec(hook, spec);
  if (bad) return bad;
  if (locate(config, spec.id)) return err('duplicate_id', `a processor with id "${spec.id}" already exists`);
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
  const specs = [...config.hooks[hook]];
  specs[index] = { ...spec, params: spec.params ?? {} };
  return finish(withHook(config, hook, specs));
}

export function remove(config: HarnessConfig, processorId: string): BuildResult {
  const at = locate(config, processorId);
  if (!at) return err('no_such_processor', `no processor with id "${processorId}"`);
  return finish(withHook(config, at.hook, config.hooks[at.hook].filter((p) => p.id !== processorId)));
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

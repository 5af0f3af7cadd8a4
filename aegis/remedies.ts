import type { Edit } from '../harness/builder';
import { canonicalJson, sha256Hex } from '../harness/canonical';
import { getBundle } from '../harness/processors/bundles';
import type { HarnessConfig } from '../harness/config';
import { HOOKS, HookName } from '../harness/types';
import type { Bucket, FailureCategory, Remedy } from './types';

const FORMAT_RULE = 'Reply with exactly one tool call per turn and no prose.';

function present(config: HarnessConfig): Map<string, { id: string; hook: HookName; params: Record<string, unknown> }> {
  const out = new Map<string, { id: string; hook: HookName; params: Record<string, unknown> }>();
  for (const hook of HOOKS) for (const p of config.hooks[hook]) out.set(p.type, { id: p.id, hook, params: p.params });
  return out;
}

/** Params short enough to read in a key are spelt out; longer ones (prompt templates, code) are hashed. */
function paramsLabel(params: Record<string, unknown>): string {
  const json = canonicalJson(params);
  return json.length <= 60 ? json : `{${Object.keys(params).sort().join(',')}}#${sha256Hex(json).slice(0, 10)}`;
}

/** One change, named: what it does, where, and (for code and long params) a hash of what it carries. */
export function changeKey(e: Edit): string {
  switch (e.op) {
    case 'insert': {
      // Code processors differ by their source: two inserts of different code are different edits.
      const key = e.processor.type === 'code' ? `insert:code@${e.hook}#${sha256Hex(canonicalJson(e.processor.params)).slice(0, 10)}` : `insert:${e.processor.type}@${e.hook}`;
      return `${key}${positionLabel(e.processor)}`;
    }
    case 'replace':
      return e.processor.type === 'code' ? `replace:${e.group}->code@${e.hook}#${sha256Hex(canonicalJson(e.processor.params)).slice(0, 10)}` : `replace:${e.group}->${e.processor.type}@${e.hook}`;
    case 'remove':
      return `remove:${e.processorId}`;
    case 'configure':
      return `configure:${e.processorId}:${paramsLabel(e.params)}`;
    case 'bundle':
      return `bundle:${e.name}@${getBundle(e.name)?.version ?? '?'}`;
    case 'move':
      return `move:${e.processorId}${positionLabel(e)}`;
  }
}

/** "(before:<id>)" or "(after:<id>)" for a positioned change; "" otherwise. */
function positionLabel(p: { before?: string; after?: string }): string {
  return p.before !== undefined ? `(before:${p.before})` : p.after !== undefined ? `(after:${p.after})` : '';
}

/** The ledger key of a candidate: every change it makes, in order, joined by "+". */
export function editKey(edits: Edit[]): string {
  return edits.map(changeKey).join('+');
}

/** Processor types whose changes are prompt or tool edits; every other type is a processor edit. */
const PROMPT_TYPES = new Set(['system_prompt', 'few_shot']);
const TOOL_TYPES = new Set(['tool_docs', 'arg_validation', 'tool_retry']);
/** When changes span buckets, the candidate is filed under the most structural one. */
const BUCKET_RANK: Record<Bucket, number> = { prompt: 0, config: 1, tools: 2, processor: 3 };

/** The bucket one change belongs to; `types` maps processor ids to types (the harness it applies to). */
export function changeBucket(e: Edit, types: ReadonlyMap<string, string>): Bucket {
  if (e.op === 'bundle') return 'processor';
  const type = e.op === 'insert' || e.op === 'replace' ? e.processor.type : types.get(e.processorId) ?? 'unknown';
  if (PROMPT_TYPES.has(type)) return 'prompt';
  if (TOOL_TYPES.has(type)) return 'tools';
  return e.op === 'configure' || e.op === 'move' ? 'config' : 'processor';
}

/** A candidate's bucket, derived from all its changes (not the first one, not what a model claimed). */
export function bucketOf(edits: Edit[], config: HarnessConfig): Bucket {
  // Ids inserted by an earlier change of the same candidate resolve too.
  const types = new Map(HOOKS.flatMap((h) => config.hooks[h].map((p) => [p.id, p.type] as const)));
  for (const e of edits) if (e.op === 'insert' || e.op === 'replace') types.set(e.processor.id, e.processor.type);
  return edits.map((e) => changeBucket(e, types)).reduce<Bucket>((best, b) => (BUCKET_RANK[b] > BUCKET_RANK[best] ? b : best), 'prompt');
}

function make(category: FailureCategory, bucket: Bucket, edits: Edit[], rationale: string): Remedy {
  return { category, bucket, edits, key: editKey(edits), rationale };
}

const insert = (hook: HookName, type: string, params: Record<string, unknown> = {}): Edit => ({ op: 'insert', hook, processor: { id: type, type, params } });

/** The rule-based evolver's catalogue: for a failure category, the typed edits that address it, in order. */
export function remediesFor(category: FailureCategory, config: HarnessConfig): Remedy[] {
  const has = present(config);
  const out: Remedy[] = [];
  const add = (cond: boolean, r: () => Remedy) => cond && out.push(r());
  switch (category) {
    case 'format_error': {
      add(!has.has('format_repair'), () => make(category, 'processor', [insert('after_model', 'format_repair')], 'recover actions written as prose'));
      add(!has.has('arg_validation'), () => make(category, 'tools', [insert('before_tool', 'arg_validation')], 'validate and repair tool arguments'));
      const prompt = has.get('system_prompt');
      const template = String(prompt?.params.template ?? '');
      add(!!prompt && !template.includes(FORMAT_RULE), () =>
        make(category, 'prompt', [{ op: 'configure', processorId: prompt!.id, params: { template: `${template} ${FORMAT_RULE}`.trim() } }], 'state the output format'),
      );
      add(!has.has('tool_docs'), () => make(category, 'tools', [insert('task_start', 'tool_docs')], 'document the tools'));
      add(!has.has('few_shot'), () => make(category, 'prompt', [insert('task_start', 'few_shot')], 'show good turns'));
      break;
    }
    case 'invalid_action':
      add(!has.has('admissible_actions'), () => make(category, 'processor', [insert('before_model', 'admissible_actions')], 'list valid actions'));
      add(!has.has('observation_format'), () => make(category, 'processor', [insert('after_tool', 'observation_format')], 'one fact per line'));
      add(!has.has('few_shot'), () => make(category, 'prompt', [insert('task_start', 'few_shot')], 'show good turns'));
      break;
    case 'loop':
      add(!has.has('loop_detection'), () => make(category, 'processor', [insert('before_model', 'loop_detection')], 'warn on revisited states'));
      add(!has.has('notes'), () => make(category, 'processor', [insert('before_model', 'notes')], 'remember completed actions'));
      break;
    case 'no_progress': {
      add(!has.has('plan_then_act'), () => make(category, 'processor', [insert('before_model', 'plan_then_act')], 'plan before acting'));
      const budget = has.get('step_budget');
      const current = Number(budget?.params.maxSteps ?? 0);
      add(!!budget && current < 60, () =>
        make(category, 'config', [{ op: 'configure', processorId: budget!.id, params: { maxSteps: Math.min(60, Math.ceil(current * 1.5)) } }], 'more steps'),
      );
      add(!has.has('notes'), () => make(category, 'processor', [insert('before_model', 'notes')], 'remember completed actions'));
      break;
    }
    case 'transient_tool_error':
      add(!has.has('tool_retry'), () => make(category, 'tools', [insert('after_tool', 'tool_retry')], 'retry transient tool faults'));
      break;
    case 'long_context':
      add(!has.has('episode_summary') && !has.has('sliding_window'), () => make(category, 'processor', [insert('step_start', 'episode_summary')], 'summarize old turns'));
      break;
    case 'wrong_outcome':
      add(!has.has('plan_then_act'), () => make(category, 'processor', [insert('before_model', 'plan_then_act')], 'plan before answering'));
      add(!has.has('tool_docs'), () => make(category, 'tools', [insert('task_start', 'tool_docs')], 'document the tools'));
      add(!has.has('few_shot'), () => make(category, 'prompt', [insert('task_start', 'few_shot')], 'show good turns'));
      break;
    case 'harness_error':
      break;
  }
  return out;
}

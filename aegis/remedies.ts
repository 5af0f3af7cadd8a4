import type { Edit } from '../harness/builder';
import { canonicalJson, sha256Hex } from '../harness/canonical';
import { getBundle } from '../harness/processors/bundles';
import type { HarnessConfig } from '../harness/config';
import { HOOKS, HookName } from '../harness/types';
import { bundlesInLibrary, DEFAULT_PROCESSOR_LIBRARY, editOutsideLibrary, ProcessorLibraryName, typeInLibrary } from './library-scope';
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

const insert = (hook: HookName, type: string, params: Record<string, unknown> = {}, id = type): Edit => ({ op: 'insert', hook, processor: { id, type, params } });

/**
 * The rule-based evolver's catalogue: for a failure category, the typed edits that address it, in order.
 * The remedies naming only the core library's types come first and are the same whatever `library` is;
 * with the 'full' library the wider library's remedies (widerRemediesFor) follow them. The rules Planner,
 * its Critic and the single-agent baseline put every category's core remedies before any wider one
 * (isWiderRemedy), so a run reaches a new type or a bundle only where a 'core' run would have run out of
 * catalogue.
 */
export function remediesFor(category: FailureCategory, config: HarnessConfig, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Remedy[] {
  return [...coreRemediesFor(category, config), ...widerRemediesFor(category, config, library)];
}

/** True when a remedy reaches outside the core library (a type added by #30, or a bundle): the catalogue's second tier. */
export function isWiderRemedy(remedy: Pick<Remedy, 'edits'>): boolean {
  return remedy.edits.some((e) => editOutsideLibrary(e, 'core') !== null);
}

/** The catalogue as it was before the library grew: only core types (aegis/library-scope.ts CORE_PROCESSOR_TYPES). */
function coreRemediesFor(category: FailureCategory, config: HarnessConfig): Remedy[] {
  const has = present(config);
  const out: Remedy[] = [];
  const add = (cond: boolean, r: () => Remedy) => cond && out.push(r());
  switch (category) {
    case 'format_error': {
      add(!has.has('format_repair'), () => make(category, 'processor', [insert('after_model', 'format_repair')], 'recover actions written as prose'));
      // tool_call_correction holds arg_validation's singleton group: with it present the insert cannot apply.
      add(!has.has('arg_validation') && !has.has('tool_call_correction'), () => make(category, 'tools', [insert('before_tool', 'arg_validation')], 'validate and repair tool arguments'));
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
      add(!has.has('episode_summary') && !has.has('sliding_window') && !has.has('context_compaction'), () => make(category, 'processor', [insert('step_start', 'episode_summary')], 'summarize old turns'));
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

/**
 * The wider library's remedies for a category (none with the 'core' library). Each is a processor or bundle
 * a real model plausibly benefits from for that failure; which of them the simulator reacts to is noted per
 * line (models/sim/profile.ts; README "processor library"): a remedy it ignores cannot gain there, and the
 * gate refuses it for "no gain" — the price of offering it is one gated candidate.
 *  - format_error: parse_retry (re-asks for one tool call when rules cannot recover one; on the simulator it
 *    recovers prose actions by rule, as format_repair does), tool_call_correction (schema repair, then the
 *    model; replaces arg_validation, its singleton group, when present), the reliability bundle.
 *  - invalid_action: tool_failure_guard (after identical failures, tells the model to switch strategy;
 *    the simulator ignores what it writes).
 *  - loop: repeated_action (a repeated-call warning; the simulator halves its loop rate when it sees one,
 *    which needs the same call twice in a row: tau2 re-lookups, rarely blocksworld's undo moves), the
 *    control bundle.
 *  - no_progress: todo_tracking (a sub-goal checklist; the simulator slips sub-goals less with it), the
 *    control bundle.
 *  - long_context: context_compaction (summarises old turns near the context limit; replaces
 *    episode_summary or sliding_window, its singleton group, when present; the simulator's "context rot"
 *    shrinks with a shorter history, but at its default 32k-token context it fires only on histories past
 *    ~22k estimated tokens), the context bundle.
 *  - wrong_outcome: self_verify (the judge role checks a final answer; the simulator ignores its findings),
 *    episodic_memory at task_start and task_end (lessons across episodes; ignored by the simulator), the
 *    coding bundle, the contrarian bundle (sycophancy detection for dialogue).
 *  - transient_tool_error: none. tool_failure_guard does not count transient failures (by its code), and
 *    the library's answer to them is tool_retry, the core remedy.
 * Not offered by any rule: the spend guards (token_budget, cost_guard) and the observability processors
 * (llm_judge, process_reward, episode_metrics) cannot raise a pass rate; tool_filter, tool_whitelist and
 * skill_loader need task-specific params (skill_loader comes with the context bundle); model_router needs a
 * stronger model role the rules cannot choose; sycophancy_guard comes only with the contrarian bundle.
 */
export function widerRemediesFor(category: FailureCategory, config: HarnessConfig, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Remedy[] {
  const has = present(config);
  const out: Remedy[] = [];
  const add = (type: string, r: () => Remedy) => !has.has(type) && typeInLibrary(type, library) && out.push(r());
  /** A bundle, when the run may apply bundles and it would add a type the harness lacks. */
  const bundle = (name: string, rationale: string) => {
    const b = getBundle(name);
    if (b && bundlesInLibrary(library) && b.members.some((m) => !has.has(m.type))) out.push(make(category, 'processor', [{ op: 'bundle', name }], rationale));
  };
  /** Insert a type, or replace the holder of its singleton group on that hook (one per harness). */
  const insertOrReplace = (hook: HookName, type: string, group: string, holders: string[]): Edit => {
    const holder = holders.map((t) => has.get(t)).find((p) => p?.hook === hook);
    return holder ? { op: 'replace', hook, group, processor: { id: type, type, params: {} } } : insert(hook, type);
  };
  switch (category) {
    case 'format_error':
      add('parse_retry', () => make(category, 'processor', [insert('after_model', 'parse_retry')], 'ask again for one tool call when rules cannot recover it'));
      add('tool_call_correction', () => make(category, 'tools', [insertOrReplace('before_tool', 'tool_call_correction', 'arg_validation', ['arg_validation'])], 'repair tool arguments against the schema, with the model when rules cannot'));
      bundle('reliability', 'recover from malformed replies and failing tools (reliability bundle)');
      break;
    case 'invalid_action':
      add('tool_failure_guard', () => make(category, 'tools', [insert('after_tool', 'tool_failure_guard')], 'tell the model to switch strategy after identical failed calls'));
      break;
    case 'loop':
      add('repeated_action', () => make(category, 'processor', [insert('before_model', 'repeated_action')], 'warn on the same call repeated'));
      bundle('control', 'steer toward the goal and stop repeats (control bundle)');
      break;
    case 'no_progress':
      add('todo_tracking', () => make(category, 'processor', [insert('before_model', 'todo_tracking')], 'track the sub-goals that still hold open'));
      bundle('control', 'steer toward the goal and stop repeats (control bundle)');
      break;
    case 'long_context':
      add('context_compaction', () => make(category, 'processor', [insertOrReplace('step_start', 'context_compaction', 'history_window', ['episode_summary', 'sliding_window'])], 'summarise old turns with the summariser model near the context limit'));
      bundle('context', 'keep long episodes inside the context (context bundle)');
      break;
    case 'wrong_outcome':
      add('self_verify', () => make(category, 'processor', [insert('after_model', 'self_verify')], 'check a final answer with the judge model before it counts'));
      add('episodic_memory', () =>
        make(category, 'processor', [insert('task_start', 'episodic_memory', {}, 'episodic_memory_recall'), insert('task_end', 'episodic_memory', {}, 'episodic_memory_store')], 'carry lessons from earlier episodes into the next'),
      );
      bundle('coding', 'parse retry, self-check, sub-goals and the tool-failure guard (coding bundle)');
      bundle('contrarian', 'hold to the policy and the facts in dialogue (contrarian bundle)');
      break;
    case 'transient_tool_error':
    case 'harness_error':
      break;
  }
  return out;
}

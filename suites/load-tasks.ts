import { basename, isAbsolute, resolve } from 'node:path';
import { splitOf } from '../benchmarks/split';
import type { Split } from '../benchmarks/types';
import type { SuiteConfig, SuiteTask } from './types';
import { readBoundedText, whereJsonBreaks } from '../harness/bounded-file';
import { taskIdProblem } from '../harness/sandbox/input-bounds';

/**
 * The largest tasks or references JSONL file a suite may have: far above the shipped benchmarks' data (the
 * largest is 2.8 MB), far below what hurts a worker (a path to /dev/zero or a 10 GB file is refused after
 * reading this much, never read whole). Every worker and the CLI load the suite, so it is held in memory.
 */
export const MAX_SUITE_FILE_BYTES = 64 << 20;
/** An instruction longer than this is not a task but a mistake (a whole file pasted in). */
export const MAX_INSTRUCTION_CHARS = 200_000;

/** A task as a loaded suite holds it: its split is decided (the task's own, else the hash of its id). */
export interface LoadedSuiteTask extends SuiteTask {
  split: Split;
}

/** Where a suite's files are: the config file (for messages) and its folder (relative paths resolve against it). */
export interface SuiteSource {
  configFile: string;
  configDir: string;
  suite: string;
}

const SPLITS: readonly Split[] = ['train', 'validation', 'test'];
const TASK_KEYS = new Set(['id', 'instruction', 'metadata', 'split', 'reference', 'referenceAnswer']);

/** A bad task list, with every message naming file (or tasks function), line, task id and field. */
export class SuiteTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SuiteTaskError';
  }
}

/**
 * A suite's tasks, checked whole at load time so a bad line fails `harnessx evolve` before any run starts,
 * not an episode halfway through: a JSONL file (relative to the config file) or the suite's tasks function;
 * then the suite's `references` merged on. Ids must be unique; the split is the task's own or splitOf(id).
 */
export async function loadSuiteTasks(config: Pick<SuiteConfig, 'tasks' | 'references'>, source: SuiteSource): Promise<LoadedSuiteTask[]> {
  const prefix = `suite "${source.suite}"`;
  let tasks: SuiteTask[];
  if (typeof config.tasks === 'string') {
    const file = resolveFrom(source.configDir, config.tasks);
    tasks = parseJsonlFile(file, `${prefix}: tasks`).map(({ value, at }) => checkTask(value, at));
  } else if (typeof config.tasks === 'function') {
    let listed: unknown;
    try {
      listed = await config.tasks();
    } catch (e) {
      throw new SuiteTaskError(`${prefix}: tasks() threw: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!Array.isArray(listed)) throw new SuiteTaskError(`${prefix}: tasks() must return an array of tasks, got ${describe(listed)}`);
    tasks = listed.map((value, i) => checkTask(value, `${prefix}: tasks()[${i}]`));
  } else {
    throw new SuiteTaskError(`${prefix}: tasks must be a JSONL file path or a function returning the tasks`);
  }
  if (!tasks.length) throw new SuiteTaskError(`${prefix}: the suite has no tasks`);
  const seen = new Map<string, string>();
  tasks.forEach((t, i) => {
    const first = seen.get(t.id);
    if (first !== undefined) throw new SuiteTaskError(`${prefix}: task id "${t.id}" appears twice (task ${first} and task ${i + 1}); ids must be unique`);
    seen.set(t.id, String(i + 1));
  });
  if (config.references !== undefined) mergeReferences(tasks, config.references, source);
  return tasks.map((t) => ({ ...t, split: t.split ?? splitOf(t.id) }));
}

/** Each line of a JSONL file as a value, with where it came from ("tasks.jsonl:3"); blank lines are skipped. */
function parseJsonlFile(file: string, what: string): Array<{ value: unknown; at: string }> {
  let text: string;
  try {
    text = readBoundedText(file, 'it', MAX_SUITE_FILE_BYTES);
  } catch (e) {
    throw new SuiteTaskError(`${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const name = basename(file);
  const out: Array<{ value: unknown; at: string }> = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const at = `${what.split(':')[0]}: ${name}:${i + 1}`;
    try {
      out.push({ value: JSON.parse(line), at });
    } catch (e) {
      throw new SuiteTaskError(`${at}: not valid JSON (${whereJsonBreaks(e, line)})`);
    }
  });
  return out;
}

/** One task's fields, each checked; `at` says where it is ("suite "x": tasks.jsonl:3"). */
function checkTask(value: unknown, at: string): SuiteTask {
  if (!isRecord(value)) throw new SuiteTaskError(`${at}: a task must be a JSON object, got ${describe(value)}`);
  if (typeof value.id !== 'string' || !value.id.trim()) throw new SuiteTaskError(`${at}: id: expected a non-empty string, got ${describe(value.id)}`);
  // The id becomes part of file and object names and of every rollout's input: refused here, at load, not at the first rollout.
  const idProblem = taskIdProblem(value.id);
  if (idProblem) throw new SuiteTaskError(`${at}: id: ${idProblem}`);
  const task = `${at} (task "${value.id}")`;
  if (typeof value.instruction !== 'string' || !value.instruction.trim()) throw new SuiteTaskError(`${task}: instruction: expected a non-empty string, got ${describe(value.instruction)}`);
  if (value.instruction.length > MAX_INSTRUCTION_CHARS) throw new SuiteTaskError(`${task}: instruction: ${value.instruction.length} characters long; at most ${MAX_INSTRUCTION_CHARS} are allowed`);
  for (const key of Object.keys(value)) if (!TASK_KEYS.has(key)) throw new SuiteTaskError(`${task}: ${key}: unknown field; a task has ${[...TASK_KEYS].join(', ')} (put anything else in metadata)`);
  if (value.metadata !== undefined && !isRecord(value.metadata)) throw new SuiteTaskError(`${task}: metadata: expected an object, got ${describe(value.metadata)}`);
  if (value.split !== undefined && !SPLITS.includes(value.split as Split)) throw new SuiteTaskError(`${task}: split: expected one of ${SPLITS.join(', ')}, got ${describe(value.split)}`);
  if (value.referenceAnswer !== undefined && typeof value.referenceAnswer !== 'string') throw new SuiteTaskError(`${task}: referenceAnswer: expected a string, got ${describe(value.referenceAnswer)}`);
  const reference = value.reference === undefined ? undefined : checkReference(value.reference, `${task}: reference`);
  return {
    id: value.id,
    instruction: value.instruction,
    ...(value.metadata !== undefined ? { metadata: value.metadata } : {}),
    ...(value.split !== undefined ? { split: value.split as Split } : {}),
    ...(reference ? { reference } : {}),
    ...(value.referenceAnswer !== undefined ? { referenceAnswer: value.referenceAnswer as string } : {}),
  };
}

/** A reference solution: a list of { name, args } tool calls. */
function checkReference(value: unknown, at: string): NonNullable<SuiteTask['reference']> {
  if (!Array.isArray(value)) throw new SuiteTaskError(`${at}: expected a list of tool calls [{ "name": …, "args": {…} }], got ${describe(value)}`);
  return value.map((call, i) => {
    if (!isRecord(call) || typeof call.name !== 'string' || !call.name) throw new SuiteTaskError(`${at}[${i}].name: expected a tool name (string)`);
    if (call.args !== undefined && !isRecord(call.args)) throw new SuiteTaskError(`${at}[${i}].args: expected an object, got ${describe(call.args)}`);
    return { name: call.name, args: (call.args as Record<string, unknown> | undefined) ?? {} };
  });
}

/** The suite's references (by task id, or a JSONL file of { id, reference, referenceAnswer }) onto its tasks; an id that is no task is an error. */
function mergeReferences(tasks: SuiteTask[], references: NonNullable<SuiteConfig['references']>, source: SuiteSource): void {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const prefix = `suite "${source.suite}"`;
  const entries: Array<{ id: string; reference?: SuiteTask['reference']; referenceAnswer?: string; at: string }> = [];
  if (typeof references === 'string') {
    for (const { value, at } of parseJsonlFile(resolveFrom(source.configDir, references), `${prefix}: references`)) {
      if (!isRecord(value) || typeof value.id !== 'string') throw new SuiteTaskError(`${at}: id: expected a task id (string)`);
      const where = `${at} (task "${value.id}")`;
      if (value.referenceAnswer !== undefined && typeof value.referenceAnswer !== 'string') throw new SuiteTaskError(`${where}: referenceAnswer: expected a string`);
      if (value.reference === undefined && value.referenceAnswer === undefined) throw new SuiteTaskError(`${where}: expected reference and/or referenceAnswer`);
      entries.push({ id: value.id, at: where, ...(value.reference !== undefined ? { reference: checkReference(value.reference, `${where}: reference`) } : {}), ...(value.referenceAnswer !== undefined ? { referenceAnswer: value.referenceAnswer as string } : {}) });
    }
  } else if (isRecord(references)) {
    for (const [id, reference] of Object.entries(references)) entries.push({ id, at: `${prefix}: references["${id}"]`, reference: checkReference(reference, `${prefix}: references["${id}"]`) });
  } else {
    throw new SuiteTaskError(`${prefix}: references must be a JSONL file path or an object of task id → tool calls`);
  }
  for (const e of entries) {
    const task = byId.get(e.id);
    if (!task) throw new SuiteTaskError(`${e.at}: no task has id "${e.id}"`);
    if (e.reference) task.reference = e.reference;
    if (e.referenceAnswer !== undefined) task.referenceAnswer = e.referenceAnswer;
  }
}

export function resolveFrom(dir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dir, path);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value, briefly, for an error message. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

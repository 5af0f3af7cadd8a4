/**
 * Bounds for input that anyone who can start a workflow controls: ids that become file and object
 * names, JSON whose depth or size could overflow a recursive serializer, and failure messages that must
 * stay small and say nothing about the host. Pure (no imports): workflows, the store and schemas use it.
 */

export const MAX_ID_LENGTH = 128;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Why a workflow or run id cannot name a folder of the store, or null when it can: letters, digits, ".",
 * "_" and "-", starting with a letter or digit (so never "." or ".." or a hidden name), no "..", at most
 * MAX_ID_LENGTH characters.
 */
export function runIdProblem(id: unknown, label = 'run id'): string | null {
  if (typeof id !== 'string' || id.length === 0) return `${label} must be a non-empty string`;
  if (id.length > MAX_ID_LENGTH) return `${label} is ${id.length} characters long; at most ${MAX_ID_LENGTH} are allowed`;
  if (!SAFE_ID.test(id) || id.includes('..'))
    return `${label} ${JSON.stringify(id)} is not safe: use letters, digits, ".", "_" and "-", starting with a letter or digit, without ".."`;
  return null;
}

const SAFE_TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*(\/[A-Za-z0-9][A-Za-z0-9._:-]*)*$/;
/** Task ids look like "gsm8k/12" or "tau2-retail/3": segments as run ids (":" allowed), joined by "/". */
export function taskIdProblem(id: unknown): string | null {
  if (typeof id !== 'string' || id.length === 0) return 'task id must be a non-empty string';
  if (id.length > 200) return `task id is ${id.length} characters long; at most 200 are allowed`;
  if (!SAFE_TASK_ID.test(id) || id.includes('..')) return `task id ${JSON.stringify(id.slice(0, 80))} is not safe: use "benchmark/name" with letters, digits, ".", "_", ":" and "-"`;
  return null;
}

export interface JsonBounds {
  /** Nesting of arrays and objects (the top level is depth 1). */
  maxDepth: number;
  /** Arrays, objects and scalars counted together. */
  maxNodes: number;
  /** Characters of all strings and keys together: roughly the JSON size. */
  maxChars: number;
}
export const HARNESS_JSON_BOUNDS: JsonBounds = { maxDepth: 32, maxNodes: 100_000, maxChars: 2_000_000 };
/**
 * A harness given inline in a workflow input (seedHarness): it is in the start event, in prepareRun's
 * scheduled event and in every continue-as-new, so it is held far below Temporal's 2 MB payload limit and
 * the history's size. 256 KiB holds a harness with several code processors at their 20,000-character cap.
 */
export const SEED_HARNESS_JSON_BOUNDS: JsonBounds = { maxDepth: 32, maxNodes: 20_000, maxChars: 256 * 1024 };
/** Free text an operator sends with a decision or a rollback: it is kept in the run's state and audit log. */
export const MAX_REASON_CHARS = 2_000;
/** Ids a product sends in a deployment's reports and feedback (run ids, run keys, task ids). */
export const MAX_REPORTED_ID_CHARS = 256;

/** Why an optional free-text field is refused (not a string, or longer than `max`), naming it; null if fine. */
export function textFieldProblem(field: string, value: unknown, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return `${field}: expected a string`;
  if (value.length > max) return `${field} is longer than ${max} characters (${value.length})`;
  return null;
}

/**
 * The first way `value` breaks `bounds`, or null. Walks with an explicit stack, never recursion, so a
 * value nested 10,000 deep is a validation problem here instead of a stack overflow in a serializer later.
 * Stops at the first problem: the cost is bounded by the bounds, not by the input.
 */
export function jsonBoundsProblem(value: unknown, bounds: JsonBounds = HARNESS_JSON_BOUNDS, label = 'value'): string | null {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let nodes = 0;
  let chars = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (++nodes > bounds.maxNodes) return `${label} has more than ${bounds.maxNodes} values`;
    if (typeof v === 'string') chars += v.length;
    else if (v !== null && typeof v === 'object') {
      if (depth > bounds.maxDepth) return `${label} is nested deeper than ${bounds.maxDepth} levels`;
      if (Array.isArray(v)) for (const item of v) stack.push([item, depth + 1]);
      else
        for (const [key, item] of Object.entries(v)) {
          chars += key.length;
          stack.push([item, depth + 1]);
        }
    } else if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return `${label} holds a ${typeof v}, not JSON`;
    if (chars > bounds.maxChars) return `${label} is larger than ${bounds.maxChars} characters`;
  }
  return null;
}

/**
 * Absolute file paths and file URLs replaced by "<path>": failure messages reach workflow histories, the
 * Web UI and whoever started the run, and the host's layout is none of their business.
 */
export function scrubHostPaths(text: string): string {
  return text
    .replace(/file:\/\/\/?[^\s'"`)]+/g, '<path>')
    .replace(/(^|[\s('"`=:[,])(?:[A-Za-z]:)?(?:[\\/][^\s\\/'"`():,\]]+){2,}[\\/]?/g, '$1<path>');
}

export const MAX_PROBLEMS = 20;
const MAX_PROBLEM_CHARS = 300;

/** The first `max` problems, each cut to a line of bounded length and scrubbed of host paths, plus a count of the rest. */
export function capProblems(problems: string[], max = MAX_PROBLEMS): string[] {
  const shown = problems.slice(0, max).map((p) => {
    const line = scrubHostPaths(p.split('\n')[0]);
    return line.length > MAX_PROBLEM_CHARS ? `${line.slice(0, MAX_PROBLEM_CHARS)}…` : line;
  });
  if (problems.length > max) shown.push(`… and ${problems.length - max} more problem(s)`);
  return shown;
}

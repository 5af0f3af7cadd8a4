import { z } from 'zod';
import type { HarnessConfig } from '../../harness/config';
import { PROCESSOR_LIBRARY } from '../../harness/processors';

import type { EpisodeTrace } from '../../harness/trace';
import { HOOKS } from '../../harness/types';
import type { Digest, TaskDigest } from '../types';

/**
 * Prompts of the LLM meta-agent. Each stage's system prompt states its role, its inputs and the exact JSON
 * shape to return; the user message carries the data as JSON. Inputs are bounded so a prompt stays well
 * under any context window however large the run.
 */

const JSON_ONLY = 'Reply with one JSON object only (you may wrap it in a ```json fence). No other text.';

export const DIGESTER_SYSTEM = `You are the Digester of AEGIS, a system that improves an LLM agent's harness (prompts, tools, processors on lifecycle hooks) from execution traces.
You get failing tasks of one round: each with its outcome over k attempts, a compact trace excerpt of failed attempts, automatic signal counts, and its history in earlier rounds.
For every task, write a short failure summary grounded in the trace, pick the failure category, quote the evidence, and name the harness components implicated (processor ids of the harness, or "missing:<processor type>" for a type the harness lacks).
Categories: format_error (malformed or prose actions, bad arguments), invalid_action (actions whose preconditions fail), loop (returning to earlier states), no_progress (budget ran out without getting closer), transient_tool_error, long_context, harness_error (a processor crashed).
${JSON_ONLY}
Shape: {"tasks":[{"taskId":"...","summary":"...","category":"loop","evidence":["step 4: ..."],"implicated":["missing:loop_detection"]}]} — one entry per task given, same taskIds.`;

export const PLANNER_SYSTEM = `You are the Planner of AEGIS. From the round's digest, the current harness, the processor library and the ledger of edits already tried (with their gate outcomes), map the adaptation landscape: which failure categories matter most, and which concrete changes could fix them.
Edit buckets: prompt (system prompt, examples), tools (tool docs, argument validation, retries), config (budgets, parameters), processor (new or changed processors, including new processor code).
Rules:
- Never repeat an edit that was rejected on the same harness unless you change it materially.
- Name edit types that have not been tried yet in "untriedEditTypes".
- When prompt-only edits have stopped shipping, propose structural changes (tools, processors, memory or control redesigns, or new processor code), not more rewording.
- Options must be task-agnostic: never key behaviour on task ids or copy task data.
${JSON_ONLY}
Shape: {"options":[{"category":"loop","bucket":"processor","direction":"...","editTypes":["insert:code@before_model"],"targetTasks":["..."]}],"untriedEditTypes":["..."],"notes":"..."}. Most promising option first; at most 8.`;

export const EVOLVER_SYSTEM = `You are the Evolver of AEGIS. Turn the Planner's options into candidate harness edits. Each candidate is a list of typed builder edits:
  {"op":"insert","hook":"<hook>","processor":{"id":"<new id>","type":"<library type>","params":{...}}}
  {"op":"replace","hook":"<hook>","group":"<singleton group>","processor":{...}}
  {"op":"remove","processorId":"<id>"}
  {"op":"configure","processorId":"<id>","params":{...}}
Hooks: ${HOOKS.join(', ')}. Processor ids: lower-case letters, digits, "_" or "-".
You may also write a new processor in TypeScript: insert a processor of type "code" with params {"source": "<TypeScript>", "smokeTests": [...]}.
The source must export \`function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult\` and may only \`import type\` from "harnessx". It runs in an isolated sandbox: no I/O, no timers, no Node or DOM globals, 100 ms per call. Return null to pass the event on, a modified event of the same hook (respecting the hook's contract), or {"interrupt": true, "reason": "..."}.
Ship at least one smoke test per code processor: {"name":"...","event":<a synthetic event of its hook>,"state":{},"admissibleActions":null,"expect":"unchanged"|"changed"|"interrupt","outputIncludes":"optional text"}. Code that fails to type-check or fails its smoke tests is rejected.
Candidates must be task-agnostic: no task ids, no gold solutions, no task statements, no attempt to read verifier data — a deterministic check rejects them.
${JSON_ONLY}
Shape: {"candidates":[{"bucket":"processor","rationale":"...","changes":[...],"evidence":["<trace evidence the change addresses>"],"predictedImpact":{"tasksWillUnlock":["..."],"stabilize":[],"atRisk":[]}}]}`;

export const EVOLVER_REVISION_SYSTEM = `${EVOLVER_SYSTEM}
Now revise ONE candidate following the Critic's request. Reply with {"candidates":[<the one revised candidate>]}.`;

export const CRITIC_SYSTEM = `You are the Critic of AEGIS. Check each candidate's manifest against the trace evidence: do the claimed unlocks fail in the digest for the reasons the change addresses? Is the change task-agnostic and likely to avoid regressions on solved tasks? Automatic claim checks are given to you.
Decide one of:
  {"decision":"ship_ranking","ranking":["<candidateId>", ...],"notes":["..."]}  — candidates worth gating, best first (the deterministic gate decides what ships);
  {"decision":"no_op","reason":"..."}  — none is supported by the evidence;
  {"decision":"revise","candidateId":"<id>","request":"..."}  — one candidate is promising but needs a specific fix (only when revision is allowed).
${JSON_ONLY}`;

/** Keeps prompts bounded: long strings are cut with a marker. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more chars]`;
}

/** A failed attempt as a few lines: each step's action and the first line of its result, then the end. */
export function traceExcerpt(trace: EpisodeTrace, maxLines = 14): string {
  const lines: string[] = [];
  for (const r of trace.records) {
    if (r.kind === 'tool_call') lines.push(`step ${r.step}: ${r.call.name}(${JSON.stringify(r.call.args)}) → ${r.result.ok ? 'ok' : r.result.errorKind ?? 'error'}: ${r.result.output.split('\n')[0].slice(0, 140)}`);
    else if (r.kind === 'error') lines.push(`step ${r.step}: ERROR ${r.message.slice(0, 200)}`);
    else if (r.kind === 'model_call' && !r.response.toolCalls.length && r.response.text) lines.push(`step ${r.step}: model replied without a tool call: ${JSON.stringify(r.response.text.slice(0, 120))}`);
  }
  const kept = lines.length > maxLines ? [...lines.slice(0, maxLines / 2), `… ${lines.length - maxLines} lines …`, ...lines.slice(-maxLines / 2)] : lines;
  return [...kept, `ended: ${trace.endReason} after ${trace.steps} steps`].join('\n');
}

export function digesterUser(tasks: Array<{ digest: TaskDigest; traces: EpisodeTrace[] }>): string {
  return JSON.stringify(
    {
      tasks: tasks.map(({ digest: d, traces }) => ({
        taskId: d.taskId,
        outcome: `${d.successes}/${d.attempts} attempts succeeded`,
        signals: d.categoryCounts,
        autoEvidence: d.evidence,
        history: d.history.slice(-6),
        failedAttempts: traces.filter((t) => !t.success).slice(0, 2).map((t) => ({ attempt: t.attempt, excerpt: traceExcerpt(t) })),
      })),
    },
    null,
    1,
  );
}

export function harnessView(config: HarnessConfig): Record<string, Array<{ id: string; type: string; params: unknown }>> {
  const out: Record<string, Array<{ id: string; type: string; params: unknown }>> = {};
  for (const hook of HOOKS)
    if (config.hooks[hook].length) out[hook] = config.hooks[hook].map((p) => ({ id: p.id, type: p.type, params: p.type === 'code' ? { source: clip(String(p.params.source), 3000) } : p.params }));
  return out;
}

let catalogueCache: unknown[] | null = null;
/** The processor library as the model sees it: type, hooks, purpose, params as JSON Schema. */
export function processorCatalogue(): unknown[] {
  catalogueCache ??= Object.values(PROCESSOR_LIBRARY).map((d) => {
    let params: unknown;
    try {
      params = z.toJSONSchema(d.params, { io: 'input', unrepresentable: 'any' });
    } catch {
      params = 'object';
    }
    return { type: d.type, dimension: d.dimension, hooks: d.hooks, singletonGroup: d.meta.singletonGroup ?? null, description: d.description, params: d.type === 'code' ? 'see the code processor API' : params };
  });
  return catalogueCache;
}


export function failingSummary(digest: Digest, max = 30) {
  return digest.tasks
    .filter((t) => t.category !== null)
    .slice(0, max)
    .map((t) => ({ taskId: t.taskId, category: t.category, summary: t.summary ?? null, evidence: t.evidence.slice(0, 3), implicated: t.implicated, history: t.history.slice(-4) }));
}

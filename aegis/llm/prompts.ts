import { z } from 'zod';
import type { HarnessConfig } from '../../harness/config';
import { PROCESSOR_LIBRARY } from '../../harness/processors';
import { BUNDLES } from '../../harness/processors/bundles';
import { CORE_PROCESSOR_TYPES, DEFAULT_PROCESSOR_LIBRARY, ProcessorLibraryName, typeInLibrary } from '../library-scope';

import type { EpisodeTrace } from '../../harness/trace';
import { HOOKS } from '../../harness/types';
import { HOOK_CONTRACTS } from '../../harness/contracts';
import { harnessApiText } from '../../harness/sandbox/compile-processor';
import { DEFAULT_SANDBOX_LIMITS, TICKS_PER_NOMINAL_MS } from '../../harness/sandbox/quickjs-sandbox';
import { ownText, sharedPreamble, stepsTaken } from '../digester';
import type { Digest, GateTerms, TaskDigest } from '../types';

/**
 * Prompts of the LLM meta-agent. Each stage's system prompt states its role, its inputs and the exact JSON
 * shape to return; the user message carries the data as JSON. Inputs are bounded so a prompt stays well
 * under any context window however large the run.
 */

const JSON_ONLY = 'Reply with one JSON object only (you may wrap it in a ```json fence). No other text.';

const CATEGORIES_TEXT = `Categories: format_error (malformed or prose actions, bad arguments, calls the harness blocked), invalid_action (actions whose preconditions fail), loop (returning to earlier states), no_progress (budget ran out without getting closer), transient_tool_error, long_context, harness_error (a processor crashed). A plan_then_act planning reply (purpose "plan") is not an action: never count it as a format error.`;

export const DIGESTER_SYSTEM = `You are the Digester of AEGIS, a system that improves an LLM agent's harness (prompts, tools, processors on lifecycle hooks) from execution traces.
You get: the current harness (each processor's id, type, hook and parameters), the processor types the library offers, and the failing tasks of one round — each with its goal (the task's own text, in full; "sharedPreamble", when given, is the text every task's instruction starts with, shown once), its initial observation, its outcome over k attempts, a compact trace excerpt of failed attempts, per step (newest first) the context parts the model actually received with their text, automatic signal counts, and its history in earlier rounds.
For every task, write a short failure summary grounded in the trace, pick the primary failure category and any secondary ones the trace also shows, quote the evidence, and name the harness components implicated: processor ids of the harness as given, or "missing:<processor type>" for a library type the harness lacks. Before blaming a processor, check in "contextParts" whether its output reached the model on the failed step.
${CATEGORIES_TEXT}
${JSON_ONLY}
Shape: {"tasks":[{"taskId":"...","summary":"...","category":"loop","secondary":["invalid_action"],"evidence":["step 4: ..."],"implicated":["missing:loop_detection"]}]} — one entry per task given, same taskIds; "secondary" may be empty and never repeats "category".`;

/** The edit operations, stated once for the Planner and the Evolver; examples on the current harness come with the data. */
export const EDIT_VOCABULARY = `Edits are typed builder operations on the harness; a candidate is a list of one to six of them, applied in order:
  insert    {"op":"insert","hook":"<hook>","processor":{"id":"<new id>","type":"<library type>","params":{...}}}  — add a processor (its type must allow the hook; a singleton group allows one per harness).
  replace   {"op":"replace","hook":"<hook>","group":"<singleton group>","processor":{...}}  — swap the processor of a singleton group for another of the same group.
  remove    {"op":"remove","processorId":"<id>"}  — drop a processor.
  configure {"op":"configure","processorId":"<id>","params":{...}}  — change parameters of a processor already in the harness (the params given are merged over the current ones).
  bundle    {"op":"bundle","name":"<bundle>"}  — apply a named processor set from "Bundles" as one edit.
  move      {"op":"move","processorId":"<id>","before":"<other id>"} (or "after")  — run a processor right before (after) another processor of the same hook.
Order within a hook: processors run one after another, each on what the previous one yielded, in the order "harness" lists them. By default that order is the order class of the type (pre, normal, post), then the types a type must follow, then the id alphabetically — never the order of insertion. An explicit position overrides it: an inserted processor may carry "before" or "after" (another processor's id on its hook) next to "id", "type" and "params", and "move" sets one on a processor already there. Positions must name a processor of the same hook and must not form a circle; removing a processor drops positions relative to it.
Shared code: a TypeScript source several code processors use can be sent once per reply in "modules" ([{"id":"<module id>","source":"<TypeScript>"}]) and referenced from a code processor's params as {"module":"<module id>","smokeTests":[...]} instead of "source"; it is type-checked once for the reply, and each candidate's harness carries the full source.
Edit types, as the ledger names them: insert:<type>@<hook>, replace:<group>-><type>@<hook>, remove:<id>, configure:<id>:<params>, bundle:<name>@<version>, move:<id>(before:<id>); a candidate's key joins all its changes with "+", and its bucket is derived from all its changes (processor > tools > config > prompt; a move is a config change). "editExamples" shows each operation on the current harness.`;

/** How the deterministic gate decides, in numbers when the run's terms are known. */
export function gateMechanics(terms?: GateTerms): string {
  const k = terms ? `${terms.k}` : 'k';
  const gain = terms ? `${terms.minGain}` : 'minGain (default 1)';
  const set = terms ? `the round's ${terms.batchTasks} batch task(s) plus ${terms.validationTasks} validation task(s) (${terms.batchTasks + terms.validationTasks} in all)` : "the round's batch tasks plus the run's validation tasks";
  const statistical = terms?.mode === 'statistical' ? ` Statistical gating: both run ${terms.repeats ?? 'R'} paired repeats, and the mean gain must also reach t ≥ ${terms.tCritical ?? 'tCritical'}.` : '';
  const unseen = terms?.minUnseenGain
    ? ` The gain must show on tasks you were not shown: at least ${terms.minUnseenGain} of the task(s) the candidate gains must be validation tasks, so an edit that only fixes the batch tasks in the digest (for example by recognising them or their answers) is rejected; aim for changes that generalise.`
    : '';
  return `How the gate decides: the Critic's ranking is gated in order and the FIRST candidate that passes ships; the rest of the ranking is not tried that round. Checks, in order, the first failure rejecting: manifest_complete, canonical_form, reward_hacking, code_sandbox (type-check and smoke tests), smoke_test (one episode on a synthetic task; no processor may crash), seesaw. The seesaw runs incumbent and candidate on the gate set — ${set} — with ${k} attempt(s) per task; a task counts as passed when at least one of its attempts succeeds, and the metric is "tasks passed of gate tasks". The candidate must pass at least ${gain} more task(s) than the incumbent and lose none the incumbent passes (a suspected regression is re-run on 2×${k} fresh attempts and counts only if they all fail).${unseen}${statistical} A gate set the incumbent already passes in full leaves no gain to make: no candidate can ship then.`;
}

/**
 * The code-processor contract, one sentence per entry; tests/unit/code-contract.test.ts checks each holds.
 * Limits are read from the sandbox so the text cannot drift from what runs.
 */
export function codeProcessorContract(limits: { workTicks: number; memoryBytes: number; stackBytes: number }): Array<{ id: string; text: string }> {
  return [
    { id: 'signature', text: 'The source must export `function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult` and may only `import type` from "harnessx"; it is type-checked against the API text given, with no Node, DOM or timer globals.' },
    { id: 'result', text: `Return null (or nothing) to pass the event on unchanged, an event of the same hook to replace it, or {"interrupt": true, "reason": "..."} to end the episode. A replaced event may change only what its hook allows (${HOOKS.map((h) => `${h}: ${HOOK_CONTRACTS[h]}`).join('; ')}); anything else is a contract violation.` },
    { id: 'state-scope', text: '`ctx.state` belongs to one processor in one episode: it is {} when the episode starts, what you leave in it (mutated or reassigned) is what the same processor sees on its next call in that episode, and it is never shared with other processors, attempts or episodes.' },
    { id: 'state-json', text: '`ctx.state` is copied as JSON between calls: functions, Maps, Sets and undefined values are lost, Dates become strings.' },
    { id: 'failure', text: 'A call that throws, breaks the hook\'s contract or exceeds a sandbox limit ends the episode with endReason "harness_error", and what it did to ctx.state is discarded.' },
    { id: 'before-tool-reject', text: 'A before_tool processor rejects a call by returning the event with "approved": false and "rejection": "<reason>": the tool does not run, the model gets the error result "Tool call rejected by the harness: <reason>" (errorKind "blocked", which the digest counts as a format error), and the step still counts against the step budget.' },
    { id: 'tool-args-history', text: 'When a before_tool processor rewrites a call\'s arguments (a repair), the tool runs with the rewritten arguments and the trace\'s tool_call record shows them, but the conversation history keeps the call as the model sent it (after any after_model processor) with the result of the rewritten call answered to its id: on the next step the model sees its original arguments followed by that result, so say in the result or a context part what was changed if the model should know.' },
    { id: 'step-start-summarize', text: 'At step_start a processor returns the history to use, any array of messages: it may drop messages, reorder them, or replace a span with one message of its own text (a summary); what it returns is the conversation from then on (later steps start from it, so what it drops is gone for good). Code cannot call a model (the sandbox has none), so a code summary is text it builds itself; the library\'s context_compaction summarises with the harness\'s evaluator model. Drop an assistant message with tool calls only together with their tool results: the messages reach the provider as they are, and providers refuse a tool result whose call is missing.' },
    { id: 'context-parts', text: 'In before_model, event.request.parts lists the context parts processors earlier on the hook added, as {"kind", "text", "data"?}; each reaches the model after the conversation as a block `<context kind="<kind>">` newline <text> newline `</context>`, and "data" is never shown to the model.' },
    { id: 'smoke-isolated', text: 'Each smoke test runs the processor once on its own: "state" is ctx.state at the start of that call (default {}), "instruction" is ctx.instruction, "admissibleActions" is ctx.admissibleActions, and no state passes from one smoke test to the next.' },
    { id: 'smoke-hook', text: 'A smoke test\'s event must be an event of the hook the processor is attached to ("event.hook" equal to that hook), or the candidate is rejected.' },
    { id: 'smoke-expect', text: '"expect" is "unchanged" when the call returns null or an identical event, "changed" when it returns a different event, "interrupt" when it returns an interrupt.' },
    { id: 'smoke-output-includes', text: '"outputIncludes" must be a case-sensitive substring of JSON.stringify of what the call returned (the new event, the unchanged event or the interrupt), whatever "expect" is; quotes and newlines inside strings appear escaped there (\\" and \\n), so pick a fragment without them.' },
    { id: 'limits', text: `Limits apply per call and every call starts a fresh sandbox: evaluating your module's top-level code and copying the event and state in and out count toward the call's limits (a work budget of ${limits.workTicks} interrupt ticks — about ${Math.round(limits.workTicks / TICKS_PER_NOMINAL_MS)} ms of plain JavaScript, counted as work, not wall time, so the verdict never depends on machine load — ${limits.memoryBytes >> 20} MiB heap for every kind of allocation, ${limits.stackBytes >> 10} KiB stack), so keep top-level code to declarations.` },
  ];
}

const CONTRACT_TEXT = () => codeProcessorContract(DEFAULT_SANDBOX_LIMITS).map((c) => `  - ${c.text}`).join('\n');

export const PLANNER_SYSTEM = `You are the Planner of AEGIS. From the round's digest, the current harness, the processor library and the ledger of edits already tried (with the gate's outcome and reason), map the adaptation landscape: which failure categories matter most, and which concrete changes could fix them.
Edit buckets: prompt (system prompt, examples), tools (tool docs, argument validation, retries), config (budgets, parameters), processor (new or changed processors, including new processor code).
${EDIT_VOCABULARY}
Rules:
- The ledger marks each rejected edit "rejectedFor": "idea" (it ran and did not help: no gain, a regression, reward hacking, a reviewer's no) or "mistake" (it never ran: a failing smoke test, a type error, an incomplete manifest, an edit that does not apply). Never repeat an edit rejected for an idea on the same harness unless you change it materially. An edit rejected for a mistake is an untested idea: you may propose it again, saying what to fix.
- Use the gate's reasons: a "no gain" says the change did not unlock tasks; a regression names the tasks it broke.
- Name edit types that have not been tried yet in "untriedEditTypes".
- When prompt-only edits have stopped shipping, propose structural changes (tools, processors, memory or control redesigns, or new processor code), not more rewording.
- Options must be task-agnostic: never key behaviour on task ids or copy task data.
- "untriedEditTypes" in the data lists, by bucket, every edit not yet tried on this harness: inserts, replaces within a singleton group, removes, configures, moves (move:<id>, any position) and bundles; name the ones you propose in your "untriedEditTypes".
GATE
${JSON_ONLY}
Shape: {"options":[{"category":"loop","bucket":"processor","direction":"...","editTypes":["insert:code@before_model"],"targetTasks":["..."]}],"untriedEditTypes":["..."],"notes":"..."}. Most promising option first; at most 8.`.replace('GATE', gateMechanics());

export const EVOLVER_SYSTEM = `You are the Evolver of AEGIS. Turn the Planner's options into candidate harness edits.
${EDIT_VOCABULARY}
Hooks: ${HOOKS.join(', ')}. Processor ids: lower-case letters, digits, "_" or "-".
You may also write a new processor in TypeScript: insert a processor of type "code" with params {"source": "<TypeScript>", "smokeTests": [...]}. The code-processor contract:
${CONTRACT_TEXT()}
Ship at least one smoke test per code processor: {"name":"...","event":<a synthetic event of its hook>,"state":{},"instruction":"optional","admissibleActions":null,"expect":"unchanged"|"changed"|"interrupt","outputIncludes":"optional text"}.
Before the Critic sees them, your candidates go through the gate's rollout-free checks (manifest, canonical form, reward hacking, type-check and smoke tests, a smoke episode). If any fails you get its exact message once, to fix it.
GATE
Candidates must be task-agnostic: no task ids, no gold solutions, no task statements, no attempt to read verifier data — a deterministic check rejects them.
${JSON_ONLY}
Shape: {"candidates":[{"bucket":"processor","rationale":"...","changes":[...],"evidence":["<trace evidence the change addresses>"],"predictedImpact":{"tasksWillUnlock":["..."],"stabilize":[],"atRisk":[]}}]}`.replace('GATE', gateMechanics());

export const EVOLVER_REVISION_SYSTEM = `${EVOLVER_SYSTEM}
Now revise ONE candidate following the Critic's request. Reply with {"candidates":[<the one revised candidate>]}.`;

export const CRITIC_SYSTEM = `You are the Critic of AEGIS. Check each candidate's manifest against the trace evidence: do the claimed unlocks fail in the digest for the reasons the change addresses? Is the change task-agnostic and likely to avoid regressions on solved tasks? Each candidate's "preGate" says whether it passed the gate's rollout-free checks (manifest, canonical form, reward hacking, type-check and smoke tests, a smoke episode) or the first check it failed: a candidate that failed them will be rejected before any rollout, so never rank it first. Automatic claim checks are given to you, and so is the ledger of earlier gate results with their reasons ("editsTried"): do not rank first an idea the gate already rejected on this harness.
${gateMechanics()}
So rank the candidate most likely to pass first; rank only candidates you would ship.
Decide one of:
  {"decision":"ship_ranking","ranking":["<candidateId>", ...],"notes":["..."]}  — candidates worth gating, best first (the deterministic gate decides what ships);
  {"decision":"no_op","reason":"..."}  — none is supported by the evidence;
  {"decision":"revise","candidateId":"<id>","request":"..."}  — one candidate is promising but needs a specific fix (only when revision is allowed).
${JSON_ONLY}`;

/**
 * The long parts every call of a stage repeats unchanged (the processor catalogue; for stages that write
 * code, the code-processor API), appended to the stage's system prompt so they sit in the prompt prefix a
 * provider caches (Anthropic cache_control marks the end of the system prompt) instead of in each user turn.
 */
export function withStableContext(system: string, parts: { catalogue?: boolean; codeApi?: boolean; libraryTypes?: boolean; library?: ProcessorLibraryName }): string {
  const blocks = [system];
  const library = parts.library ?? DEFAULT_PROCESSOR_LIBRARY;
  if (parts.libraryTypes) blocks.push(`Library processor types (type, hooks, purpose) — the names to use in "missing:<type>":\n${JSON.stringify(libraryTypes(library))}`);
  if (parts.catalogue) {
    blocks.push(`Processor library (type, dimension, hooks, singleton group, purpose, params as JSON Schema):\n${JSON.stringify(processorCatalogue(library))}`);
    if (library === 'full')
      blocks.push(`Bundles (named processor sets; apply one as a single edit {"op":"bundle","name":"<name>"}: each member is configured where its type is present, replaces the holder of its singleton group on that hook, or is inserted):\n${JSON.stringify(bundleCatalogue())}`);
    else
      blocks.push(`This run's processor library is "${library}": insert or replace only the types listed above (${CORE_PROCESSOR_TYPES.join(', ')}); bundles are not available. A change naming another type is refused.`);
  }
  if (parts.codeApi) blocks.push(`Code processor API (the "harnessx" module code processors import types from):\n${harnessApiText()}`);
  return blocks.join('\n\n');
}

/** Keeps prompts bounded: long strings are cut with a marker. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more chars]`;
}

/** A failed attempt as a few lines: each step's action and the first line of its result, then the end. */
export function traceExcerpt(trace: EpisodeTrace, maxLines = 14): string {
  const lines: string[] = [];
  // A reply may hold several calls: they are labelled "step 3 (call 2 of 3)" so the reader sees one reply, not three steps.
  const callsInStep = new Map<number, number>();
  for (const r of trace.records) if (r.kind === 'tool_call') callsInStep.set(r.step, (callsInStep.get(r.step) ?? 0) + 1);
  const seenInStep = new Map<number, number>();
  const callLabel = (step: number) => {
    const total = callsInStep.get(step) ?? 1;
    const nth = (seenInStep.get(step) ?? 0) + 1;
    seenInStep.set(step, nth);
    return total > 1 ? `step ${step} (call ${nth} of ${total})` : `step ${step}`;
  };
  for (const r of trace.records) {
    if (r.kind === 'tool_call') lines.push(`${callLabel(r.step)}: ${r.call.name}(${JSON.stringify(r.call.args)}) → ${r.result.ok ? 'ok' : r.result.errorKind ?? 'error'}: ${r.result.output.split('\n')[0].slice(0, 140)}`);
    else if (r.kind === 'error') lines.push(`step ${r.step}: ERROR ${r.message.slice(0, 200)}`);
    // Only an acting reply without a tool call is a format problem; plan_then_act's planning replies are prose by design.
    else if (r.kind === 'model_call' && r.purpose === 'act' && !r.response.toolCalls.length && r.response.text) lines.push(`step ${r.step}: model replied without a tool call: ${JSON.stringify(r.response.text.slice(0, 120))}`);
    else if (r.kind === 'model_call' && r.purpose === 'plan') lines.push(`step ${r.step}: (plan_then_act asked for a plan; not an action)`);
  }
  const kept = lines.length > maxLines ? [...lines.slice(0, maxLines / 2), `… ${lines.length - maxLines} lines …`, ...lines.slice(-maxLines / 2)] : lines;
  return [...kept, `ended: ${trace.endReason} after ${stepsTaken(trace)} step(s)`].join('\n');
}

/** The first observation the agent got: the opening user message of its first acting call. */
export function initialObservation(trace: EpisodeTrace): string | null {
  for (const r of trace.records)
    if (r.kind === 'model_call' && r.purpose === 'act') return r.request.newMessages.find((m) => m.role === 'user')?.content ?? null;
  return null;
}

/** Characters of context-part text an attempt's excerpt shows in full, newest step first (about 2k tokens). */
export const CONTEXT_PART_CHARS = 8_000;

/**
 * Per step, newest first, the context parts the model received on its acting call, each part's text in
 * full while `budget` characters last (what a processor told the model is often the evidence); older
 * steps past the budget list the kinds only. Compact traces keep only parts that changed since the last
 * call and count the rest as carried: those are listed as "+N unchanged".
 */
export function contextPartsByStep(trace: EpisodeTrace, maxSteps = 12, budget = CONTEXT_PART_CHARS): Array<{ step: number; parts: string[] }> {
  const calls = trace.records.filter((r): r is Extract<typeof r, { kind: 'model_call' }> => r.kind === 'model_call' && r.purpose === 'act').reverse().slice(0, maxSteps);
  let left = budget;
  return calls.map((r) => {
    const parts = r.request.parts.map((p) => {
      if (p.text.length > left) return `${p.kind}: (text of ${p.text.length} chars not shown: the excerpt's budget is spent on newer steps)`;
      left -= p.text.length;
      return `${p.kind}: ${p.text}`;
    });
    if (r.request.carriedParts) parts.push(`+${r.request.carriedParts} unchanged from the previous step`);
    return { step: r.step, parts: parts.length ? parts : ['(none)'] };
  });
}

/**
 * A task's own goal is never cut below this many characters: the preamble every task shares goes first
 * (it is shown once per request), and a goal longer than this is cut with a marker.
 */
export const GOAL_CHARS = 12_000;
/** The shared preamble, shown once per request: rules the model needs, but not each task's own text. */
export const PREAMBLE_CHARS = 6_000;

/** The goal and first observation of a task as the stages see them: its own text, in full up to GOAL_CHARS. */
export function taskStatement(trace: EpisodeTrace | undefined, preamble: string): { goal: string | null; initialObservation: string | null } {
  if (!trace) return { goal: null, initialObservation: null };
  const observation = initialObservation(trace);
  return {
    goal: clip(ownText(trace.instruction, preamble), GOAL_CHARS),
    // The first message is usually the instruction itself (goal and start state in one): said, not repeated.
    initialObservation: observation === null ? null : observation === trace.instruction ? '(the goal above is the first message the agent got)' : clip(ownText(observation, preamble), GOAL_CHARS),
  };
}

/**
 * What the Digester reads: the harness and the shared preamble once, then per task its goal and start in
 * full, and its failed attempts. Budgets shrink the excerpts and the harness, never a task's own text.
 */
export function digesterUser(tasks: Array<{ digest: TaskDigest; traces: EpisodeTrace[] }>, config?: HarnessConfig, budget = DEFAULT_PROMPT_CHARS, preamble?: string): string {
  const failedOf = (traces: EpisodeTrace[]) => traces.filter((t) => !t.success).slice(0, 2);
  const shared = preamble ?? sharedPreamble(tasks.flatMap((t) => t.traces.slice(0, 1).map((x) => x.instruction)));
  const full = (level: 0 | 1 | 2) => ({
    ...(shared ? { sharedPreamble: clip(shared, level === 0 ? PREAMBLE_CHARS : 1500) } : {}),
    ...(config ? { harness: harnessView(config, level === 0 ? 3000 : 600) } : {}),
    tasks: tasks.map(({ digest: d, traces }) => ({
      taskId: d.taskId,
      ...taskStatement(traces[0], shared),
      outcome: `${d.successes}/${d.attempts} attempts succeeded`,
      signals: d.categoryCounts,
      autoEvidence: d.evidence,
      history: d.history.slice(-6),
      failedAttempts: failedOf(traces).slice(0, level === 2 ? 1 : 2).map((t) => ({
        attempt: t.attempt,
        excerpt: traceExcerpt(t, level === 0 ? 14 : 8),
        ...(level < 2 ? { contextParts: contextPartsByStep(t, level === 0 ? 12 : 6, level === 0 ? CONTEXT_PART_CHARS : 2000) } : {}),
      })),
    })),
  });
  return fitJson([full(0), full(1), full(2)], budget);
}

/** Characters a prompt's JSON may use before it is summarised (about 30k tokens). */
export const DEFAULT_PROMPT_CHARS = 120_000;

/**
 * The first of `levels` (most detailed first) whose JSON fits `budget` characters; the last one otherwise.
 * Prompts shrink by summarising whole fields, never by cutting JSON in the middle, so every prompt parses.
 */
export function fitJson(levels: unknown[], budget: number): string {
  let text = '';
  for (const level of levels) {
    text = JSON.stringify(level);
    if (text.length <= budget) return text;
  }
  return text;
}

/** The library's processor types with their hooks (the Digester's "missing:<type>" vocabulary). */
export function libraryTypes(library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Array<{ type: string; hooks: readonly string[]; purpose: string }> {
  return Object.values(PROCESSOR_LIBRARY).filter((d) => typeInLibrary(d.type, library)).map((d) => ({ type: d.type, hooks: d.hooks, purpose: d.description }));
}

/** One concrete example of each edit operation on this harness (what the vocabulary looks like here). */
export function editExamples(config: HarnessConfig, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Record<'insert' | 'replace' | 'remove' | 'configure' | 'move', unknown> {
  const present = HOOKS.flatMap((hook) => config.hooks[hook].map((p) => ({ ...p, hook })));
  const presentTypes = new Set(present.map((p) => p.type));
  const absent = Object.values(PROCESSOR_LIBRARY).find((d) => !presentTypes.has(d.type) && d.type !== 'code' && d.type !== 'tracer' && typeInLibrary(d.type, library)) ?? PROCESSOR_LIBRARY.loop_detection;
  const grouped = present.find((p) => PROCESSOR_LIBRARY[p.type]?.meta.singletonGroup);
  const group = grouped ? PROCESSOR_LIBRARY[grouped.type]!.meta.singletonGroup! : null;
  const configurable = present.find((p) => p.type === 'step_budget') ?? present.find((p) => p.type !== 'code');
  const removable = present.find((p) => p.type !== 'tracer') ?? present[0];
  return {
    insert: { op: 'insert', hook: absent.hooks[0], processor: { id: absent.type, type: absent.type, params: {} } },
    replace: grouped && group ? { op: 'replace', hook: grouped.hook, group, processor: { id: `${grouped.id}_v2`, type: grouped.type, params: grouped.params } } : 'no singleton group in this harness',
    remove: removable ? { op: 'remove', processorId: removable.id } : 'nothing to remove',
    configure: configurable ? { op: 'configure', processorId: configurable.id, params: configurable.type === 'step_budget' ? { maxSteps: Number(configurable.params.maxSteps ?? 14) + 6 } : configurable.params } : 'nothing to configure',
    move: (() => {
      const hook = HOOKS.find((h) => config.hooks[h].length >= 2);
      if (!hook) return 'no hook with two processors to reorder';
      const [first, second] = config.hooks[hook];
      return { op: 'move', processorId: second.id, before: first.id };
    })(),
  };
}

/**
 * The harness as the stages see it: per hook, in execution order, each processor's id, type and parameters
 * (code sources clipped), and its explicit position when it has one.
 */
export function harnessView(config: HarnessConfig, maxSource = 3000): Record<string, Array<{ id: string; type: string; params: unknown; before?: string; after?: string }>> {
  const out: Record<string, Array<{ id: string; type: string; params: unknown; before?: string; after?: string }>> = {};
  for (const hook of HOOKS)
    if (config.hooks[hook].length)
      out[hook] = config.hooks[hook].map((p) => ({
        id: p.id,
        type: p.type,
        params: p.type === 'code' ? { source: clip(String(p.params.source), maxSource) } : p.params,
        ...(p.before !== undefined ? { before: p.before } : {}),
        ...(p.after !== undefined ? { after: p.after } : {}),
      }));
  return out;
}

/** The bundles as the model and the CLI see them: name, version, purpose, members. */
export function bundleCatalogue(): Array<{ name: string; version: number; description: string; processors: string[] }> {
  return BUNDLES.map((b) => ({ name: b.name, version: b.version, description: b.description, processors: b.members.map((x) => `${x.type}@${x.hook}`) }));
}

let catalogueCache: unknown[] | null = null;
/** The processor library as the model sees it: type, hooks, purpose, params as JSON Schema (`library`: the run's; 'core' lists only its types). */
export function processorCatalogue(library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): unknown[] {
  catalogueCache ??= Object.values(PROCESSOR_LIBRARY).map((d) => {
    let params: unknown;
    try {
      params = z.toJSONSchema(d.params, { io: 'input', unrepresentable: 'any' });
    } catch {
      params = 'object';
    }
    return { type: d.type, dimension: d.dimension, hooks: d.hooks, singletonGroup: d.meta.singletonGroup ?? null, description: d.description, params: d.type === 'code' ? 'see the code processor API' : params };
  });
  return library === 'full' ? catalogueCache : catalogueCache.filter((d) => typeInLibrary((d as { type: string }).type, library));
}


export function failingSummary(digest: Digest, max = 30) {
  return digest.tasks
    .filter((t) => t.category !== null)
    .slice(0, max)
    .map((t) => ({ taskId: t.taskId, ...(t.goal !== undefined ? { goal: clip(t.goal, GOAL_CHARS) } : {}), category: t.category, secondary: t.secondary ?? [], summary: t.summary ?? null, evidence: t.evidence.slice(0, 3), implicated: t.implicated, history: t.history.slice(-4) }));
}

/** The round's shared preamble once (for a request that shows tasks' goals), clipped: the goals are never cut for it. */
export function preambleOnce(digest: Digest, max = PREAMBLE_CHARS): { sharedPreamble?: string } {
  return digest.sharedPreamble ? { sharedPreamble: clip(digest.sharedPreamble, max) } : {};
}

import type { EpisodeTrace, TraceRecord } from '../harness/trace';
import { stateOf } from '../harness/processors/observation-text';
import type { HarnessConfig } from '../harness/config';
import { HOOKS } from '../harness/types';
import type { TaskOutcome } from './rollout';
import type { Digest, FailureCategory, TaskDigest } from './types';

/** Which processor types would address a failure category: the digester's component attribution. */
export const CATEGORY_COMPONENTS: Record<FailureCategory, string[]> = {
  format_error: ['format_repair', 'arg_validation', 'system_prompt', 'tool_docs', 'few_shot'],
  invalid_action: ['admissible_actions', 'observation_format', 'few_shot'],
  loop: ['loop_detection', 'notes'],
  no_progress: ['plan_then_act', 'step_budget', 'notes'],
  transient_tool_error: ['tool_retry'],
  long_context: ['episode_summary', 'sliding_window'],
  harness_error: [],
  wrong_outcome: ['plan_then_act', 'tool_docs', 'few_shot', 'system_prompt'],
};

const WEIGHTS: Record<FailureCategory, number> = {
  harness_error: 100, format_error: 1, invalid_action: 1, loop: 1.2, transient_tool_error: 0.8, long_context: 0.5, no_progress: 0.1, wrong_outcome: 0.05,
};

/**
 * Steps the agent actually took, from the records: the last step with a model call, tool call, dialogue or
 * error. The same as trace.steps for traces of today's run loop; also right for stored traces recorded
 * before the loop stopped counting the step a step budget interrupted (they say maxSteps + 1).
 */
export function stepsTaken(trace: EpisodeTrace): number {
  return trace.records.reduce((n, r) => (r.kind === 'model_call' || r.kind === 'tool_call' || r.kind === 'dialogue' || r.kind === 'error' ? Math.max(n, r.step) : n), 0);
}

/** A shared start shorter than this is not worth separating from the goals (it is a word or two). */
const MIN_PREAMBLE_CHARS = 80;

/**
 * The text every instruction starts with, ending at a line break (a benchmark's intro, rules or policy),
 * or '' when there is none or only one distinct instruction: a single task's text is all its own.
 */
export function sharedPreamble(instructions: readonly string[]): string {
  const distinct = [...new Set(instructions)];
  if (distinct.length < 2) return '';
  let n = 0;
  const first = distinct[0];
  while (n < first.length && distinct.every((s) => s[n] === first[n])) n++;
  const cut = first.lastIndexOf('\n', n - 1);
  return cut + 1 >= MIN_PREAMBLE_CHARS ? first.slice(0, cut + 1) : '';
}

/** An instruction without the shared preamble: the task's own statement. */
export function ownText(instruction: string, preamble: string): string {
  return preamble && instruction.startsWith(preamble) ? instruction.slice(preamble.length).trimStart() : instruction;
}

/** A short reply that only says what the agent is about to do: an intended action, not an answer. */
const ANNOUNCED_ACTION = /^\s*(?:I will|I'll|I am going to|I'm going to|Let me|Next,? I(?: will|'ll)?|Now I(?: will|'ll)?)\b[^\n]{0,200}$/i;

/** Counts the failure signals of one episode from its trace alone. */
export function episodeSignals(trace: EpisodeTrace): { counts: Partial<Record<FailureCategory, number>>; evidence: string[] } {
  const counts: Partial<Record<FailureCategory, number>> = {};
  const evidence: string[] = [];
  const bump = (c: FailureCategory, line: string) => {
    counts[c] = (counts[c] ?? 0) + 1;
    if (evidence.length < 3) evidence.push(line);
  };
  const seen = new Set<string>();
  for (const r of trace.records) {
    if (r.kind === 'error') bump(r.processorId ? 'harness_error' : 'format_error', `step ${r.step}: ${r.message}`);
    // In a conversation, a tool call written out as prose reaches the user instead of the tool.
    if (r.kind === 'dialogue' && /\b[a-z]+(?:_[a-z]+)+\s*[({]/.test(r.agent)) bump('format_error', `step ${r.step}: a tool call sent to the user as text: ${r.agent.slice(0, 120)}`);
    if (r.kind !== 'tool_call') continue;
    const first = r.result.output.split('\n')[0].slice(0, 160);
    const kind = r.result.errorKind;
    if (kind === 'precondition') bump('invalid_action', `step ${r.step}: ${r.call.name} → ${first}`);
    else if (kind === 'bad_arguments' || kind === 'unknown_tool' || kind === 'blocked') bump('format_error', `step ${r.step}: ${r.call.name} ${JSON.stringify(r.call.args)} → ${first}`);
    else if (kind === 'transient') bump('transient_tool_error', `step ${r.step}: ${first}`);
    if (r.result.ok) {
      const state = stateOf(r.result.output);
      if (state && seen.has(state)) bump('loop', `step ${r.step}: ${r.call.name} ${JSON.stringify(r.call.args)} returned to an earlier state`);
      if (state) seen.add(state);
    }
  }
  // In a product, a reply without a tool call is the final answer: an action written as prose ends the run
  // there ("I will unstack the red block."). The verifier fails it; the cause is the format, not the outcome.
  const final = trace.success ? undefined : trace.records.find((r): r is Extract<TraceRecord, { kind: 'note' }> => r.kind === 'note' && r.note === 'final answer');
  const announced = final && typeof (final.data as { answer?: unknown })?.answer === 'string' ? ((final.data as { answer: string }).answer) : '';
  if (final && ANNOUNCED_ACTION.test(announced)) bump('format_error', `step ${final.step}: the final answer announces an action instead of calling a tool: ${announced.slice(0, 120)}`);
  const maxMessages = Math.max(0, ...trace.records.map((r) => (r.kind === 'model_call' ? r.request.messageCount : 0)));
  if (!trace.success && maxMessages > 30) bump('long_context', `context grew to ${maxMessages} messages`);
  if (!trace.success && (trace.endReason === 'step_budget_exhausted' || trace.endReason === 'hard_step_cap'))
    bump('no_progress', `ended by ${trace.endReason} after ${stepsTaken(trace)} steps`);
  if (!trace.success && Object.keys(counts).length === 0) bump('wrong_outcome', `ended by ${trace.endReason} after ${stepsTaken(trace)} steps with no error in the trace, but the verifier failed it${trace.endReason === 'goal_reached' ? ' (a wrong final answer or state)' : ''}`);
  return { counts, evidence };
}

/**
 * Categories by weighted signal, strongest first. Ties keep the order the signals first appeared in the
 * traces (a stable sort), as the single dominant category always did; traces come in rollout order.
 */
function ranked(counts: Partial<Record<FailureCategory, number>>): FailureCategory[] {
  return (Object.entries(counts) as [FailureCategory, number][])
    .filter(([, n]) => n > 0)
    .sort(([a, n], [b, m]) => m * WEIGHTS[b] - n * WEIGHTS[a])
    .map(([c]) => c);
}

/**
 * Traces → per-task summaries: outcome, dominant failure category (over failed attempts), implicated
 * components, short evidence excerpts, and the task's history across rounds from the previous digest.
 */
export function digestTraces(input: { round: number; harnessId: string; config: HarnessConfig; traces: EpisodeTrace[]; outcomes: TaskOutcome[]; previous: Digest | null }): Digest {
  const present = new Map<string, string>();
  for (const hook of HOOKS) for (const p of input.config.hooks[hook]) present.set(p.type, p.id);
  const byTask = new Map<string, EpisodeTrace[]>();
  for (const t of input.traces) byTask.set(t.taskId, [...(byTask.get(t.taskId) ?? []), t]);
  const prior = new Map((input.previous?.tasks ?? []).map((t) => [t.taskId, t.history]));
  const instructionOf = new Map(input.traces.map((t) => [t.taskId, t.instruction]));
  const preamble = sharedPreamble([...instructionOf.values()]);
  const tasks: TaskDigest[] = input.outcomes.map((o) => {
    const counts: Partial<Record<FailureCategory, number>> = {};
    const evidence: string[] = [];
    for (const t of byTask.get(o.taskId) ?? []) {
      if (t.success) continue;
      const s = episodeSignals(t);
      for (const [c, n] of Object.entries(s.counts) as [FailureCategory, number][]) counts[c] = (counts[c] ?? 0) + n;
      for (const line of s.evidence) if (evidence.length < 4) evidence.push(`attempt ${t.attempt}: ${line}`);
    }
    const order = o.successes === o.attempts ? [] : ranked(counts);
    // A failed task always has a category: one without traces to read is a wrong outcome too.
    const category = order[0] ?? (o.successes < o.attempts ? 'wrong_outcome' : null);
    const implicated = category ? CATEGORY_COMPONENTS[category].map((type) => present.get(type) ?? `missing:${type}`) : [];
    return {
      taskId: o.taskId,
      passed: o.passed,
      successes: o.successes,
      attempts: o.attempts,
      category,
      secondary: order.slice(1),
      categoryCounts: counts,
      implicated,
      evidence,
      ...(instructionOf.has(o.taskId) ? { goal: ownText(instructionOf.get(o.taskId)!, preamble) } : {}),
      history: [...(prior.get(o.taskId) ?? []), { round: input.round, passed: o.passed, category }],
    };
  });
  const failing = tasks.filter((t) => t.category !== null);
  const traceTokens = input.traces.reduce((n, t) => n + Math.ceil(JSON.stringify(t.records).length / 4), 0);
  const digestTokens = Math.ceil(JSON.stringify(tasks.map(({ history: _h, goal: _g, ...rest }) => rest)).length / 4);
  return { round: input.round, harnessId: input.harnessId, tasks, actionability: tasks.length ? failing.length / tasks.length : 0, traceTokens, digestTokens, ...(preamble ? { sharedPreamble: preamble } : {}) };
}

import { canonicalJson } from '../../../harness/canonical';
import type { SimulatorBrief, Tau2RetailBrief } from '../../../harness/task-brief';
import type { ModelRequest, ToolCall } from '../../../harness/types';
import type { ContextSignals, SimProfile } from '../profile';
import type { SkillDecision } from './types';

/**
 * The simulator's tau2 retail skill. The simulated agent "knows" the task's gold action sequence (from the
 * benchmark's brief; it stands in for a capable model) once it hears the customer's opening line, and
 * follows the policy's shape: authenticate first, list a write and get a yes before making it, close when
 * done. It errs at its profile's harness-dependent rates: a wrong id ("invalid"; the tool rejects it),
 * repeating a lookup ("loop"), declaring the request done before the last write ("subgoal"), and prose
 * instead of a tool call ("format").
 */
export function matches(request: ModelRequest): boolean {
  return request.tools.some((t) => t.name === 'exchange_delivered_order_items');
}

const key = (name: string, args: unknown) => `${name}${canonicalJson(args)}`;

/** The brief's task when the first user message ends with its opening line (after "Customer: "). */
function taskOf(request: ModelRequest, brief: SimulatorBrief | undefined): Tau2RetailBrief | null {
  if (brief?.benchmark !== 'tau2-retail') return null;
  const first = request.messages.find((m) => m.role === 'user');
  return first && first.content.split('\n').pop()!.replace(/^Customer: /, '').trim() === brief.opening ? brief : null;
}

export function decideTau2(request: ModelRequest, signals: ContextSignals, rates: SimProfile, u: (kind: string) => number, brief?: SimulatorBrief): SkillDecision {
  const task = taskOf(request, brief);
  if (!task) return { kind: 'lost', text: 'How can I help you today?' };
  const isWrite = (name: string) => task.writeTools.includes(name);
  // Successful calls so far, in order.
  const okIds = new Set(request.messages.filter((m) => m.role === 'tool' && !m.isError).map((m) => m.toolCallId));
  // A gold action that fails on purpose (tau2 records and skips it) counts as done once called, error or not.
  const skipped = new Set(task.skippedActions ?? []);
  const calls = request.messages.flatMap((m) => (m.toolCalls ?? []).map((c) => ({ ok: okIds.has(c.id), key: key(c.name, c.args) })));
  let progress = 0;
  for (const c of calls) {
    const gold = task.actions[progress];
    if (gold && (c.ok || skipped.has(progress)) && c.key === key(gold.name, gold.arguments)) progress++;
  }
  const next = task.actions[progress];
  const userTurns = request.messages.filter((m) => m.role === 'user').map((m) => m.content);
  const lastUser = userTurns[userTurns.length - 1] ?? '';
  const lastAgent = [...request.messages].reverse().find((m) => m.role === 'assistant');
  const identified = userTurns.length > 1;

  if (request.purpose === 'plan') return { kind: 'plan', lines: task.actions.slice(progress).map((a) => `${a.name} ${JSON.stringify(a.arguments)}`) };
  if (!identified) return { kind: 'prose', text: 'I can help with that. First, to authenticate you, could you give me your email, or your first name, last name and zip code?' };
  if (!next) return { kind: 'prose', text: 'Your request has been taken care of. Is there anything else I can help you with?' };
  // Declaring victory early: the last write is left undone (notes and plans make this rarer).
  const writesLeft = task.actions.slice(progress).filter((a) => isWrite(a.name)).length;
  if (writesLeft >= 1 && progress > 0 && u('subgoal') < rates.subgoal / 2) return { kind: 'prose', text: 'All done on my side. Is there anything else I can help you with?' };
  if (isWrite(next.name)) {
    const proposal = `I will now call ${next.name} with ${JSON.stringify(next.arguments)}. Do you confirm (yes) that I should proceed?`;
    const confirmed = /^Yes, please go ahead/.test(lastUser) && !!lastAgent && !lastAgent.toolCalls?.length && lastAgent.content.includes(next.name);
    if (!confirmed) return { kind: 'prose', text: proposal };
  }
  let call: Omit<ToolCall, 'id'> = { name: next.name, args: structuredClone(next.arguments) };
  // The latest call, the last of its reply when a reply held several.
  const lastCall = [...request.messages].reverse().find((m) => m.role === 'assistant' && m.toolCalls?.length)?.toolCalls?.at(-1);
  if (lastCall && !isWrite(lastCall.name) && u('loop') < rates.loop) call = { name: lastCall.name, args: { ...lastCall.args } };
  else if (u('invalid') < rates.invalid) call = { name: call.name, args: corrupt(call.args) };
  if (u('format') < rates.format) return { kind: 'prose', text: `Let me use ${call.name} ${JSON.stringify(call.args)}` };
  return { kind: 'call', call };
}

/** A plausible wrong argument: an id with a digit changed (the tool answers "not found"). */
function corrupt(args: Record<string, unknown>): Record<string, unknown> {
  const out = { ...args };
  for (const k of ['order_id', 'user_id', 'product_id', 'item_id', 'email', 'zip']) {
    const v = out[k];
    if (typeof v === 'string' && /\d/.test(v)) {
      out[k] = v.replace(/\d(?=\D*$)/, (d) => String((Number(d) + 1) % 10));
      return out;
    }
  }
  return out;
}

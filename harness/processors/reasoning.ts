import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf, Message } from '../types';
import { actionsIn, describeCall, stateOf } from './observation-text';

/** Sub-goals of a task: the clauses of its "goal" sentence, else its sentences (at most 12). */
export function subGoals(instruction: string): string[] {
  const goal = /(?:my goal is to have that|goal:|you must|the goal is)\s*([\s\S]*?)(?:\.\s|\.$|\n)/i.exec(instruction)?.[1];
  const clauses = (goal ?? '').split(/,\s*(?:and\s+)?|\s+and\s+/).map((s) => s.trim()).filter((s) => s.length > 3);
  return clauses.slice(0, 12);
}

/** A sub-goal holds when every word of it that names something (not a stop word) appears in one state fact. */
function holds(goal: string, state: string): boolean {
  const words = goal.toLowerCase().replace(/^the\s+/, '').split(/\W+/).filter((w) => w.length > 2 && !['the', 'that', 'block', 'have', 'top', 'of'].includes(w));
  return state
    .toLowerCase()
    .split(';')
    .some((fact) => words.every((w) => fact.includes(w)));
}

export const todoTracking = defineProcessor({
  type: 'todo_tracking',
  dimension: 'control',
  description: 'Keeps a checklist of the task\'s sub-goals (the clauses of its goal) and, each step, shows which hold in the current state and which are still open, so the model works toward the open ones without undoing done ones.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'todo', order: 'normal', after: ['notes'] },
  params: z.object({ maxItems: z.number().int().min(1).max(30).default(12) }),
  create: ({ maxItems }) => {
    let items: string[] | null = null;
    return mapProcessor<EventOf<'before_model'>>((e, ctx) => {
      if (e.request.purpose !== 'act') return e;
      items ??= subGoals(ctx.task.instruction).slice(0, maxItems);
      if (!items.length) return e;
      const latest = [...e.request.messages].reverse().find((m) => (m.role === 'tool' || m.role === 'user') && stateOf(m.content));
      const state = latest ? stateOf(latest.content) ?? '' : '';
      const lines = items.map((g) => `[${state && holds(g, state) ? 'x' : ' '}] ${g}`);
      const open = lines.filter((l) => l.startsWith('[ ]')).length;
      const text = `Sub-goals (${items.length - open} of ${items.length} hold now):\n${lines.join('\n')}`;
      return { ...e, request: { ...e.request, parts: [...e.request.parts, { kind: 'todo', text, data: { open } }] } };
    });
  },
});

const VERIFY_PROMPT = 'You check an agent\'s final answer against its task. Reply "VERIFIED" if the answer satisfies the task, otherwise "MISSING: <what is wrong or missing, one line>".';

/**
 * Before a final answer counts: an after_model reply without a tool call (a final answer or a message that
 * closes a conversation) is checked by the judge model (the harness's judge role, else the main model);
 * when it finds something missing, the reply is replaced by one that says so, and the model's next turn
 * sees the finding as a context part instead of the episode ending on a wrong answer.
 */
export const selfVerify = defineProcessor({
  type: 'self_verify',
  dimension: 'control',
  description: 'Before a final answer (a reply without a tool call) is given, asks the judge model (the harness judge role, else the main model) whether it satisfies the task; if not, the answer is held back and the model is told what is missing, up to maxChecks times.',
  hooks: ['after_model'],
  meta: { singletonGroup: 'self_verify', order: 'post' },
  params: z.object({ maxChecks: z.number().int().min(1).max(5).default(1), minAnswerChars: z.number().int().min(1).max(10_000).default(1) }),
  create: ({ maxChecks, minAnswerChars }) => {
    let checks = 0;
    return mapProcessor<EventOf<'after_model'>>(async (e, ctx) => {
      const answer = e.response.text.trim();
      if (e.response.toolCalls.length || answer.length < minAnswerChars || checks >= maxChecks) return e;
      checks++;
      const judge = ctx.models?.judge ?? ctx.model;
      const verdict = await judge.generate({
        purpose: 'plan',
        messages: [
          { role: 'system', content: VERIFY_PROMPT },
          { role: 'user', content: `Task:\n${ctx.task.instruction}\n\nFinal answer:\n${answer}` },
        ],
        parts: [],
        tools: [],
      });
      const missing = /MISSING:\s*(.+)/i.exec(verdict.text)?.[1]?.trim();
      ctx.trace.note('self_verify', { step: e.step, verified: !missing, finding: missing ?? null });
      if (!missing) return e;
      // meta.heldBack: the run loop gives this text neither to the user nor as the task's answer.
      return { ...e, response: { ...e.response, text: `Before I answer, one check: ${missing}. Let me fix that first.`, meta: { ...e.response.meta, heldBack: 'self_verify' } } };
    });
  },
});

/** Phrases of giving in to a user's pushback rather than to evidence. */
const CAPITULATION = /\b(you'?re (absolutely )?right|i apologi[sz]e|my mistake|you are correct|sorry for the confusion|i (will|can) make an exception)\b/i;
const PUSHBACK = /\b(are you sure|that'?s (wrong|not right|incorrect)|i (insist|demand)|just do it|make an exception|you must|i was told)\b/i;

/** Whether the last exchange shows the agent yielding to pushback: the user pushed, the agent then agreed. */
export function capitulated(messages: Message[]): boolean {
  const lastAgent = [...messages].reverse().findIndex((m) => m.role === 'assistant' && !!m.content.trim());
  if (lastAgent === -1) return false;
  const at = messages.length - 1 - lastAgent;
  const before = messages.slice(0, at).reverse().find((m) => m.role === 'user');
  return !!before && PUSHBACK.test(before.content) && CAPITULATION.test(messages[at].content);
}

export const sycophancyGuard = defineProcessor({
  type: 'sycophancy_guard',
  dimension: 'control',
  description: 'In dialogue tasks, detects the agent giving in to a user\'s pushback ("you\'re right, I\'ll make an exception") and reminds it to hold to the policy and the facts it checked; when the user pushes back, reminds it before it replies.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'sycophancy', order: 'normal' },
  params: z.object({ remindOnPushback: z.boolean().default(true) }),
  create: ({ remindOnPushback }) =>
    mapProcessor<EventOf<'before_model'>>((e, ctx) => {
      if (e.request.purpose !== 'act') return e;
      const last = e.request.messages.at(-1);
      const yielded = capitulated(e.request.messages);
      const pushed = remindOnPushback && last?.role === 'user' && PUSHBACK.test(last.content);
      if (!yielded && !pushed) return e;
      ctx.trace.note('sycophancy', { yielded, pushed });
      const text = yielded
        ? 'You agreed with the user after they pushed back. Agree only with what the policy and the data you looked up support; if you conceded something they do not, correct it now.'
        : 'The user is pushing back. Re-check the policy and the data; change your answer only if they show you were wrong, never because the user insists.';
      return { ...e, request: { ...e.request, parts: [...e.request.parts, { kind: 'sycophancy', text }] } };
    }),
});

/** For tests and other processors: the calls a history shows, described. */
export const describedCalls = (messages: Message[]) => actionsIn(messages).map((a) => describeCall(a.name, a.args));

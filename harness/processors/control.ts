import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { ProcessorContext } from '../processor';
import type { EventOf, Message, ToolCall } from '../types';
import { actionsIn, describeCall, stateOf } from './observation-text';
import { parseActionText } from './parse-action';

export const stepBudget = defineProcessor({
  type: 'step_budget',
  dimension: 'control',
  description: 'Allows maxSteps steps: the episode ends (step_budget_exhausted) at the start of step maxSteps + 1, before the model is called, so maxSteps actions at most.',
  hooks: ['step_start'],
  meta: { singletonGroup: 'step_budget', order: 'pre' },
  params: z.object({ maxSteps: z.number().int().min(1).max(500).default(14) }),
  create: ({ maxSteps }) =>
    mapProcessor<EventOf<'step_start'>>((e) =>
      e.step > maxSteps ? { interrupt: true, reason: 'step_budget_exhausted' } : e,
    ),
});

export const loopDetection = defineProcessor({
  type: 'loop_detection',
  dimension: 'control',
  description: 'Tracks visited states; warns the model when it returns to one it has already been in.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'loop_detection', order: 'normal' },
  params: z.object({ warnAfterRepeats: z.number().int().min(1).max(10).default(1) }),
  create: ({ warnAfterRepeats }) => {
    const visits = new Map<string, number>();
    const seenCalls = new Set<string>();
    let lastState: string | null = null;
    return mapProcessor<EventOf<'before_model'>>((e) => {
      if (e.request.purpose !== 'act') return e;
      for (const m of e.request.messages) {
        if (m.role !== 'tool' || !m.toolCallId || seenCalls.has(m.toolCallId)) continue;
        seenCalls.add(m.toolCallId);
        const state = stateOf(m.content);
        if (state && !m.isError) {
          visits.set(state, (visits.get(state) ?? 0) + 1);
          lastState = state;
        }
      }
      const parts = [...e.request.parts];
      parts.push({ kind: 'visited_states', text: `You have been in ${visits.size} distinct states; do not return to earlier ones.`, data: visits.size });
      if (lastState && (visits.get(lastState) ?? 0) > warnAfterRepeats) {
        parts.push({
          kind: 'loop_warning',
          text: 'Warning: you are back in a state you were in before. Do not undo your last action; choose one that makes progress toward the goal.',
        });
      }
      return { ...e, request: { ...e.request, parts } };
    });
  },
});

export const formatRepair = defineProcessor({
  type: 'format_repair',
  dimension: 'control',
  description: 'When a reply has no tool call, recovers one from its text (function syntax or tool phrases).',
  hooks: ['after_model'],
  meta: { singletonGroup: 'format_repair', order: 'pre' },
  params: z.object({}),
  create: () =>
    mapProcessor<EventOf<'after_model'>>((e, ctx) => {
      if (e.response.toolCalls.length > 0 || !e.response.text.trim()) return e;
      const call = parseActionText(e.response.text, ctx.env.tools(), `repair-${e.step}`);
      if (!call) return e;
      ctx.trace.note('format_repair', { step: e.step, recovered: describeCall(call.name, call.args) });
      return { ...e, response: { ...e.response, toolCalls: [call] } };
    }),
});

const PLANNING_PROMPT =
  'Write a complete plan for the task below: one action per line, in order, between [PLAN] and [PLAN END], using the tool phrases. No commentary.';

export const planThenAct = defineProcessor({
  type: 'plan_then_act',
  dimension: 'control',
  description: 'Asks the model for a full plan first, then shows the next planned step each turn; re-plans on deviation.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'planner', order: 'normal', after: ['notes'] },
  params: z.object({ maxReplans: z.number().int().min(0).max(10).default(2) }),
  create: ({ maxReplans }) => {
    let steps: ToolCall[] | null = null;
    let next = 0;
    let replans = 0;
    const seen = new Set<string>();

    async function makePlan(messages: Message[], ctx: ProcessorContext): Promise<void> {
      const latest = [...messages].reverse().find((m) => (m.role === 'tool' || m.role === 'user') && stateOf(m.content));
      const response = await ctx.model.generate({
        purpose: 'plan',
        messages: [
          { role: 'system', content: PLANNING_PROMPT },
          { role: 'user', content: [messages.find((m) => m.role === 'user')?.content ?? ctx.task.instruction, latest?.content ?? ''].join('\n\n') },
        ],
        parts: [],
        tools: ctx.env.tools(),
      });
      const body = /\[PLAN\]([\s\S]*?)(\[PLAN END\]|$)/.exec(response.text)?.[1] ?? response.text;
      steps = body
        .split('\n')
        .map((line, i) => parseActionText(line, ctx.env.tools(), `plan-${i}`))
        .filter((c): c is ToolCall => c !== null);
      next = 0;
      ctx.trace.note('plan', { steps: steps.map((s) => describeCall(s.name, s.args)) });
    }

    return mapProcessor<EventOf<'before_model'>>(async (e, ctx) => {
      if (e.request.purpose !== 'act') return e;
      let deviated = false;
      for (const a of actionsIn(e.request.messages)) {
        if (seen.has(a.id)) continue;
        seen.add(a.id);
        if (!steps) continue;
        const planned = steps[next];
        const matches = planned && planned.name === a.name && sameArgs(planned.args, a.args);
        if (a.ok && matches) next++;
        else if (/transient/i.test(a.output)) continue;
        else deviated = true;
      }
      if (!steps) await makePlan(e.request.messages, ctx);
      else if ((deviated || next >= steps.length) && replans < maxReplans) {
        replans++;
        await makePlan(e.request.messages, ctx);
      }
      const plan = steps ?? [];
      const listing = plan.map((s, i) => `${i + 1}. ${describeCall(s.name, s.args)}${i < next ? ' (done)' : ''}`).join('\n');
      const nextStep = plan[next];
      const text = `Plan:\n${listing}\nNext step: ${nextStep ? describeCall(nextStep.name, nextStep.args) : 'the plan is complete; check the goal'}`;
      return {
        ...e,
        request: { ...e.request, parts: [...e.request.parts, { kind: 'plan', text, data: { steps: plan, next } }] },
      };
    });
  },
});

function sameArgs(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => String(a[k] ?? '').toLowerCase() === String(b[k] ?? '').toLowerCase());
}

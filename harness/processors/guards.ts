import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf } from '../types';
import { actionsIn, describeCall } from './observation-text';

/**
 * Guards: processors that watch what an episode spends or repeats and stop or steer it. Each keeps its
 * counts in the instance (one episode), so none needs the history to survive compaction.
 */

/** Tokens the episode's act calls have used so far, read from the replies after_model sees. */
export const tokenBudget = defineProcessor({
  type: 'token_budget',
  dimension: 'control',
  description: 'Ends the episode (token_budget_exhausted) at the next step start once the model calls of this episode have used maxTokens input+output tokens; at warnAt of the budget it writes a warning to the trace (the model is not told).',
  hooks: ['after_model'],
  meta: { singletonGroup: 'token_budget', order: 'post' },
  params: z.object({ maxTokens: z.number().int().min(100).max(10_000_000).default(200_000), warnAt: z.number().min(0.1).max(1).default(0.8) }),
  create: ({ maxTokens, warnAt }) => {
    let used = 0;
    return mapProcessor<EventOf<'after_model'>>((e, ctx) => {
      used += e.response.usage.inputTokens + e.response.usage.outputTokens;
      if (used >= maxTokens) {
        ctx.trace.note('token_budget', { used, maxTokens });
        return { interrupt: true, reason: 'token_budget_exhausted' };
      }
      if (used >= warnAt * maxTokens) ctx.trace.note('token_budget_warning', { used, maxTokens });
      return e;
    });
  },
});

/** USD per million tokens, input and output; defaults are a mid-priced hosted model. */
export const costGuard = defineProcessor({
  type: 'cost_guard',
  dimension: 'control',
  description: 'Ends the episode (cost_limit_reached) once its model calls cost maxUsd at the given per-million-token prices.',
  hooks: ['after_model'],
  meta: { singletonGroup: 'cost_guard', order: 'post' },
  params: z.object({
    maxUsd: z.number().positive().max(1000).default(0.5),
    inputUsdPerMTok: z.number().min(0).max(1000).default(3),
    outputUsdPerMTok: z.number().min(0).max(1000).default(15),
  }),
  create: ({ maxUsd, inputUsdPerMTok, outputUsdPerMTok }) => {
    let usd = 0;
    return mapProcessor<EventOf<'after_model'>>((e, ctx) => {
      usd += (e.response.usage.inputTokens * inputUsdPerMTok + e.response.usage.outputTokens * outputUsdPerMTok) / 1e6;
      if (usd < maxUsd) return e;
      ctx.trace.note('cost_guard', { usd, maxUsd });
      return { interrupt: true, reason: 'cost_limit_reached' };
    });
  },
});

const callKey = (name: string, args: Record<string, unknown>) => `${name}${JSON.stringify(Object.entries(args).sort(([a], [b]) => (a < b ? -1 : 1)))}`;

export const repeatedAction = defineProcessor({
  type: 'repeated_action',
  dimension: 'control',
  description: 'Detects the same tool call (name and arguments) made maxRepeats times in a row and tells the model to change course; interrupts after stopAfter repeats when stopAfter > 0.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'repeated_action', order: 'normal' },
  params: z.object({ maxRepeats: z.number().int().min(2).max(20).default(2), stopAfter: z.number().int().min(0).max(50).default(0) }),
  create: ({ maxRepeats, stopAfter }) =>
    mapProcessor<EventOf<'before_model'>>((e, ctx) => {
      if (e.request.purpose !== 'act') return e;
      const actions = actionsIn(e.request.messages);
      const last = actions.at(-1);
      if (!last) return e;
      let run = 0;
      for (let i = actions.length - 1; i >= 0 && callKey(actions[i].name, actions[i].args) === callKey(last.name, last.args); i--) run++;
      if (stopAfter > 0 && run >= stopAfter) return { interrupt: true, reason: 'repeated_action' };
      if (run < maxRepeats) return e;
      ctx.trace.note('repeated_action', { call: describeCall(last.name, last.args), times: run });
      const text = `You have made the same call ${describeCall(last.name, last.args)} ${run} times in a row${last.ok ? '' : ', and it failed'}. Repeating it will not change the result: choose a different action.`;
      return { ...e, request: { ...e.request, parts: [...e.request.parts, { kind: 'repeated_action', text, data: { times: run } }] } };
    }),
});

/**
 * Watches tool results (after_tool sees every call and its result): a call that failed identically before
 * gets its result annotated so the model switches strategy instead of spending steps; a tool failing
 * repeatedly with different arguments gets a hint to re-read its parameters; transient faults back off
 * (they are the tool's, not the model's). stopAfter > 0 ends the episode when one call keeps failing.
 */
export const toolFailureGuard = defineProcessor({
  type: 'tool_failure_guard',
  dimension: 'tools',
  description: 'After a tool call fails identically maxFailures times, tells the model in the result that repeating it will not help and to switch strategy; flags a tool failing repeatedly with varied arguments; optionally ends the episode (stopAfter identical failures). Transient failures are not counted.',
  hooks: ['after_tool'],
  meta: { singletonGroup: 'tool_failure_guard', order: 'post', after: ['tool_retry'] },
  params: z.object({ maxFailures: z.number().int().min(1).max(10).default(2), stopAfter: z.number().int().min(0).max(50).default(0) }),
  create: ({ maxFailures, stopAfter }) => {
    const byCall = new Map<string, number>();
    const byTool = new Map<string, number>();
    return mapProcessor<EventOf<'after_tool'>>((e, ctx) => {
      if (e.result.ok || e.result.errorKind === 'transient') return e;
      const key = callKey(e.call.name, e.call.args);
      const same = (byCall.get(key) ?? 0) + 1;
      const tool = (byTool.get(e.call.name) ?? 0) + 1;
      byCall.set(key, same);
      byTool.set(e.call.name, tool);
      if (stopAfter > 0 && same >= stopAfter) return { interrupt: true, reason: 'repeated_tool_failure' };
      const advice: string[] = [];
      if (same >= maxFailures) advice.push(`This exact call has now failed ${same} times; repeating it will not change the result. Switch strategy: take a different action first, or change the arguments.`);
      else if (tool >= maxFailures + 1) advice.push(`${e.call.name} has failed ${tool} times with different arguments; re-read its parameters and the current state before calling it again.`);
      if (!advice.length) return e;
      ctx.trace.note('tool_failure_guard', { call: describeCall(e.call.name, e.call.args), same, tool });
      // Before the output: environments end it with the state, which other processors parse from the end.
      return { ...e, result: { ...e.result, output: `[harness] ${advice.join(' ')}\n${e.result.output}` } };
    });
  },
});

import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf, Message } from '../types';

/** Characters per token, for the context estimate (no tokenizer in the harness). */
const CHARS_PER_TOKEN = 4;
const sizeOf = (history: Message[]) => Math.ceil(history.reduce((n, m) => n + m.content.length + JSON.stringify(m.toolCalls ?? []).length, 0) / CHARS_PER_TOKEN);

/**
 * Context compaction: when the history nears the model's context (threshold × contextTokens), the turns
 * between the task message and the last keepLast messages are summarised by a model — the harness's
 * evaluator role when it has one (the summariser), else the main model — into one user message. The cut
 * falls on whole turns, so no tool result loses its call; a summariser reply that is empty leaves the
 * history as it was (the episode goes on uncompacted rather than losing turns unsummarised).
 */
export const contextCompaction = defineProcessor({
  type: 'context_compaction',
  dimension: 'memory',
  description: 'When the history nears the model\'s context (threshold of contextTokens, estimated at 4 chars/token), summarises the older turns with the summariser model (the harness evaluator role, else the main model) into one message, keeping the task message and the last keepLast messages.',
  hooks: ['step_start'],
  meta: { singletonGroup: 'history_window', order: 'normal' },
  params: z.object({
    contextTokens: z.number().int().min(500).max(2_000_000).default(32_000),
    threshold: z.number().min(0.1).max(1).default(0.7),
    keepLast: z.number().int().min(2).max(200).default(6),
  }),
  create: ({ contextTokens, threshold, keepLast }) =>
    mapProcessor<EventOf<'step_start'>>(async (e, ctx) => {
      if (sizeOf(e.history) < threshold * contextTokens || e.history.length <= keepLast + 2) return e;
      let start = e.history.length - keepLast;
      while (start < e.history.length && e.history[start].role === 'tool') start++;
      const older = e.history.slice(1, start);
      if (!older.length) return e;
      const summariser = ctx.models?.evaluator ?? ctx.model;
      const reply = await summariser.generate({
        purpose: 'summarize',
        messages: [
          { role: 'system', content: 'Summarise the agent\'s progress so far for the agent itself: what it did, what worked, what failed and why, and the facts it learned that it still needs. Plain text, under 200 words.' },
          { role: 'user', content: older.map((m) => `${m.role}${m.toolCalls?.length ? ` called ${m.toolCalls.map((c) => `${c.name} ${JSON.stringify(c.args)}`).join(', ')}` : ''}: ${m.content}`).join('\n') },
        ],
        parts: [],
        tools: [],
      });
      const summary = reply.text.trim();
      ctx.trace.note('context_compaction', { step: e.step, summarisedMessages: older.length, tokensBefore: sizeOf(e.history), summarised: !!summary });
      if (!summary) return e;
      return { ...e, history: [e.history[0], { role: 'user', content: `Summary of the earlier steps: ${summary}` }, ...e.history.slice(start)] };
    }),
});

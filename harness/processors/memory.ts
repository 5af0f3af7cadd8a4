import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf, Message } from '../types';
import { actionsIn, describeCall } from './observation-text';

/** Drops whole turns from the front (after the first user message) so no tool result loses its call. */
function keepTail(history: Message[], keepLast: number): Message[] {
  if (history.length <= keepLast + 1) return history;
  let start = history.length - keepLast;
  while (start < history.length && history[start].role === 'tool') start++;
  return [history[0], ...history.slice(start)];
}

export const slidingWindow = defineProcessor({
  type: 'sliding_window',
  dimension: 'memory',
  description: 'Keeps the task message and the last N messages of the history.',
  hooks: ['step_start'],
  meta: { singletonGroup: 'history_window', order: 'normal' },
  params: z.object({ keepLast: z.number().int().min(2).max(1000).default(12) }),
  create: ({ keepLast }) =>
    mapProcessor<EventOf<'step_start'>>((e) => ({ ...e, history: keepTail(e.history, keepLast) })),
});

export const episodeSummary = defineProcessor({
  type: 'episode_summary',
  dimension: 'memory',
  description: 'Past a length threshold, replaces older turns with a one-message summary of what was done.',
  hooks: ['step_start'],
  meta: { singletonGroup: 'history_window', order: 'normal' },
  params: z.object({
    threshold: z.number().int().min(4).max(1000).default(16),
    keepLast: z.number().int().min(2).max(1000).default(6),
  }),
  create: ({ threshold, keepLast }) =>
    mapProcessor<EventOf<'step_start'>>((e) => {
      if (e.history.length <= threshold) return e;
      const tail = keepTail(e.history, keepLast);
      const dropped = e.history.slice(1, e.history.length - (tail.length - 1));
      const actions = actionsIn(dropped);
      const done = actions.filter((a) => a.ok).map((a) => describeCall(a.name, a.args));
      const failed = actions.filter((a) => !a.ok).length;
      const summary: Message = {
        role: 'user',
        content: `Summary of earlier steps: ${done.length} actions succeeded (${done.join('; ') || 'none'}); ${failed} failed.`,
      };
      return { ...e, history: [tail[0], summary, ...tail.slice(1)] };
    }),
});

export const notes = defineProcessor({
  type: 'notes',
  dimension: 'memory',
  description: 'A scratchpad of the actions completed so far, attached to every model request.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'notes', order: 'normal' },
  params: z.object({ maxNotes: z.number().int().min(1).max(200).default(30) }),
  create: ({ maxNotes }) => {
    // Kept across steps so notes survive history compaction.
    const completed: string[] = [];
    const seen = new Set<string>();
    return mapProcessor<EventOf<'before_model'>>((e) => {
      if (e.request.purpose !== 'act') return e;
      for (const a of actionsIn(e.request.messages)) {
        if (seen.has(a.id)) continue;
        seen.add(a.id);
        if (a.ok) completed.push(describeCall(a.name, a.args));
      }
      const shown = completed.slice(-maxNotes);
      const text = `Notes: actions completed so far, in order: ${shown.join('; ') || 'none yet'}.`;
      return { ...e, request: { ...e.request, parts: [...e.request.parts, { kind: 'notes', text, data: shown }] } };
    });
  },
});

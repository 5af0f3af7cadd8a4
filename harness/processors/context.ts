import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf } from '../types';
import { STATE_MARKER } from './observation-text';

export const systemPrompt = defineProcessor({
  type: 'system_prompt',
  dimension: 'context',
  description: 'Sets the system prompt from a template; {tools} expands to the tool names.',
  hooks: ['task_start'],
  meta: { singletonGroup: 'system_prompt', order: 'pre' },
  params: z.object({
    template: z.string().min(1).default('You are an agent. Solve the task you are given by calling the tools.'),
  }),
  create: ({ template }) =>
    mapProcessor<EventOf<'task_start'>>((e) => ({
      ...e,
      systemPrompt: template.replaceAll('{tools}', e.tools.map((t) => t.name).join(', ')),
    })),
});

export const observationFormat = defineProcessor({
  type: 'observation_format',
  dimension: 'context',
  description: 'Renders the state part of each tool result as one fact per line.',
  hooks: ['after_tool'],
  meta: { singletonGroup: 'observation_format', order: 'normal' },
  params: z.object({ style: z.enum(['bullets', 'numbered']).default('bullets') }),
  create: ({ style }) =>
    mapProcessor<EventOf<'after_tool'>>((e) => {
      const at = e.result.output.lastIndexOf(STATE_MARKER);
      if (at === -1) return e;
      const facts = e.result.output
        .slice(at + STATE_MARKER.length)
        .split(/,\s*(?:and\s+)?|\s+and\s+/)
        .map((s) => s.trim().replace(/\.$/, ''))
        .filter(Boolean);
      const lines = facts.map((f, i) => (style === 'bullets' ? `- ${f}` : `${i + 1}. ${f}`));
      return { ...e, result: { ...e.result, output: `${e.result.output.slice(0, at)}${STATE_MARKER}\n${lines.join('\n')}` } };
    }),
});

export const admissibleActions = defineProcessor({
  type: 'admissible_actions',
  dimension: 'context',
  description: 'Attaches the actions that are valid in the current state, when the environment offers them.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'admissible_actions', order: 'normal' },
  params: z.object({ maxListed: z.number().int().min(1).max(500).default(60) }),
  create: ({ maxListed }) =>
    mapProcessor<EventOf<'before_model'>>((e, ctx) => {
      if (e.request.purpose !== 'act') return e;
      const actions = ctx.env.admissibleActions();
      if (!actions) return e;
      const listed = actions.slice(0, maxListed);
      const text = `Valid actions now: ${listed.join('; ')}${actions.length > listed.length ? '; …' : ''}`;
      return { ...e, request: { ...e.request, parts: [...e.request.parts, { kind: 'admissible_actions', text, data: listed }] } };
    }),
});

const DEFAULT_EXAMPLES = [
  'Example turn: the state shows the hand is empty and a block X is clear and on the table. A good reply is one tool call, e.g. pick_up with {"block": "X"}, and nothing else.',
  'Example turn: an action failed. Read the error, re-read the current state, and choose a different valid action.',
];

export const fewShot = defineProcessor({
  type: 'few_shot',
  dimension: 'context',
  description: 'Appends worked examples of good turns to the system prompt.',
  hooks: ['task_start'],
  meta: { singletonGroup: 'few_shot', order: 'normal', after: ['system_prompt'] },
  params: z.object({ examples: z.array(z.string().min(1)).min(1).max(20).default(DEFAULT_EXAMPLES) }),
  create: ({ examples }) =>
    mapProcessor<EventOf<'task_start'>>((e) => ({
      ...e,
      systemPrompt: `${e.systemPrompt}\n\n${examples.map((x, i) => `Example ${i + 1}: ${x}`).join('\n')}`,
    })),
});

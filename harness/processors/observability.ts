import { z } from 'zod';
import { defineProcessor } from '../processor';

export const tracer = defineProcessor({
  type: 'tracer',
  dimension: 'observability',
  description: 'Adds a per-step record (observation excerpt, done flag) to the episode trace.',
  hooks: ['step_end'],
  meta: { singletonGroup: 'tracer', order: 'post' },
  params: z.object({ excerptChars: z.number().int().min(0).max(10000).default(240) }),
  create: ({ excerptChars }) => ({
    async *process(event, ctx) {
      if (event.hook === 'step_end')
        ctx.trace.note('step', { step: event.step, done: event.done, observation: event.observation.slice(0, excerptChars) });
      yield event;
    },
  }),
});

import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf } from '../types';
import { actionsIn } from './observation-text';

const ROLE = z.enum(['main', 'judge', 'evaluator']);

/**
 * A model router: each act step goes to one of the harness's model roles by rule — a stronger role once
 * the episode has failed calls or a large context, a cheaper one for the first steps. It sets
 * request.route; the run loop sends the request to that role when the harness config names it and to the
 * main model otherwise, so a router never fails a harness that lacks the role.
 */
export const modelRouter = defineProcessor({
  type: 'model_router',
  dimension: 'control',
  description: 'Routes each act step to a model role of the harness (main, judge, evaluator) by rule: escalateTo after escalateAfterFailures failed tool calls or past contextChars of conversation, else firstSteps steps on cheapRole, else main. A role the harness config lacks falls back to main.',
  hooks: ['before_model'],
  meta: { singletonGroup: 'model_router', order: 'post' },
  params: z.object({
    escalateTo: ROLE.default('judge'),
    escalateAfterFailures: z.number().int().min(1).max(50).default(2),
    contextChars: z.number().int().min(1000).max(10_000_000).default(60_000),
    cheapRole: ROLE.default('main'),
    firstSteps: z.number().int().min(0).max(100).default(0),
  }),
  create: ({ escalateTo, escalateAfterFailures, contextChars, cheapRole, firstSteps }) =>
    mapProcessor<EventOf<'before_model'>>((e, ctx) => {
      if (e.request.purpose !== 'act') return e;
      const failures = actionsIn(e.request.messages).filter((a) => !a.ok).length;
      const chars = e.request.messages.reduce((n, m) => n + m.content.length, 0);
      const route = failures >= escalateAfterFailures || chars > contextChars ? escalateTo : e.step <= firstSteps ? cheapRole : 'main';
      if (route === (e.request.route ?? 'main')) return e;
      ctx.trace.note('model_router', { step: e.step, route, failures, chars });
      return { ...e, request: { ...e.request, route } };
    }),
});

import { z } from 'zod';
import { defineProcessor } from '../processor';
import type { ProcessorInstance } from '../processor';
import type { HookEvent } from '../types';

/**
 * Observability that scores an episode while it runs: an LLM judge at the end, a process reward per step,
 * and checkpoint/episode metrics. They only write trace notes (step_end and task_end are read-only), so
 * they never change what the agent does: the gate cannot ship them for a gain, only keep them for insight.
 */

const score = (text: string): number | null => {
  const m = /(?:score|rating)?\s*[:=]?\s*(-?\d+(?:\.\d+)?)/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? Math.max(0, Math.min(10, n)) : null;
};

/** A processor that notes something on its hook and always passes the event on. */
function observer(fn: (event: HookEvent, ctx: Parameters<ProcessorInstance['process']>[1]) => Promise<void> | void): ProcessorInstance {
  return {
    async *process(event, ctx) {
      await fn(event, ctx);
      yield event;
    },
  };
}

export const llmJudge = defineProcessor({
  type: 'llm_judge',
  dimension: 'observability',
  description: 'At task end, asks the judge model (the harness judge role, else the main model) to score the episode 0-10 against the task and its outcome; writes the score and reason to the trace (observability: changes nothing the agent does).',
  hooks: ['task_end'],
  meta: { singletonGroup: 'llm_judge', order: 'post' },
  params: z.object({}),
  create: () =>
    observer(async (event, ctx) => {
      if (event.hook !== 'task_end') return;
      const judge = ctx.models?.judge ?? ctx.model;
      const reply = await judge.generate({
        purpose: 'plan',
        messages: [
          { role: 'system', content: 'Score how well an agent did its task, 0 (nothing) to 10 (fully done). Reply "SCORE: <n>" then one line of reason.' },
          { role: 'user', content: `Task:\n${ctx.task.instruction}\n\nOutcome: ${event.success ? 'succeeded' : `did not succeed (${event.reason})`} after ${event.steps} steps.` },
        ],
        parts: [],
        tools: [],
      });
      ctx.trace.note('llm_judge', { score: score(reply.text), reason: reply.text.split('\n').slice(1).join(' ').trim().slice(0, 400), success: event.success });
    }),
});

export const processReward = defineProcessor({
  type: 'process_reward',
  dimension: 'observability',
  description: 'After each step, scores the step\'s progress toward the goal 0-10 with the judge model (mode "model") or by rule (mode "rule": 10 when the environment is done, 0 for an error observation, 5 otherwise); writes each score to the trace.',
  hooks: ['step_end'],
  meta: { singletonGroup: 'process_reward', order: 'post' },
  params: z.object({ mode: z.enum(['rule', 'model']).default('rule') }),
  create: ({ mode }) =>
    observer(async (event, ctx) => {
      if (event.hook !== 'step_end') return;
      let value: number | null;
      if (mode === 'rule') value = event.done ? 10 : /\b(error|not|cannot|invalid|failed)\b/i.test(event.observation.split('\n')[0]) ? 0 : 5;
      else {
        const reply = await (ctx.models?.judge ?? ctx.model).generate({
          purpose: 'plan',
          messages: [
            { role: 'system', content: 'Rate how much this step moved the agent toward its goal, 0 (backwards or wasted) to 10 (goal reached). Reply "SCORE: <n>".' },
            { role: 'user', content: `Task:\n${ctx.task.instruction}\n\nStep ${event.step} observation:\n${event.observation}` },
          ],
          parts: [],
          tools: [],
        });
        value = score(reply.text);
      }
      ctx.trace.note('process_reward', { step: event.step, score: value, mode });
    }),
});

export const episodeMetrics = defineProcessor({
  type: 'episode_metrics',
  dimension: 'observability',
  description: 'Writes a checkpoint to the trace every checkpointEvery steps (steps so far, failed observations, observation size).',
  hooks: ['step_end'],
  meta: { singletonGroup: 'episode_metrics', order: 'post' },
  params: z.object({ checkpointEvery: z.number().int().min(1).max(100).default(5) }),
  create: ({ checkpointEvery }) => {
    let failed = 0;
    let chars = 0;
    return observer((event, ctx) => {
      if (event.hook !== 'step_end') return;
      chars += event.observation.length;
      if (/\b(error|rejected|not|cannot|invalid|failed)\b/i.test(event.observation.split('\n')[0])) failed++;
      if (event.step % checkpointEvery === 0 || event.done) ctx.trace.note('checkpoint', { step: event.step, done: event.done, failedObservations: failed, observationChars: chars });
    });
  },
});

import { z } from 'zod';
import { defineProcessor } from '../processor';
import type { ProcessorContext, ProcessorInstance } from '../processor';
import type { HookEvent } from '../types';

/** Lowercase words of 4+ letters: what retrieval matches a lesson to a task by. */
const words = (text: string) => new Set(text.toLowerCase().match(/[a-z]{4,}/g) ?? []);

/** The lessons most relevant to a task: by words shared with its instruction, most recent first on ties. */
export function relevantLessons(lessons: string[], instruction: string, max: number): string[] {
  const wanted = words(instruction);
  return lessons
    .map((lesson, i) => ({ lesson, i, overlap: [...words(lesson)].filter((w) => wanted.has(w)).length }))
    .sort((a, b) => b.overlap - a.overlap || b.i - a.i)
    .slice(0, max)
    .map((x) => x.lesson);
}

/**
 * Memory across episodes. At task_start, the lessons the store holds for this harness and suite that
 * are most relevant to the task are added to the system prompt. At task_end, a lesson is extracted from
 * the finished episode (by the model when extractWithModel, else by rule from the outcome) and stored. The
 * store is the run's (ctx.memory, the artifact store, keyed by harness and suite); without one it does
 * nothing, so the processor is safe in smoke tests. Attach it at task_start to read and at task_end to write.
 */
export const episodicMemory = defineProcessor({
  type: 'episodic_memory',
  dimension: 'memory',
  description: 'Across episodes: at task_start adds up to maxLessons lessons from earlier episodes of this harness and suite (the artifact store), chosen by relevance to the task, to the system prompt; at task_end stores a lesson from the finished episode (model-extracted when extractWithModel). Attach at both hooks to read and write.',
  hooks: ['task_start', 'task_end'],
  meta: { order: 'post', after: ['system_prompt', 'few_shot', 'tool_docs'] },
  params: z.object({ maxLessons: z.number().int().min(1).max(20).default(5), extractWithModel: z.boolean().default(false) }),
  create: ({ maxLessons, extractWithModel }): ProcessorInstance => ({
    async *process(event: HookEvent, ctx: ProcessorContext) {
      if (event.hook === 'task_start' && ctx.memory) {
        const lessons = relevantLessons(await ctx.memory.recall(), ctx.task.instruction, maxLessons);
        ctx.trace.note('memory_recall', { lessons: lessons.length });
        yield lessons.length ? { ...event, systemPrompt: `${event.systemPrompt}\n\nLessons from earlier episodes of this kind of task:\n${lessons.map((l) => `- ${l}`).join('\n')}` } : event;
        return;
      }
      if (event.hook === 'task_end' && ctx.memory) {
        let lesson = `${event.success ? 'Succeeded' : `Failed (${event.reason})`} in ${event.steps} steps on: ${ctx.task.instruction.slice(-200).replace(/\s+/g, ' ')}`;
        if (extractWithModel) {
          const reply = await ctx.model.generate({
            purpose: 'summarize',
            messages: [
              { role: 'system', content: 'State one reusable lesson (one sentence) for solving tasks like this one next time, from how this episode went. No task-specific ids or values.' },
              { role: 'user', content: `Task:\n${ctx.task.instruction}\n\nOutcome: ${event.success ? 'succeeded' : `failed (${event.reason})`} after ${event.steps} steps.` },
            ],
            parts: [],
            tools: [],
          });
          if (reply.text.trim()) lesson = reply.text.trim().split('\n')[0].slice(0, 400);
        }
        await ctx.memory.remember([lesson]);
        ctx.trace.note('memory_store', { lesson });
      }
      yield event;
    },
  }),
});

/** An in-process memory (tests, a single run without a store): lessons kept in an array. */
export function inMemoryEpisodeMemory(initial: string[] = [], cap = 200) {
  const lessons = [...initial];
  return {
    lessons,
    async recall() {
      return [...lessons];
    },
    async remember(more: string[]) {
      lessons.push(...more);
      lessons.splice(0, Math.max(0, lessons.length - cap));
    },
  };
}

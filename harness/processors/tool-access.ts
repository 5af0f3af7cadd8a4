import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf } from '../types';

/**
 * Which tools the model is shown and may call. The tool list a provider sends is the environment's (a
 * before_model processor may not change request.tools), so the filter works where the contract lets it:
 * it documents the allowed tools at task_start and rejects other calls at before_tool.
 */
export const toolWhitelist = defineProcessor({
  type: 'tool_whitelist',
  dimension: 'tools',
  description: 'Rejects calls to tools not in allow (when allow is non-empty) or in deny, with a reason listing the allowed tools; the call does not run.',
  hooks: ['before_tool'],
  meta: { singletonGroup: 'tool_whitelist', order: 'pre' },
  params: z.object({ allow: z.array(z.string().min(1)).max(100).default([]), deny: z.array(z.string().min(1)).max(100).default([]) }),
  create: ({ allow, deny }) =>
    mapProcessor<EventOf<'before_tool'>>((e, ctx) => {
      const allowed = (name: string) => (!allow.length || allow.includes(name)) && !deny.includes(name);
      if (allowed(e.call.name)) return e;
      const names = ctx.env.tools().map((t) => t.name).filter(allowed);
      return { ...e, approved: false, rejection: `tool "${e.call.name}" is not allowed in this harness; allowed: ${names.join(', ') || 'none'}` };
    }),
});

export const toolFilter = defineProcessor({
  type: 'tool_filter',
  dimension: 'tools',
  description: 'Tells the model at task start which tools to use (those matching include, minus exclude; names or substrings) and which to leave alone, so a long tool list does not distract it; pair with tool_whitelist to enforce it.',
  hooks: ['task_start'],
  meta: { singletonGroup: 'tool_filter', order: 'normal', after: ['system_prompt', 'tool_docs'] },
  params: z.object({ include: z.array(z.string().min(1)).max(100).default([]), exclude: z.array(z.string().min(1)).max(100).default([]) }),
  create: ({ include, exclude }) =>
    mapProcessor<EventOf<'task_start'>>((e) => {
      const matches = (name: string, patterns: string[]) => patterns.some((p) => name === p || name.includes(p));
      const kept = e.tools.filter((t) => (!include.length || matches(t.name, include)) && !matches(t.name, exclude)).map((t) => t.name);
      const dropped = e.tools.map((t) => t.name).filter((n) => !kept.includes(n));
      if (!dropped.length) return e;
      return { ...e, systemPrompt: `${e.systemPrompt}\n\nUse only these tools: ${kept.join(', ') || 'none'}. Do not call: ${dropped.join(', ')}.` };
    }),
});

/**
 * Skills: instruction files a suite declares (suite.json "skills", read by the suite loader and handed to
 * the episode as ctx.skills). The processor adds the named ones, or all, to the system prompt; a name the
 * suite does not declare is skipped and noted, so a harness evolved on one suite runs on another.
 */
export const skillLoader = defineProcessor({
  type: 'skill_loader',
  dimension: 'context',
  description: 'Adds skill files the suite declares (by name; empty = all) to the system prompt at task start, up to maxChars in all.',
  hooks: ['task_start'],
  meta: { singletonGroup: 'skill_loader', order: 'normal', after: ['system_prompt'] },
  params: z.object({ skills: z.array(z.string().min(1)).max(50).default([]), maxChars: z.number().int().min(100).max(200_000).default(20_000) }),
  create: ({ skills, maxChars }) =>
    mapProcessor<EventOf<'task_start'>>((e, ctx) => {
      const declared = ctx.skills ?? {};
      const names = skills.length ? skills : Object.keys(declared).sort();
      const missing = names.filter((n) => !(n in declared));
      if (missing.length) ctx.trace.note('skill_loader', { missing });
      const text = names.filter((n) => n in declared).map((n) => `## Skill: ${n}\n${declared[n]}`).join('\n\n').slice(0, maxChars);
      return text ? { ...e, systemPrompt: `${e.systemPrompt}\n\n${text}` } : e;
    }),
});

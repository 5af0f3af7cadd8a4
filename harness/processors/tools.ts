import { z } from 'zod';
import { boundedMemo } from '../bounded-memo';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf, ToolSpec } from '../types';

export const toolDocs = defineProcessor({
  type: 'tool_docs',
  dimension: 'tools',
  description: 'Documents each tool (purpose, parameters, allowed values) in the system prompt.',
  hooks: ['task_start'],
  meta: { singletonGroup: 'tool_docs', order: 'normal', after: ['system_prompt'] },
  params: z.object({ header: z.string().default('Tools (call exactly one per turn):') }),
  create: ({ header }) =>
    mapProcessor<EventOf<'task_start'>>((e) => ({
      ...e,
      systemPrompt: `${e.systemPrompt}\n\n${header}\n${e.tools.map(renderTool).join('\n')}`,
    })),
});

function renderTool(tool: ToolSpec): string {
  const params = Object.entries(tool.parameters)
    .map(([name, p]) => `${name}: ${p.description}${p.enum ? ` (one of ${p.enum.join(', ')})` : ''}`)
    .join('; ');
  return `- ${tool.name}: ${tool.description} Parameters: ${params || 'none'}.`;
}

const KEY_ALIASES: Record<string, string[]> = {
  target: ['on', 'onto', 'to', 'from', 'under', 'underob', 'destination', 'base', 'top_of'],
  block: ['ob', 'object', 'item', 'name', 'what'],
};

function normalizeValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value
    .trim()
    .toLowerCase()
    .replace(/^the\s+/, '')
    .replace(/\s+block$/, '');
}

/**
 * User tools (those with an inputSchema) carry free text — titles, comments, resolutions — that must reach
 * the tool as written: only a value of an enum parameter is repaired, to the member it matches ignoring case
 * and spaces ("High" → "high"). Built-in tools take ids and names, which normalizeValue canonicalises.
 */
function normalizeFor(tool: ToolSpec, param: string, value: unknown): unknown {
  if (!tool.inputSchema) return normalizeValue(value);
  const members = tool.parameters[param]?.enum;
  if (!members || typeof value !== 'string') return value;
  const wanted = value.trim().toLowerCase();
  return members.find((m) => m.toLowerCase() === wanted) ?? value;
}

/**
 * A tool's argument schema, built once per parameter list: zod compiles each new schema on first parse,
 * which cost more than the rest of an episode's tool handling when it was rebuilt on every call.
 */
const schemaMemo = boundedMemo<z.ZodType>(256);
function argsSchema(tool: ToolSpec): z.ZodType {
  if (tool.inputSchema) return schemaMemo(JSON.stringify(tool.inputSchema), () => fromJsonSchema(tool.inputSchema!));
  return schemaMemo(JSON.stringify(tool.parameters), () => {
    const shape: Record<string, z.ZodType> = {};
    for (const [name, p] of Object.entries(tool.parameters))
      shape[name] = p.enum && p.enum.length ? z.enum(p.enum as [string, ...string[]]) : z.string().min(1);
    return z.object(shape).strict();
  });
}

/** A user tool's JSON Schema as zod; a schema zod cannot read validates nothing rather than rejecting every call. */
function fromJsonSchema(schema: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return z.record(z.string(), z.unknown());
  }
}

/** Maps aliased or unknown keys onto missing parameters and normalizes values; returns a zod verdict. */
export function validateToolArgs(
  tool: ToolSpec,
  args: Record<string, unknown>,
  normalize: boolean,
): { ok: true; args: Record<string, unknown> } | { ok: false; problems: string[] } {
  let candidate: Record<string, unknown> = { ...args };
  if (normalize) {
    const expected = Object.keys(tool.parameters);
    const out: Record<string, unknown> = {};
    const leftovers: [string, unknown][] = [];
    for (const [key, value] of Object.entries(args)) {
      const lower = key.toLowerCase();
      const target = expected.find((name) => name === lower || (KEY_ALIASES[name] ?? []).includes(lower));
      if (target && !(target in out)) out[target] = normalizeFor(tool, target, value);
      else leftovers.push([key, value]);
    }
    const missing = expected.filter((name) => !(name in out));
    if (missing.length === 1 && leftovers.length === 1) out[missing[0]] = normalizeFor(tool, missing[0], leftovers[0][1]);
    candidate = out;
  }
  const parsed = argsSchema(tool).safeParse(candidate);
  if (parsed.success) return { ok: true, args: parsed.data as Record<string, unknown> };
  return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message}`) };
}

export const argValidation = defineProcessor({
  type: 'arg_validation',
  dimension: 'tools',
  description: 'Validates tool arguments against the tool schema with zod, repairing aliases and casing first.',
  hooks: ['before_tool'],
  meta: { singletonGroup: 'arg_validation', order: 'pre' },
  params: z.object({ normalize: z.boolean().default(true) }),
  create: ({ normalize }) =>
    mapProcessor<EventOf<'before_tool'>>((e, ctx) => {
      const tool = ctx.env.tools().find((t) => t.name === e.call.name);
      if (!tool)
        return { ...e, approved: false, rejection: `unknown tool "${e.call.name}"; tools: ${ctx.env.tools().map((t) => t.name).join(', ')}` };
      const verdict = validateToolArgs(tool, e.call.args, normalize);
      if (verdict.ok) return { ...e, call: { ...e.call, args: verdict.args } };
      return { ...e, approved: false, rejection: `invalid arguments for ${tool.name}: ${verdict.problems.join('; ')}` };
    }),
});

export const toolRetry = defineProcessor({
  type: 'tool_retry',
  dimension: 'tools',
  description: 'Retries a tool call whose failure the environment marks as transient.',
  hooks: ['after_tool'],
  meta: { singletonGroup: 'tool_retry', order: 'pre' },
  params: z.object({ maxRetries: z.number().int().min(1).max(10).default(2) }),
  create: ({ maxRetries }) =>
    mapProcessor<EventOf<'after_tool'>>(async (e, ctx) => {
      let result = e.result;
      for (let attempt = 1; attempt <= maxRetries && result.errorKind === 'transient'; attempt++) {
        ctx.trace.note('tool_retry', { call: e.call.name, attempt });
        result = await ctx.retryTool(e.call);
      }
      return { ...e, result };
    }),
});

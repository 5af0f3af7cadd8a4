import { z } from 'zod';
import { defineProcessor, mapProcessor } from '../processor';
import type { EventOf, ToolSpec } from '../types';
import { describeCall } from './observation-text';
import { parseActionText } from './parse-action';
import { validateToolArgs } from './tools';

/**
 * Repair processors that ask the model again: where format_repair and arg_validation fix a reply by rule,
 * these re-ask when rules cannot (the report's parse retry and tool-call correction). Their calls go
 * through ctx.model, so they are limited and counted like any act call.
 */

const toolList = (tools: ToolSpec[]) => tools.map((t) => `${t.name}(${Object.keys(t.parameters).join(', ')})`).join('; ');

export const parseRetry = defineProcessor({
  type: 'parse_retry',
  dimension: 'control',
  description: 'When a reply that should act has no tool call (and rules cannot recover one), asks the model again, up to maxRetries times per episode, for exactly one tool call, quoting its reply; in a conversation a plain-text reply is left alone unless it names a tool.',
  hooks: ['after_model'],
  meta: { singletonGroup: 'parse_retry', order: 'normal', after: ['format_repair'] },
  params: z.object({ maxRetries: z.number().int().min(1).max(5).default(2) }),
  create: ({ maxRetries }) => {
    let used = 0;
    return mapProcessor<EventOf<'after_model'>>(async (e, ctx) => {
      if (e.response.toolCalls.length || used >= maxRetries) return e;
      const tools = ctx.env.tools();
      if (!tools.length) return e;
      const text = e.response.text.trim();
      // A conversational answer is prose by design; only a reply that names a tool meant to act.
      const meantToAct = !text || tools.some((t) => text.includes(t.name));
      if (!meantToAct) return e;
      const recovered = parseActionText(text, tools, `parse-${e.step}`);
      if (recovered) return { ...e, response: { ...e.response, toolCalls: [recovered] } };
      used++;
      const retry = await ctx.model.generate({
        purpose: 'plan',
        messages: [
          { role: 'system', content: `Rewrite the reply below as exactly one tool call. Tools: ${toolList(tools)}. Answer with the call only, as name(arg=value, …).` },
          { role: 'user', content: `Task: ${ctx.task.instruction.slice(-2000)}\n\nReply to rewrite:\n${text || '(empty reply)'}` },
        ],
        parts: [],
        tools,
      });
      const call = retry.toolCalls[0] ?? parseActionText(retry.text, tools, `parse-${e.step}`);
      ctx.trace.note('parse_retry', { step: e.step, recovered: call ? describeCall(call.name, call.args) : null });
      return call ? { ...e, response: { ...e.response, toolCalls: [{ ...call, id: call.id || `parse-${e.step}` }] } } : e;
    });
  },
});

export const toolCallCorrection = defineProcessor({
  type: 'tool_call_correction',
  dimension: 'tools',
  description: 'Repairs tool arguments against the tool schema (aliases, casing, a missing parameter filled from a leftover key); when rules cannot, and useModel is on, asks the model once for corrected arguments given the schema and the problems. An unknown tool name is mapped to the closest listed tool.',
  hooks: ['before_tool'],
  meta: { singletonGroup: 'arg_validation', order: 'pre' },
  params: z.object({ useModel: z.boolean().default(true), maxModelFixes: z.number().int().min(0).max(20).default(3) }),
  create: ({ useModel, maxModelFixes }) => {
    let fixes = 0;
    return mapProcessor<EventOf<'before_tool'>>(async (e, ctx) => {
      const tools = ctx.env.tools();
      const tool = tools.find((t) => t.name === e.call.name);
      // The call's name is fixed at before_tool (the contract): an unknown tool is rejected with the list.
      if (!tool) return { ...e, approved: false, rejection: `unknown tool "${e.call.name}"; the tools are: ${tools.map((t) => t.name).join(', ')}` };
      const ruled = validateToolArgs(tool, e.call.args, true);
      if (ruled.ok) return { ...e, call: { ...e.call, args: ruled.args } };
      if (!useModel || fixes >= maxModelFixes) return { ...e, approved: false, rejection: `invalid arguments for ${tool.name}: ${ruled.problems.join('; ')}` };
      fixes++;
      const reply = await ctx.model.generate({
        purpose: 'plan',
        messages: [
          { role: 'system', content: 'Correct the arguments of a tool call so they satisfy the tool schema. Reply with the corrected arguments as one JSON object, nothing else.' },
          { role: 'user', content: JSON.stringify({ tool: { name: tool.name, parameters: tool.inputSchema ?? tool.parameters }, arguments: e.call.args, problems: ruled.problems }) },
        ],
        parts: [],
        tools: [],
      });
      const json = /\{[\s\S]*\}/.exec(reply.text)?.[0];
      let proposed: unknown = null;
      try {
        proposed = json ? JSON.parse(json) : null;
      } catch {
        proposed = null;
      }
      const fixed = proposed && typeof proposed === 'object' && !Array.isArray(proposed) ? validateToolArgs(tool, proposed as Record<string, unknown>, true) : null;
      ctx.trace.note('tool_call_correction', { call: tool.name, repaired: !!fixed?.ok, problems: ruled.problems });
      if (fixed?.ok) return { ...e, call: { ...e.call, args: fixed.args } };
      return { ...e, approved: false, rejection: `invalid arguments for ${tool.name}: ${ruled.problems.join('; ')}` };
    });
  },
});

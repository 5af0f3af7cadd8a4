import type Anthropic from '@anthropic-ai/sdk';
import type { ModelRequest } from '../../harness/types';
import type { ResponseFormat, StructuredOptions } from '../structured';
import { renderParts, toJsonSchema } from '../tool-schema';

type Block = Anthropic.Messages.ContentBlockParam;
type Param = Anthropic.Messages.MessageParam;

/** Our request → Messages API params: system apart, tool calls and results as blocks, alternating roles. */
export function convertToAnthropicMessages(request: ModelRequest, model: string): Anthropic.Messages.MessageCreateParamsNonStreaming {
  const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
  const turns: Array<{ role: 'user' | 'assistant'; blocks: Block[] }> = [];
  const push = (role: 'user' | 'assistant', blocks: Block[]) => {
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.blocks.push(...blocks);
    else turns.push({ role, blocks });
  };
  for (const m of request.messages) {
    if (m.role === 'system') continue;
    if (m.role === 'user') push('user', [{ type: 'text', text: m.content || ' ' }]);
    else if (m.role === 'assistant') {
      const blocks: Block[] = [];
      if (m.content) blocks.push({ type: 'text', text: m.content });
      for (const c of m.toolCalls ?? []) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: c.args });
      push('assistant', blocks.length ? blocks : [{ type: 'text', text: '(no reply)' }]);
    } else push('user', [{ type: 'tool_result', tool_use_id: m.toolCallId ?? 'unknown', content: m.content, is_error: !!m.isError }]);
  }
  const context = renderParts(request.parts);
  if (context) push('user', [{ type: 'text', text: context }]);
  const messages: Param[] = turns.map((t) => ({ role: t.role, content: t.blocks }));
  return {
    model,
    max_tokens: request.maxTokens ?? 1024,
    ...(system ? { system } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    messages,
    ...(request.tools.length ? { tools: request.tools.map((t) => ({ name: t.name, description: t.description, input_schema: toJsonSchema(t) })) } : {}),
  };
}

/** Anthropic's input_schema must describe an object: a union at the root (the Critic's decisions) is typed so. */
function objectSchema(schema: Record<string, unknown>): Anthropic.Messages.Tool.InputSchema {
  const { $schema: _drop, ...rest } = schema;
  return (rest.type === 'object' ? rest : { type: 'object', ...rest }) as Anthropic.Messages.Tool.InputSchema;
}

/** A structured request: the reply shape as the one tool, forced; the system prompt cached when asked. */
export function convertToAnthropicStructured(request: ModelRequest, model: string, format: ResponseFormat, options: StructuredOptions): Anthropic.Messages.MessageCreateParamsNonStreaming {
  const { system, tools: _tools, ...params } = convertToAnthropicMessages({ ...request, tools: [] }, model);
  return {
    ...params,
    ...(system ? { system: [{ type: 'text', text: system as string, ...(options.cachePrefix ? { cache_control: { type: 'ephemeral' as const } } : {}) }] } : {}),
    tools: [{ name: format.name, description: format.description, input_schema: objectSchema(format.jsonSchema) }],
    tool_choice: { type: 'tool', name: format.name },
  };
}

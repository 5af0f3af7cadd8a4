import type OpenAI from 'openai';
import type { ModelRequest } from '../../harness/types';
import { renderParts, toJsonSchema } from '../tool-schema';

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** Our request → Chat Completions params, with function tools. */
export function convertToOpenAIMessages(request: ModelRequest, model: string): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming {
  const messages: Message[] = request.messages.map((m): Message => {
    switch (m.role) {
      case 'system':
        return { role: 'system', content: m.content };
      case 'user':
        return { role: 'user', content: m.content };
      case 'assistant':
        return {
          role: 'assistant',
          content: m.content || null,
          ...(m.toolCalls?.length ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify(c.args) } })) } : {}),
        };
      case 'tool':
        return { role: 'tool', tool_call_id: m.toolCallId ?? 'unknown', content: m.content };
    }
  });
  const context = renderParts(request.parts);
  if (context) messages.push({ role: 'user', content: context });
  return {
    model,
    messages,
    ...(request.maxTokens ? { max_tokens: request.maxTokens } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.tools.length
      ? { tools: request.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: toJsonSchema(t) } })), tool_choice: 'auto' as const }
      : {}),
  };
}

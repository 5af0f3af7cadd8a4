import type { EpisodeTrace } from '../harness/trace';
import type { ToolSpec } from '../harness/types';
import { renderParts, toJsonSchema } from '../models/tool-schema';

/**
 * A trajectory rendered the way the harness version that produced it presented it to the model: its own
 * system prompt, the task as the first user turn, then every act turn — observations (tool results, user
 * replies), the context parts its processors attached, and the model's reply with its tool call.
 * OpenAI-style chat messages, which TRL and verl both take.
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

export function renderTrajectory(trace: EpisodeTrace): { prompt: ChatMessage[]; completion: ChatMessage[] } {
  const prompt: ChatMessage[] = [...(trace.systemPrompt ? [{ role: 'system' as const, content: trace.systemPrompt }] : []), { role: 'user', content: trace.instruction }];
  const completion: ChatMessage[] = [];
  let first = true;
  for (const r of trace.records) {
    if (r.kind !== 'model_call' || r.purpose !== 'act') continue;
    for (const m of r.request.newMessages) {
      if (m.role === 'system' || m.role === 'assistant') continue;
      if (first && m.role === 'user' && m.content === trace.instruction) continue;
      completion.push(m.role === 'tool' ? { role: 'tool', content: m.content, tool_call_id: m.toolCallId } : { role: 'user', content: m.content });
    }
    first = false;
    const context = renderParts(r.request.parts);
    if (context) completion.push({ role: 'user', content: context });
    completion.push({
      role: 'assistant',
      content: r.response.text,
      ...(r.response.toolCalls.length ? { tool_calls: r.response.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify(c.args) } })) } : {}),
    });
  }
  return { prompt, completion };
}

/** Tool schemas as the OpenAI/TRL `tools` field. */
export function toolSchemas(tools: ToolSpec[]) {
  return tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: toJsonSchema(t) } }));
}

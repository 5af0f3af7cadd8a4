import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import type { ModelRequest, ModelResponse } from '../../harness/types';
import { classifyProviderError, ProviderError } from '../errors';
import type { ModelProvider } from '../types';
import type { CachedUsage, ResponseFormat, StructuredModel, StructuredOptions } from '../structured';
import { convertToAnthropicMessages, convertToAnthropicStructured } from './convert-to-anthropic-messages';
import { mapAnthropicStopReason } from './map-anthropic-stop-reason';

const ResponseSchema = z.object({
  content: z.array(z.union([
    z.object({ type: z.literal('text'), text: z.string() }),
    z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }),
    z.object({ type: z.string() }).passthrough(),
  ])),
  stop_reason: z.string().nullable().optional(),
  usage: z.object({
    input_tokens: z.number(),
    output_tokens: z.number(),
    cache_creation_input_tokens: z.number().nullable().optional(),
    cache_read_input_tokens: z.number().nullable().optional(),
  }),
});

/** Anthropic's input_tokens exclude cached ones; ours are the whole prompt, with the cached parts named. */
export function anthropicUsage(u: z.infer<typeof ResponseSchema>['usage']): CachedUsage {
  const read = u.cache_read_input_tokens ?? 0;
  const write = u.cache_creation_input_tokens ?? 0;
  return { inputTokens: u.input_tokens + read + write, outputTokens: u.output_tokens, ...(read || write ? { cacheReadTokens: read, cacheWriteTokens: write } : {}) };
}

/** Messages API with tool use. SDK retries are off: Temporal owns retry. */
export class AnthropicModel implements StructuredModel {
  readonly id: string;
  private readonly client: Anthropic;
  constructor(private readonly model: string, private readonly apiKey: string, baseURL?: string) {
    this.id = `anthropic:${model}`;
    this.client = new Anthropic({ apiKey, baseURL, maxRetries: 0, timeout: 120_000 });
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    return this.send(convertToAnthropicMessages(request, this.model), null);
  }

  /**
   * The reply shape as a forced tool: one tool whose input_schema is the shape, and tool_choice naming it,
   * so the reply is a tool_use block whose input is the value (returned as JSON text). With cachePrefix,
   * the system prompt carries cache_control: the tools and system prompt (stable per stage) are cached.
   */
  async generateStructured(request: ModelRequest, format: ResponseFormat, options: StructuredOptions = {}): Promise<ModelResponse> {
    return this.send(convertToAnthropicStructured(request, this.model, format, options), format.name);
  }

  private async send(params: Anthropic.Messages.MessageCreateParamsNonStreaming, structuredTool: string | null): Promise<ModelResponse> {
    let raw: unknown;
    try {
      raw = await this.client.messages.create(params);
    } catch (e) {
      throw classifyProviderError(e, 'anthropic', this.model, [this.apiKey], this.client.baseURL);
    }
    const parsed = ResponseSchema.safeParse(raw);
    if (!parsed.success)
      throw new ProviderError(`anthropic model "${this.model}": malformed response: ${parsed.error.issues[0]?.message}`, 'anthropic', this.model, true, null, null, 'malformed_response');
    const text = parsed.data.content.filter((b): b is { type: 'text'; text: string } => b.type === 'text').map((b) => b.text).join('');
    const toolCalls = parsed.data.content
      .filter((b): b is { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> } => b.type === 'tool_use')
      .map((b) => ({ id: b.id, name: b.name, args: b.input }));
    const forced = structuredTool ? toolCalls.find((c) => c.name === structuredTool) : undefined;
    return {
      // A forced tool's input is the structured reply; a model that answered in prose keeps its text.
      text: forced ? JSON.stringify(forced.args) : text,
      toolCalls: forced ? [] : toolCalls,
      usage: anthropicUsage(parsed.data.usage),
      stopReason: mapAnthropicStopReason(parsed.data.stop_reason),
      model: this.id,
    };
  }
}

export const anthropicProvider: ModelProvider = {
  name: 'anthropic',
  create(modelName) {
    const key = process.env.ANTHROPIC_API_KEY;
    if (!key) throw new ProviderError(`anthropic model "${modelName}": ANTHROPIC_API_KEY is not set on this worker`, 'anthropic', modelName, false, null, null, 'rejected');
    return new AnthropicModel(modelName, key, process.env.ANTHROPIC_BASE_URL || undefined);
  },
};

import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import type { Model } from '../../harness/processor';
import type { ModelRequest, ModelResponse } from '../../harness/types';
import { classifyProviderError, ProviderError } from '../errors';
import type { ModelProvider } from '../types';
import { convertToAnthropicMessages } from './convert-to-anthropic-messages';
import { mapAnthropicStopReason } from './map-anthropic-stop-reason';

const ResponseSchema = z.object({
  content: z.array(z.union([
    z.object({ type: z.literal('text'), text: z.string() }),
    z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }),
    z.object({ type: z.string() }).passthrough(),
  ])),
  stop_reason: z.string().nullable().optional(),
  usage: z.object({ input_tokens: z.number(), output_tokens: z.number() }),
});

/** Messages API with tool use. SDK retries are off: Temporal owns retry. */
export class AnthropicModel implements Model {
  readonly id: string;
  private readonly client: Anthropic;
  constructor(private readonly model: string, private readonly apiKey: string, baseURL?: string) {
    this.id = `anthropic:${model}`;
    this.client = new Anthropic({ apiKey, baseURL, maxRetries: 0, timeout: 120_000 });
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    let raw: unknown;
    try {
      raw = await this.client.messages.create(convertToAnthropicMessages(request, this.model));
    } catch (e) {
      throw classifyProviderError(e, 'anthropic', this.model, [this.apiKey]);
    }
    const parsed = ResponseSchema.safeParse(raw);
    if (!parsed.success)
      throw new ProviderError(`anthropic model "${this.model}": malformed response: ${parsed.error.issues[0]?.message}`, 'anthropic', this.model, true, null, null, 'malformed_response');
    const text = parsed.data.content.filter((b): b is { type: 'text'; text: string } => b.type === 'text').map((b) => b.text).join('');
    const toolCalls = parsed.data.content
      .filter((b): b is { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> } => b.type === 'tool_use')
      .map((b) => ({ id: b.id, name: b.name, args: b.input }));
    return {
      text,
      toolCalls,
      usage: { inputTokens: parsed.data.usage.input_tokens, outputTokens: parsed.data.usage.output_tokens },
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

import OpenAI from 'openai';
import { z } from 'zod';
import type { Model } from '../../harness/processor';
import type { ModelRequest, ModelResponse, ToolCall } from '../../harness/types';
import { classifyProviderError, ProviderError } from '../errors';
import type { ModelProvider } from '../types';
import { convertToOpenAIMessages } from './convert-to-openai-messages';
import { mapOpenAIFinishReason } from './map-openai-finish-reason';

const ResponseSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullable().optional(),
          tool_calls: z.array(z.object({ id: z.string(), function: z.object({ name: z.string(), arguments: z.string() }) })).nullable().optional(),
        }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullable().optional(),
});

/** Tool arguments are model output: parsed with a schema, never trusted; unparseable ones stay as text. */
function parseArguments(raw: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(raw);
    const parsed = z.record(z.string(), z.unknown()).safeParse(value);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Chat Completions with function tools: OpenAI, or any compatible server (vLLM, Ollama, llama.cpp, SGLang). */
export class OpenAIModel implements Model {
  private readonly client: OpenAI;
  constructor(
    readonly id: string,
    private readonly provider: string,
    private readonly model: string,
    private readonly apiKey: string,
    baseURL?: string,
  ) {
    this.client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 120_000 });
  }

  /** What completionLogProb needs (the key stays inside the process). */
  handle(): OpenAIModelHandle {
    return { client: this.client, provider: this.provider, name: this.model, apiKey: this.apiKey };
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    let raw: unknown;
    try {
      raw = await this.client.chat.completions.create(convertToOpenAIMessages(request, this.model));
    } catch (e) {
      throw classifyProviderError(e, this.provider, this.model, [this.apiKey]);
    }
    const parsed = ResponseSchema.safeParse(raw);
    if (!parsed.success)
      throw new ProviderError(`${this.provider} model "${this.model}": malformed response: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, this.provider, this.model, true, null, null, 'malformed_response');
    const choice = parsed.data.choices[0];
    const toolCalls: ToolCall[] = [];
    const unparsed: string[] = [];
    for (const c of choice.message.tool_calls ?? []) {
      const args = parseArguments(c.function.arguments);
      if (args) toolCalls.push({ id: c.id, name: c.function.name, args });
      else unparsed.push(`${c.function.name}(${c.function.arguments})`);
    }
    const text = [choice.message.content ?? '', ...unparsed].filter(Boolean).join('\n');
    return {
      text,
      toolCalls,
      usage: { inputTokens: parsed.data.usage?.prompt_tokens ?? 0, outputTokens: parsed.data.usage?.completion_tokens ?? 0 },
      stopReason: mapOpenAIFinishReason(choice.finish_reason),
      model: this.id,
    };
  }
}

const PromptLogprobsSchema = z.object({
  choices: z.array(z.object({ logprobs: z.object({ token_logprobs: z.array(z.number().nullable()), text_offset: z.array(z.number()) }) })).min(1),
});

/**
 * Behaviour log-probability of `completion` after `prompt` under a served checkpoint, from the completions
 * API's prompt log-probs (echo): one forward pass, no sampling. vLLM and SGLang serve this; a provider that
 * does not answers 4xx, which the caller records as "not available".
 */
export async function completionLogProb(model: OpenAIModelHandle, prompt: string, completion: string): Promise<number> {
  let raw: unknown;
  try {
    raw = await model.client.completions.create({ model: model.name, prompt: prompt + completion, max_tokens: 1, echo: true, logprobs: 0, temperature: 0 });
  } catch (e) {
    throw classifyProviderError(e, model.provider, model.name, [model.apiKey]);
  }
  const parsed = PromptLogprobsSchema.safeParse(raw);
  if (!parsed.success) throw new ProviderError(`${model.provider} model "${model.name}": prompt log-probs missing from the completions response`, model.provider, model.name, false, null, null, 'malformed_response');
  const { token_logprobs, text_offset } = parsed.data.choices[0].logprobs;
  // Tokens that start inside the completion, excluding the one generated token appended after the echo.
  let sum = 0;
  const end = prompt.length + completion.length;
  text_offset.forEach((offset, i) => {
    const lp = token_logprobs[i];
    if (offset >= prompt.length && offset < end && lp !== null) sum += lp;
  });
  return sum;
}

export interface OpenAIModelHandle {
  client: OpenAI;
  provider: string;
  name: string;
  apiKey: string;
}

export const openaiProvider: ModelProvider = {
  name: 'openai',
  create(modelName) {
    const key = process.env.OPENAI_API_KEY;
    if (!key) throw new ProviderError(`openai model "${modelName}": OPENAI_API_KEY is not set on this worker`, 'openai', modelName, false, null, null, 'rejected');
    return new OpenAIModel(`openai:${modelName}`, 'openai', modelName, key, process.env.OPENAI_BASE_URL || undefined);
  },
};

/** "openai-compatible:<model>@<base URL>", e.g. openai-compatible:qwen3.5-9b@http://localhost:8000/v1 */
export const openaiCompatibleProvider: ModelProvider = {
  name: 'openai-compatible',
  create(spec) {
    const at = spec.lastIndexOf('@');
    const model = at > 0 ? spec.slice(0, at) : spec;
    const baseURL = at > 0 ? spec.slice(at + 1) : process.env.OPENAI_COMPATIBLE_BASE_URL;
    if (!baseURL || !/^https?:\/\//.test(baseURL))
      throw new ProviderError(`openai-compatible model "${spec}": give a base URL, as in openai-compatible:${model}@http://localhost:8000/v1`, 'openai-compatible', model, false, null, null, 'rejected');
    // vLLM and Ollama accept any key; a real one comes from OPENAI_COMPATIBLE_API_KEY.
    return new OpenAIModel(`openai-compatible:${spec}`, 'openai-compatible', model, process.env.OPENAI_COMPATIBLE_API_KEY || 'not-needed', baseURL);
  },
};

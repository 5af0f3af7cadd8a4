import OpenAI from 'openai';
import { z } from 'zod';
import type { ModelRequest, ModelResponse, ToolCall } from '../../harness/types';
import { classifyProviderError, ProviderError } from '../errors';
import type { ModelProvider } from '../types';
import type { CachedUsage, ResponseFormat, StructuredModel, StructuredOptions } from '../structured';
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
  usage: z
    .object({ prompt_tokens: z.number(), completion_tokens: z.number(), prompt_tokens_details: z.object({ cached_tokens: z.number().nullable().optional() }).nullable().optional() })
    .nullable()
    .optional(),
});

/** OpenAI's prompt_tokens include cached ones (prompt_tokens_details.cached_tokens); caching is automatic there. */
function openAIUsage(u: z.infer<typeof ResponseSchema>['usage']): CachedUsage {
  const cached = u?.prompt_tokens_details?.cached_tokens ?? 0;
  return { inputTokens: u?.prompt_tokens ?? 0, outputTokens: u?.completion_tokens ?? 0, ...(cached ? { cacheReadTokens: cached } : {}) };
}

/**
 * OpenAI's strict structured outputs accept a subset of JSON Schema: every object closed
 * (additionalProperties false) with all its properties required, an object at the root, and none of the
 * length and size keywords. A shape that needs an open object (processor params) or a union at the root is
 * sent without strict: the server still steers by the schema, and the caller validates the reply.
 */
export function openAIJsonSchema(format: ResponseFormat, provider: string): { type: 'json_schema'; json_schema: { name: string; description: string; schema: Record<string, unknown>; strict?: boolean } } {
  const { $schema: _drop, ...schema } = format.jsonSchema;
  let strictOk = schema.type === 'object';
  const UNSUPPORTED = new Set(['minLength', 'maxLength', 'minItems', 'maxItems', 'pattern', 'format', 'default']);
  const tighten = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(tighten);
    if (!node || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) if (!UNSUPPORTED.has(k)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([p, s]) => [p, tighten(s)])) : tighten(v);
    if (out.type === 'object') {
      if (out.additionalProperties !== undefined && out.additionalProperties !== false) strictOk = false;
      if (!out.properties) strictOk = false;
      out.additionalProperties = false;
      out.required = Object.keys((out.properties as Record<string, unknown>) ?? {});
    }
    return out;
  };
  const strictSchema = tighten(schema) as Record<string, unknown>;
  // Only OpenAI itself has strict mode; compatible servers (vLLM, SGLang) guide decoding by the schema as given.
  if (provider === 'openai' && strictOk) return { type: 'json_schema', json_schema: { name: format.name, description: format.description, schema: strictSchema, strict: true } };
  return { type: 'json_schema', json_schema: { name: format.name, description: format.description, schema } };
}

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
export class OpenAIModel implements StructuredModel {
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
    return this.send(convertToOpenAIMessages(request, this.model));
  }

  /**
   * The reply shape as response_format json_schema (strict on OpenAI where the shape allows; vLLM and SGLang
   * turn it into guided decoding). OpenAI caches long prompt prefixes by itself; cachePrefix changes nothing here.
   */
  async generateStructured(request: ModelRequest, format: ResponseFormat, _options?: StructuredOptions): Promise<ModelResponse> {
    return this.send({ ...convertToOpenAIMessages({ ...request, tools: [] }, this.model), response_format: openAIJsonSchema(format, this.provider) });
  }

  private async send(params: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming): Promise<ModelResponse> {
    let raw: unknown;
    try {
      raw = await this.client.chat.completions.create(params);
    } catch (e) {
      throw classifyProviderError(e, this.provider, this.model, [this.apiKey], this.client.baseURL);
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
      usage: openAIUsage(parsed.data.usage),
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
    throw classifyProviderError(e, model.provider, model.name, [model.apiKey], model.client.baseURL);
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

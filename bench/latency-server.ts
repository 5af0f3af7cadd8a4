/**
 * A local OpenAI-compatible endpoint with a fixed latency per call and a concurrency cap, for the bench:
 * above the cap it answers 429 with retry-after, as vLLM behind a gateway or a paid API would. Its replies
 * come from the simulator, so episodes through it are the simulator's episodes (same seed, same outcome),
 * only slower: the client sends the exact request and episode seed in an extension field (`hx`) that the
 * Chat Completions wire format lets through, and the server answers with what the simulator says.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import type { Model } from '../harness/processor';
import type { ModelRequest, ModelResponse } from '../harness/types';
import { classifyProviderError } from '../models/errors';
import { convertToOpenAIMessages } from '../models/openai/convert-to-openai-messages';
import { mapOpenAIFinishReason } from '../models/openai/map-openai-finish-reason';
import { createModel } from '../models/registry';

export interface LatencyServerStats {
  /** Calls answered (200). */
  answered: number;
  /** Calls refused with 429 (over the cap). */
  rejected: number;
  peakInFlight: number;
  /** ∫ calls in flight dt, in call·ms, since the last reset. */
  inFlightIntegral: number;
}

export interface LatencyServer {
  url: string;
  stats: LatencyServerStats;
  /** Zeroes the counters (between measured runs). */
  reset(): void;
  /** Mean calls in flight since the last reset. */
  meanInFlight(): number;
  /** Distinct episodes (episode seeds) answered since the last reset. */
  episodesSeen(): number;
  close(): Promise<void>;
}

/** One call the server answered: its episode seed and the request's length in messages (the episode's step). */
export interface AnsweredCall {
  seed: string;
  messages: number;
}

export async function startLatencyServer(options: { latencyMs: number; capacity: number; port?: number; host?: string; onAnswered?: (call: AnsweredCall) => void }): Promise<LatencyServer> {
  const { latencyMs, capacity } = options;
  let inFlight = 0;
  let since = performance.now();
  let changedAt = since;
  const stats: LatencyServerStats = { answered: 0, rejected: 0, peakInFlight: 0, inFlightIntegral: 0 };
  const seeds = new Set<string>();
  const move = (delta: number) => {
    const now = performance.now();
    stats.inFlightIntegral += inFlight * (now - changedAt);
    changedAt = now;
    inFlight += delta;
    stats.peakInFlight = Math.max(stats.peakInFlight, inFlight);
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return send(404, { error: { message: `no route ${req.method} ${req.url}` } });
    if (inFlight >= capacity) {
      stats.rejected++;
      // The time until a slot frees, at most one call's latency; seconds for clients that read only retry-after.
      return send(429, { error: { message: `over capacity (${capacity} calls in flight)`, type: 'rate_limit_error' } }, { 'retry-after-ms': String(latencyMs), 'retry-after': String(Math.max(1, Math.ceil(latencyMs / 1000))) });
    }
    move(+1);
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; hx?: { seed: string; request: ModelRequest } };
      if (!body.hx) return send(400, { error: { message: 'this bench endpoint needs the hx extension (seed and request) to answer as the simulator' } });
      const [reply] = await Promise.all([createModel(body.model, { seed: body.hx.seed }).generate(body.hx.request), new Promise((resolve) => setTimeout(resolve, latencyMs))]);
      stats.answered++;
      seeds.add(body.hx.seed);
      options.onAnswered?.({ seed: body.hx.seed, messages: body.hx.request.messages.length });
      send(200, {
        id: `chatcmpl-${stats.answered}`,
        object: 'chat.completion',
        created: 0,
        model: body.model,
        choices: [
          {
            index: 0,
            finish_reason: reply.stopReason === 'tool_use' ? 'tool_calls' : 'stop',
            message: { role: 'assistant', content: reply.text || null, ...(reply.toolCalls.length ? { tool_calls: reply.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })) } : {}) },
          },
        ],
        usage: { prompt_tokens: reply.usage.inputTokens, completion_tokens: reply.usage.outputTokens, total_tokens: reply.usage.inputTokens + reply.usage.outputTokens },
        ...(reply.meta ? { hx_meta: reply.meta } : {}),
      });
    } catch (e) {
      send(500, { error: { message: String((e as Error).message ?? e) } });
    } finally {
      move(-1);
    }
  });
  // `host`: another address of this machine (a test bridge other network namespaces reach), else loopback.
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const url = `http://${host}:${(server.address() as AddressInfo).port}/v1`;
  return {
    url,
    stats,
    reset() {
      move(0);
      Object.assign(stats, { answered: 0, rejected: 0, peakInFlight: inFlight, inFlightIntegral: 0 });
      since = performance.now();
      seeds.clear();
    },
    episodesSeen: () => seeds.size,
    meanInFlight() {
      move(0);
      const span = performance.now() - since;
      return span > 0 ? stats.inFlightIntegral / span : 0;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The simulator over the wire: the real `openai` SDK (no SDK retries, as OpenAIModel) sends the Chat
 * Completions request plus the `hx` extension; errors are classified as OpenAIModel classifies them, so
 * the endpoint limiter sees the same ProviderErrors (429 with retry-after) a real server produces.
 */
export class SimOverWireModel implements Model {
  readonly id: string;
  private readonly client: OpenAI;
  constructor(
    private readonly simModel: string,
    baseURL: string,
    private readonly seed: string,
  ) {
    this.id = `openai-compatible:${simModel}@${baseURL}`;
    this.client = new OpenAI({ apiKey: 'not-needed', baseURL, maxRetries: 0, timeout: 120_000 });
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    type Reply = { choices: Array<{ message: { content: string | null; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }> }; finish_reason: string | null }>; usage: { prompt_tokens: number; completion_tokens: number }; hx_meta?: Record<string, unknown> };
    let raw: Reply;
    try {
      const body = { ...convertToOpenAIMessages(request, this.simModel), hx: { seed: this.seed, request } };
      raw = (await this.client.chat.completions.create(body as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming)) as unknown as Reply;
    } catch (e) {
      throw classifyProviderError(e, 'openai-compatible', this.simModel);
    }
    const choice = raw.choices[0];
    return {
      text: choice.message.content ?? '',
      toolCalls: (choice.message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) as Record<string, unknown> })),
      usage: { inputTokens: raw.usage.prompt_tokens, outputTokens: raw.usage.completion_tokens },
      stopReason: mapOpenAIFinishReason(choice.finish_reason),
      // The simulator's own model id, so traces read as the in-process simulator's.
      model: this.simModel,
      ...(raw.hx_meta ? { meta: raw.hx_meta } : {}),
    };
  }
}

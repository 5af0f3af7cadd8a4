/**
 * A local OpenAI-compatible endpoint with a fixed latency per call and a concurrency cap, for the bench:
 * above the cap it answers 429 with retry-after, as vLLM behind a gateway or a paid API would. Its replies
 * come from the simulator, so episodes through it are the simulator's episodes (same seed, same outcome),
 * only slower: the client sends the exact request and episode seed in an extension field (`hx`) that the
 * Chat Completions wire format lets through, and the server answers with what the simulator says.
 *
 * The server runs on its own worker thread (latency-server-thread.ts), because a real endpoint runs
 * elsewhere: in the caller's thread, the simulator's answers, the JSON and the HTTP server's work shared the
 * one event loop of the Temporal worker and the episodes being measured, so the endpoint's CPU was charged to
 * HarnessX (at 200 ms / 64 slots the process reached ~235 of the 320 calls/s the endpoint allows). On its
 * thread it has its own event loop and can use another core (measured 2026-12-07 with bench/round-timeline.ts
 * 200 256 on round: one round 42.5 s → 39.9 s, busy ~0.89 → ~0.95 in the bulk phases). What callers read stays synchronous: the
 * counters live in shared memory the thread updates; onAnswered arrives by message, a moment after the reply.
 */
import { Worker } from 'node:worker_threads';
import OpenAI from 'openai';
import type { Model } from '../harness/processor';
import type { ModelRequest, ModelResponse } from '../harness/types';
import { classifyProviderError } from '../models/errors';
import { convertToOpenAIMessages } from '../models/openai/convert-to-openai-messages';
import { mapOpenAIFinishReason } from '../models/openai/map-openai-finish-reason';
import { clockMs, type LatencyThreadData, type LatencyThreadMessage, SEED_COUNT_BITS, SHARED, sharedViews } from './latency-server-thread';

export interface LatencyServerStats {
  /** Calls answered (200). */
  answered: number;
  /** Calls refused with 429 (over the cap). */
  rejected: number;
  peakInFlight: number;
  /** ∫ calls in flight dt, in call·ms, since the last reset (up to the moment it is read). */
  inFlightIntegral: number;
}

export interface LatencyServer {
  url: string;
  /** Read-only, current at every read (getters over the thread's shared counters). */
  stats: LatencyServerStats;
  /** Zeroes the counters (between measured runs). */
  reset(): void;
  /** Mean calls in flight since the last reset. */
  meanInFlight(): number;
  /** Distinct episodes (episode seeds) answered since the last reset. */
  episodesSeen(): number;
  /** Stops the server (after the calls in flight) and ends its thread. */
  close(): Promise<void>;
}

/** One call the server answered: its episode seed and the request's length in messages (the episode's step). */
export interface AnsweredCall {
  seed: string;
  messages: number;
}

/** The thread's bootstrap: tsx's CommonJS hook first (the thread shares neither jest's nor the caller's loader), then the TypeScript module. */
const THREAD_SOURCE = `require(${JSON.stringify(require.resolve('tsx/cjs'))});
require(${JSON.stringify(require.resolve('./latency-server-thread'))}).runLatencyServerThread();`;

export async function startLatencyServer(options: { latencyMs: number; capacity: number; port?: number; host?: string; onAnswered?: (call: AnsweredCall) => void }): Promise<LatencyServer> {
  const { latencyMs, capacity } = options;
  // `host`: another address of this machine (a test bridge other network namespaces reach), else loopback.
  const host = options.host ?? '127.0.0.1';
  const shared = new SharedArrayBuffer(SHARED.INT32_SLOTS * 4 + SHARED.FLOAT64_SLOTS * 8);
  const { ints, floats } = sharedViews(shared);
  floats[SHARED.CHANGED_AT] = clockMs();
  const data: LatencyThreadData = { latencyMs, capacity, port: options.port ?? 0, host, shared, notify: !!options.onAnswered };
  const thread = new Worker(THREAD_SOURCE, { eval: true, workerData: data });

  let closing = false;
  let closed: (() => void) | null = null;
  let died: Error | null = null;
  let ready = false;
  // Before it listens, a failed thread rejects startLatencyServer; after, it is said on stderr at once and
  // every read of the counters throws it (and the clients' calls find no server).
  const port = await new Promise<number>((resolve, reject) => {
    thread.on('message', (m: LatencyThreadMessage) => {
      if (m.type === 'ready') {
        ready = true;
        resolve(m.port);
      }
      else if (m.type === 'answered') options.onAnswered?.({ seed: m.seed, messages: m.messages });
      else if (m.type === 'closed') closed?.();
    });
    const die = (e: Error) => {
      if (died) return;
      died = e;
      reject(e);
      if (ready) process.stderr.write(`${e.message}\n`);
    };
    thread.on('error', (e) => die(new Error(`the bench latency server's thread failed: ${e.message}`, { cause: e })));
    thread.on('exit', (code) => {
      closed?.();
      if (!closing) die(new Error(`the bench latency server's thread exited (code ${code})`));
    });
  }).catch(async (e: unknown) => {
    await thread.terminate();
    throw e;
  });
  const url = `http://${host}:${port}/v1`;

  /** Throws once the thread has died: its counters stopped, and the numbers would be wrong, not just late. */
  const alive = () => {
    if (died) throw died;
  };
  /** ∫ calls in flight dt since the thread started, up to now: the thread's value at its last change plus the calls in flight since. */
  const integralNow = (): number => {
    for (;;) {
      const before = Atomics.load(ints, SHARED.SEQ);
      if (before & 1) continue;
      const integral = floats[SHARED.INTEGRAL];
      const changedAt = floats[SHARED.CHANGED_AT];
      const inFlight = Atomics.load(ints, SHARED.IN_FLIGHT);
      if (Atomics.load(ints, SHARED.SEQ) !== before) continue;
      return integral + inFlight * Math.max(0, clockMs() - changedAt);
    }
  };
  let since = clockMs();
  let integralAtReset = 0;
  const stats: LatencyServerStats = Object.defineProperties({} as LatencyServerStats, {
    answered: { enumerable: true, get: () => (alive(), Atomics.load(ints, SHARED.ANSWERED)) },
    rejected: { enumerable: true, get: () => (alive(), Atomics.load(ints, SHARED.REJECTED)) },
    peakInFlight: { enumerable: true, get: () => (alive(), Atomics.load(ints, SHARED.PEAK)) },
    inFlightIntegral: { enumerable: true, get: () => (alive(), integralNow() - integralAtReset) },
  });
  return {
    url,
    stats,
    reset() {
      alive();
      integralAtReset = integralNow();
      since = clockMs();
      Atomics.store(ints, SHARED.ANSWERED, 0);
      Atomics.store(ints, SHARED.REJECTED, 0);
      Atomics.store(ints, SHARED.PEAK, Atomics.load(ints, SHARED.IN_FLIGHT));
      Atomics.add(ints, SHARED.RESET_GEN, 1);
    },
    episodesSeen() {
      alive();
      const packed = Atomics.load(ints, SHARED.SEEDS);
      return packed >>> SEED_COUNT_BITS === (Atomics.load(ints, SHARED.RESET_GEN) & 0xff) ? packed & ((1 << SEED_COUNT_BITS) - 1) : 0;
    },
    meanInFlight() {
      alive();
      const span = clockMs() - since;
      return span > 0 ? (integralNow() - integralAtReset) / span : 0;
    },
    async close() {
      if (closing) return;
      closing = true;
      if (!died) {
        // The server closes after its calls in flight (as http.Server.close), and their onAnswered messages come first.
        await new Promise<void>((resolve) => {
          closed = resolve;
          thread.postMessage({ type: 'close' });
        });
      }
      await thread.terminate();
    },
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

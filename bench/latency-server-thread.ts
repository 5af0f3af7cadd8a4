/**
 * The latency endpoint's own thread (see latency-server.ts, which starts it): the HTTP server, the JSON and
 * the simulator's answers run here, on this thread's event loop, not on the worker's it measures.
 *
 * What the calling thread reads synchronously lives in shared memory (SHARED below): integer counters it
 * reads with Atomics, and the in-flight time integral as (integral so far, when it last changed, calls in
 * flight) under a sequence lock, from which the caller computes the integral up to its own now. Both threads
 * read the same monotonic clock (process.hrtime, ms). A reset is the caller's: it zeroes the counters and
 * bumps RESET_GEN, which this thread sees on its next answer and clears its set of episode seeds.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { ModelRequest } from '../harness/types';
import { createModel } from '../models/registry';

/** Int32 slots of the shared buffer. */
export const SHARED = {
  /** Sequence lock over IN_FLIGHT and the two Float64 slots: odd while this thread writes them. */
  SEQ: 0,
  IN_FLIGHT: 1,
  ANSWERED: 2,
  REJECTED: 3,
  PEAK: 4,
  /** Bumped by every reset. */
  RESET_GEN: 5,
  /** Distinct episode seeds answered since the reset: (RESET_GEN & 0xff) << 23 | count, so a count left from before a reset reads as stale. */
  SEEDS: 6,
  INT32_SLOTS: 8,
  /** Float64 slots, after the Int32 ones (byte offset INT32_SLOTS * 4). */
  INTEGRAL: 0,
  CHANGED_AT: 1,
  FLOAT64_SLOTS: 2,
} as const;

export const SEED_COUNT_BITS = 23;

/** Milliseconds on the process-wide monotonic clock: the same clock on every thread. */
export function clockMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

export function sharedViews(buffer: SharedArrayBuffer): { ints: Int32Array; floats: Float64Array } {
  return { ints: new Int32Array(buffer, 0, SHARED.INT32_SLOTS), floats: new Float64Array(buffer, SHARED.INT32_SLOTS * 4, SHARED.FLOAT64_SLOTS) };
}

export interface LatencyThreadData {
  latencyMs: number;
  capacity: number;
  port: number;
  host: string;
  shared: SharedArrayBuffer;
  /** Post each answered call to the calling thread (its onAnswered). */
  notify: boolean;
}

/** Messages from the thread: listening (ready), one answered call (when notify), closed. */
export type LatencyThreadMessage = { type: 'ready'; port: number } | { type: 'answered'; seed: string; messages: number } | { type: 'closed' };

/** The thread's entry: serves until the calling thread sends 'close'. */
export function runLatencyServerThread(): void {
  const { latencyMs, capacity, port, host, shared, notify } = workerData as LatencyThreadData;
  const { ints, floats } = sharedViews(shared);
  const post = (m: LatencyThreadMessage) => parentPort!.postMessage(m);
  let inFlight = 0;
  floats[SHARED.CHANGED_AT] = clockMs();
  const move = (delta: number) => {
    const now = clockMs();
    Atomics.add(ints, SHARED.SEQ, 1);
    floats[SHARED.INTEGRAL] += inFlight * (now - floats[SHARED.CHANGED_AT]);
    floats[SHARED.CHANGED_AT] = now;
    inFlight += delta;
    Atomics.store(ints, SHARED.IN_FLIGHT, inFlight);
    Atomics.add(ints, SHARED.SEQ, 1);
    // The peak since the caller's last reset (which sets it to the calls then in flight).
    for (let peak = Atomics.load(ints, SHARED.PEAK); inFlight > peak; ) {
      const seen = Atomics.compareExchange(ints, SHARED.PEAK, peak, inFlight);
      if (seen === peak) break;
      peak = seen;
    }
  };
  let generation = Atomics.load(ints, SHARED.RESET_GEN);
  const seeds = new Set<string>();
  const seen = (seed: string) => {
    const now = Atomics.load(ints, SHARED.RESET_GEN);
    if (now !== generation) {
      seeds.clear();
      generation = now;
    }
    seeds.add(seed);
    Atomics.store(ints, SHARED.SEEDS, ((now & 0xff) << SEED_COUNT_BITS) | Math.min(seeds.size, (1 << SEED_COUNT_BITS) - 1));
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // the client went away mid-request (aborted): nobody to answer, and no reason to end the thread
    }
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return send(404, { error: { message: `no route ${req.method} ${req.url}` } });
    if (inFlight >= capacity) {
      Atomics.add(ints, SHARED.REJECTED, 1);
      // The time until a slot frees, at most one call's latency; seconds for clients that read only retry-after.
      return send(429, { error: { message: `over capacity (${capacity} calls in flight)`, type: 'rate_limit_error' } }, { 'retry-after-ms': String(latencyMs), 'retry-after': String(Math.max(1, Math.ceil(latencyMs / 1000))) });
    }
    move(+1);
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; hx?: { seed: string; request: ModelRequest } };
      if (!body.hx) return send(400, { error: { message: 'this bench endpoint needs the hx extension (seed and request) to answer as the simulator' } });
      const [reply] = await Promise.all([createModel(body.model, { seed: body.hx.seed }).generate(body.hx.request), new Promise((resolve) => setTimeout(resolve, latencyMs))]);
      const answered = Atomics.add(ints, SHARED.ANSWERED, 1) + 1;
      seen(body.hx.seed);
      if (notify) post({ type: 'answered', seed: body.hx.seed, messages: body.hx.request.messages.length });
      send(200, {
        id: `chatcmpl-${answered}`,
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
  // A listen error (port in use) is thrown here, so the calling thread's startLatencyServer rejects with it.
  server.on('error', (e) => {
    throw e;
  });
  parentPort!.on('message', (m: { type: 'close' }) => {
    if (m.type === 'close') server.close(() => post({ type: 'closed' }));
  });
  server.listen(port, host, () => post({ type: 'ready', port: (server.address() as AddressInfo).port }));
}

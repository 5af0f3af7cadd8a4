import { type AnsweredCall, SimOverWireModel, startLatencyServer } from '../../bench/latency-server';
import type { ModelRequest } from '../../harness/types';

/** The bench endpoint runs on its own thread (bench/latency-server-thread.ts); what callers read stays synchronous. */
const request: ModelRequest = { purpose: 'act', messages: [{ role: 'user', content: 'hello' }], parts: [], tools: [] };

test('the latency endpoint on its thread: counters read synchronously, reset, distinct episodes, onAnswered, close', async () => {
  const answered: AnsweredCall[] = [];
  const server = await startLatencyServer({ latencyMs: 200, capacity: 2, onAnswered: (c) => answered.push(c) });
  try {
    const call = (seed: string) => new SimOverWireModel('sim:small', server.url, seed).generate(request);
    const results = await Promise.allSettled([call('a'), call('b'), call('c')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect({ ...server.stats, inFlightIntegral: undefined }).toEqual({ answered: 2, rejected: 1, peakInFlight: 2, inFlightIntegral: undefined });
    // Two calls of at least 200 ms each in flight (a third, sent with them, found both slots taken).
    expect(server.stats.inFlightIntegral).toBeGreaterThanOrEqual(2 * 200 - 1);
    expect(server.meanInFlight()).toBeGreaterThan(0);
    expect(server.episodesSeen()).toBe(2);

    server.reset();
    expect({ ...server.stats }).toEqual({ answered: 0, rejected: 0, peakInFlight: 0, inFlightIntegral: 0 });
    expect(server.episodesSeen()).toBe(0);
    await call('a');
    await call('a');
    expect(server.stats.answered).toBe(2);
    expect(server.stats.peakInFlight).toBe(1);
    expect(server.episodesSeen()).toBe(1);
  } finally {
    await server.close();
  }
  // Every answered call's message arrived before close() resolved.
  expect(answered.map((c) => c.seed).sort()).toEqual(['a', 'a', 'a', 'b']);
  expect(answered.every((c) => c.messages === 1)).toBe(true);
  // The counters stay readable after close.
  expect(server.stats.answered).toBe(2);
});

test('a thread that cannot listen makes startLatencyServer reject with the reason', async () => {
  const first = await startLatencyServer({ latencyMs: 1, capacity: 1 });
  try {
    const port = Number(new URL(first.url).port);
    await expect(startLatencyServer({ latencyMs: 1, capacity: 1, port })).rejects.toThrow(/thread failed: listen EADDRINUSE/);
  } finally {
    await first.close();
  }
});

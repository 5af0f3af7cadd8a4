import { FinishedEpisode, finishedFromHeartbeat, passRate, rolloutTasks, RolloutSpec } from '../../aegis/rollout';
import { getBenchmark } from '../../benchmarks/registry';
import { applyEdits } from '../../harness/builder';
import { hashUniform } from '../../harness/canonical';
import type { HarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace } from '../../harness/trace';
import type { ModelRequest, ModelResponse } from '../../harness/types';
import { CallPriority, Clock, EndpointLimiter, EndpointLimiters, seededRandom, withEndpointLimit } from '../../models/endpoint-limiter';
import { ENDPOINT_PROVIDERS, EndpointLimitsError, endpointLimitsSchema, parseEndpointLimits, parseEndpointLimitsText, parseRateLimitWaitSeconds, resolveEndpointLimit } from '../../models/endpoint-limits';
import { ProviderError } from '../../models/errors';
import { PROVIDER_NAMES } from '../../models/registry';
import { inProcessRunner } from '../../bench/latency-bench';
import { startLatencyServer } from '../../bench/latency-server';
import { openaiToolCall, startWireServer } from '../helpers/wire-server';

// Episodes with real (if short) delays: a shared 2-core machine can take a while; nothing here measures time.
jest.setTimeout(60_000);

const bench = getBenchmark('blocksworld');
const ids = bench.tasks().filter((t) => t.split === 'train').slice(0, 10).map((t) => t.id);

function harness(): HarnessConfig {
  const built = applyEdits(seedHarness(), [
    { op: 'insert', hook: 'after_model', processor: { id: 'format_repair', type: 'format_repair', params: {} } },
    { op: 'insert', hook: 'before_model', processor: { id: 'admissible_actions', type: 'admissible_actions', params: {} } },
  ]);
  if (!built.ok) throw new Error(built.error.message);
  return built.config;
}

/** Wall-clock fields differ between any two runs; everything else in a trace must match. */
function withoutTiming(trace: EpisodeTrace): unknown {
  return JSON.parse(JSON.stringify(trace, (key, value) => (key === 'latencyMs' || key === 'durationMs' ? undefined : value)));
}

/** A clock whose sleeps return at once and are recorded: waits are asserted by amount, never by time. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** The simulator behind a seeded random latency per call (0–2 ms), so episodes finish in scrambled order. */
function jittery(model: Model, sample: string, observed: { inFlight: number; peak: number; calls: Map<string, number> }): Model {
  let n = 0;
  return {
    id: model.id,
    async generate(request: ModelRequest): Promise<ModelResponse> {
      observed.calls.set(sample, (observed.calls.get(sample) ?? 0) + 1);
      observed.inFlight++;
      observed.peak = Math.max(observed.peak, observed.inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, Math.floor(hashUniform('latency', sample, n++) * 3)));
        return await model.generate(request);
      } finally {
        observed.inFlight--;
      }
    },
  };
}

async function run(concurrency: number, extra: Partial<RolloutSpec> = {}) {
  const observed = { inFlight: 0, peak: 0, calls: new Map<string, number>() };
  const config = harness();
  const ordered: unknown[] = [];
  const result = await rolloutTasks({
    benchmark: bench,
    config,
    harnessId: 'hx-concurrency',
    taskIds: ids,
    k: 2,
    seed: 'conc',
    keepTraces: false,
    concurrency,
    limiters: new EndpointLimiters({ env: { sim: { maxInFlight: 64 } } }),
    wrapModel: (model, sample) => jittery(model, sample, observed),
    onTrace: (trace) => ordered.push(withoutTiming(trace)),
    ...extra,
  });
  return { result, ordered, observed };
}

describe('concurrent episodes', () => {
  test('concurrency 1 and 64 give the same outcomes, pass rate, usage and trace order with random latencies', async () => {
    const one = await run(1);
    const many = await run(64);
    expect(one.observed.peak).toBe(1);
    // All 20 episodes start before the first timer fires: concurrency really was used.
    expect(many.observed.peak).toBeGreaterThan(10);
    expect(many.result.outcomes).toEqual(one.result.outcomes);
    expect(passRate(many.result.outcomes)).toBe(passRate(one.result.outcomes));
    expect(many.result.usage).toEqual(one.result.usage);
    expect(many.result.episodes).toBe(20);
    expect(many.ordered).toEqual(one.ordered);
    expect(one.result.outcomes.map((o) => o.taskId)).toEqual(ids);
    // Not a vacuous comparison: the episodes differ from one another and some pass and some fail.
    expect(new Set(one.ordered.map((t) => JSON.stringify(t))).size).toBe(20);
  });

  test('an episode finishing early waits for the earlier ones: traces reach onTrace in sequential order', async () => {
    // Task 0's first call is held until task 1 has finished both attempts: completion order is then 1 before 0.
    let releaseFirst!: () => void;
    const gate = new Promise<void>((resolve) => (releaseFirst = resolve));
    const completed: string[] = [];
    const seen: string[] = [];
    let saved = 0;
    const result = await rolloutTasks({
      benchmark: bench,
      config: harness(),
      harnessId: 'hx-order',
      taskIds: ids.slice(0, 2),
      k: 2,
      seed: 'order',
      keepTraces: true,
      concurrency: 4,
      limiters: null,
      wrapModel: (model, sample) => ({
        id: model.id,
        generate: async (request) => {
          if (sample.includes(ids[0])) await gate;
          return model.generate(request);
        },
      }),
      saveTrace: (trace) => {
        completed.push(`${trace.taskId}#${trace.attempt}`);
        if (++saved === 2) releaseFirst();
        return `ref-${saved}`;
      },
      onTrace: (trace) => seen.push(`${trace.taskId}#${trace.attempt}`),
    });
    expect(completed.slice(0, 2).sort()).toEqual([`${ids[1]}#0`, `${ids[1]}#1`]);
    expect(seen).toEqual([`${ids[0]}#0`, `${ids[0]}#1`, `${ids[1]}#0`, `${ids[1]}#1`]);
    expect(result.traces.map((t) => `${t.taskId}#${t.attempt}`)).toEqual(seen);
  });

  test('a failing episode fails the rollout, after the episodes already running have settled', async () => {
    let running = 0;
    const failure = rolloutTasks({
      benchmark: bench,
      config: harness(),
      harnessId: 'hx-fail',
      taskIds: ids.slice(0, 4),
      k: 1,
      seed: 'fail',
      concurrency: 4,
      limiters: null,
      wrapModel: (model, sample) => ({
        id: model.id,
        generate: async (request) => {
          running++;
          try {
            await new Promise((resolve) => setTimeout(resolve, 1));
            if (sample.includes(ids[1])) throw new ProviderError('boom', 'sim', 'small', false, 400, null, 'rejected');
            return await model.generate(request);
          } finally {
            running--;
          }
        },
      }),
    });
    await expect(failure).rejects.toThrow('boom');
    expect(running).toBe(0);
  });

  test('resume: finished episodes are not run again, and the result and trace order equal an uninterrupted run', async () => {
    const traces = new Map<string, EpisodeTrace>();
    const save = (trace: EpisodeTrace) => {
      const ref = `trace-${trace.taskId}-${trace.attempt}`;
      traces.set(ref, trace);
      return ref;
    };
    let snapshot: FinishedEpisode[] = [];
    const full = await run(8, {
      saveTrace: save,
      onProgress: (p) => {
        if (p.done === 7) snapshot = JSON.parse(JSON.stringify(p.finished));
      },
    });
    expect(snapshot.length).toBeGreaterThanOrEqual(7);
    expect(snapshot.every((e) => e.traceRef !== null)).toBe(true);
    const resumed = await run(8, { resume: snapshot, saveTrace: save, loadTrace: (ref) => traces.get(ref)! });
    for (const e of snapshot) expect(resumed.observed.calls.get(`conc|${e.taskId}|${e.attempt}`)).toBeUndefined();
    expect(resumed.observed.calls.size).toBe(20 - snapshot.length);
    expect(resumed.result.outcomes).toEqual(full.result.outcomes);
    expect(resumed.result.usage).toEqual(full.result.usage);
    expect(resumed.ordered).toEqual(full.ordered);
  });

  test('resume without trace refs reuses outcomes when traces are not needed, and re-runs episodes when they are', async () => {
    const full = await run(4);
    const snapshot: FinishedEpisode[] = [];
    await run(4, { onTrace: undefined, onProgress: (p) => void (p.done === 20 && snapshot.push(...p.finished)) });
    expect(snapshot).toHaveLength(20);
    const outcomesOnly = await run(4, { onTrace: undefined, resume: snapshot.slice(0, 10) });
    expect(outcomesOnly.observed.calls.size).toBe(10);
    expect(outcomesOnly.result.outcomes).toEqual(full.result.outcomes);
    const needsTraces = await run(4, { resume: snapshot.slice(0, 10) });
    expect(needsTraces.observed.calls.size).toBe(20);
    expect(needsTraces.ordered).toEqual(full.ordered);
  });

  test('heartbeat details: finished episodes read back, anything else ignored', () => {
    const episode = { taskId: 't', attempt: 1, success: true, usage: { inputTokens: 5, outputTokens: 2 }, traceRef: null };
    expect(finishedFromHeartbeat({ done: 1, total: 4, finished: [episode] })).toEqual([episode]);
    expect(finishedFromHeartbeat(undefined)).toEqual([]);
    expect(finishedFromHeartbeat({ done: 3, total: 4 })).toEqual([]);
    expect(finishedFromHeartbeat({ finished: [{ ...episode, attempt: -1 }] })).toEqual([]);
  });

  test('a resumed episode that is not part of the rollout is an error', async () => {
    await expect(run(2, { resume: [{ taskId: 'blocksworld/nope', attempt: 0, success: true, usage: { inputTokens: 0, outputTokens: 0 }, traceRef: null }] })).rejects.toThrow(/not part of this rollout/);
  });
});

describe('the endpoint limiter', () => {
  const counting = (limiter: EndpointLimiter, seen: { peak: number; overCeiling: number }, fail?: (n: number) => ProviderError | null): Model => {
    let n = 0;
    let inFlight = 0;
    return {
      id: 'openai:test',
      async generate(): Promise<ModelResponse> {
        const call = n++;
        inFlight++;
        seen.peak = Math.max(seen.peak, inFlight);
        if (inFlight > limiter.limit.maxInFlight) seen.overCeiling++;
        try {
          await new Promise((resolve) => setTimeout(resolve, Math.floor(hashUniform('d', call) * 3)));
          const error = fail?.(call);
          if (error) throw error;
          return { text: 'ok', toolCalls: [], usage: { inputTokens: 10, outputTokens: 1 }, stopReason: 'end_turn', model: 'openai:test' };
        } finally {
          inFlight--;
        }
      },
    };
  };

  test('never has more calls in flight than its ceiling, and uses all of it', async () => {
    const limiter = new EndpointLimiter('openai:test', { maxInFlight: 3 });
    const seen = { peak: 0, overCeiling: 0 };
    const model = withEndpointLimit(counting(limiter, seen), limiter);
    await Promise.all(Array.from({ length: 60 }, () => model.generate({ purpose: 'act', messages: [], parts: [], tools: [] })));
    expect(seen.overCeiling).toBe(0);
    expect(seen.peak).toBe(3);
    expect(limiter.stats.peakInFlight).toBe(3);
    expect(limiter.stats.calls).toBe(60);
    expect(limiter.active).toBe(0);
  });

  test('429s lower the ceiling (once per generation), the calls are retried, and successes raise it back', async () => {
    const clock = fakeClock();
    const limiter = new EndpointLimiter('openai:test', { maxInFlight: 8 }, clock);
    const seen = { peak: 0, overCeiling: 0 };
    const rateLimited = (n: number) => (n < 8 ? new ProviderError('slow down', 'openai', 'test', true, 429, null, 'rate_limited') : null);
    const model = withEndpointLimit(counting(limiter, seen, rateLimited), limiter, { clock, random: seededRandom('t') });
    const request = { purpose: 'act' as const, messages: [], parts: [], tools: [] };
    const replies = await Promise.all(Array.from({ length: 8 }, () => model.generate(request)));
    expect(replies.every((r) => r.text === 'ok')).toBe(true);
    expect(limiter.stats.rateLimited).toBe(8);
    // Eight 429s from calls started together count as one signal: one decrease, not eight. It goes to the
    // calls in flight when the first refused call was sent, less that call, within a quarter to a half of the ceiling.
    expect(limiter.stats.decreases).toBe(1);
    expect(limiter.stats.lowestCeiling).toBeGreaterThanOrEqual(2);
    expect(limiter.stats.lowestCeiling).toBeLessThanOrEqual(4);
    expect(clock.sleeps).toHaveLength(8);
    // Jittered exponential backoff without retry-after: within [0, base) on the first retry.
    expect(clock.sleeps.every((ms) => ms >= 0 && ms < 500)).toBe(true);
    for (let i = 0; i < 40; i++) await model.generate(request);
    expect(limiter.currentCeiling).toBe(8);
    expect(seen.overCeiling).toBe(0);
  });

  test('a call that keeps being rate limited fails after the bounded total wait; a 400 fails at once', async () => {
    const clock = fakeClock();
    const limiter = new EndpointLimiter('openai:test', { maxInFlight: 2 }, clock);
    const always429 = () => new ProviderError('slow down', 'openai', 'test', true, 429, 1000, 'rate_limited');
    const model = withEndpointLimit(counting(limiter, { peak: 0, overCeiling: 0 }, always429), limiter, { clock, retry: { maxTotalWaitMs: 5000 } });
    await expect(model.generate({ purpose: 'act', messages: [], parts: [], tools: [] })).rejects.toMatchObject({ kind: 'rate_limited', status: 429 });
    expect(clock.sleeps.length).toBe(4); // 4 waits of 1.0–1.1 s fit in 5 s, a fifth would not
    expect(clock.sleeps.every((ms) => ms >= 1000 && ms <= 1100)).toBe(true);

    const rejectClock = fakeClock();
    const rejected = new EndpointLimiter('openai:test', { maxInFlight: 2 }, rejectClock);
    let calls = 0;
    const bad = withEndpointLimit(counting(rejected, { peak: 0, overCeiling: 0 }, () => (calls++, new ProviderError('bad request', 'openai', 'test', false, 400, null, 'rejected'))), rejected, { clock: rejectClock });
    await expect(bad.generate({ purpose: 'act', messages: [], parts: [], tools: [] })).rejects.toMatchObject({ kind: 'rejected', status: 400 });
    expect(calls).toBe(1);
    expect(rejectClock.sleeps).toEqual([]);
    expect(rejected.stats.decreases).toBe(0);
  });

  test('requests per minute pace the calls (waits asked of the clock, not taken)', async () => {
    const clock = fakeClock();
    const limiter = new EndpointLimiter('openai:test', { maxInFlight: 4, requestsPerMinute: 60 }, clock);
    const model = withEndpointLimit(counting(limiter, { peak: 0, overCeiling: 0 }), limiter, { clock });
    await Promise.all(Array.from({ length: 5 }, () => model.generate({ purpose: 'act', messages: [], parts: [], tools: [] })));
    // 60/min is one a second with a burst of one: four waits of about a second for five calls.
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4000 - 4);
    expect(limiter.stats.calls).toBe(5);
  });

  test('a background call takes only a slot no foreground call is waiting for; FIFO within each priority', async () => {
    const limiter = new EndpointLimiter('test:priority', { maxInFlight: 2 });
    const order: string[] = [];
    const grab = (name: string, priority?: CallPriority) =>
      limiter.acquire(priority).then((permit) => {
        order.push(name);
        return permit;
      });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    // With a slot free and nobody waiting, a background call starts at once.
    const b0 = await grab('b0', 'background');
    const f1 = await grab('f1');
    // Full: a background call waits first, then two foreground calls and another background one.
    const b1 = grab('b1', 'background');
    const f2 = grab('f2');
    const f3 = grab('f3');
    const b2 = grab('b2', 'background');
    expect(limiter.queued).toBe(4);
    b0.release({ ok: true });
    await settle();
    expect(order).toEqual(['b0', 'f1', 'f2']); // f2 overtook b1, which waited longer
    f1.release({ ok: true });
    await settle();
    expect(order).toEqual(['b0', 'f1', 'f2', 'f3']);
    (await f2).release({ ok: true });
    await settle();
    expect(order).toEqual(['b0', 'f1', 'f2', 'f3', 'b1']); // no foreground call waits: the background queue, in order
    // A foreground call arriving while b2 waits still goes first.
    const f4 = grab('f4');
    (await f3).release({ ok: true });
    await settle();
    expect(order.at(-1)).toBe('f4');
    (await b1).release({ ok: true });
    await settle();
    expect(order.at(-1)).toBe('b2');
    expect(limiter.stats.peakInFlight).toBe(2);
    for (const p of [await f4, await b2]) p.release({ ok: true });
    expect(limiter.active).toBe(0);
  });

  test('a rollout at background priority waits while a foreground one keeps the endpoint busy, with the same outcomes', async () => {
    const limiter = new EndpointLimiter('test:rollout-priority', { maxInFlight: 2 });
    const limiters = { limiterFor: () => limiter } as unknown as EndpointLimiters;
    const calls: string[] = [];
    let inFlight = 0;
    let over = 0;
    // The simulator's answers, under a remote-looking id (the in-process simulator takes no slot), a little slower.
    const substitute = (tag: string) => (model: Model): Model => ({
      id: 'openai-compatible:priority-test',
      async generate(request) {
        calls.push(tag);
        if (++inFlight > 2) over++;
        try {
          await new Promise((resolve) => setTimeout(resolve, 2));
          return await model.generate(request);
        } finally {
          inFlight--;
        }
      },
    });
    const spec = (tag: string, priority?: CallPriority): RolloutSpec => ({ benchmark: bench, config: harness(), harnessId: 'hx-p', taskIds: ids.slice(0, 4), k: 1, seed: 'prio', limiters, substituteModel: substitute(tag), concurrency: 4, keepTraces: false, ...(priority ? { priority } : {}) });
    const alone = await rolloutTasks(spec('x', 'background'));
    calls.length = 0;
    const [fg, bg] = await Promise.all([rolloutTasks(spec('f')), rolloutTasks(spec('b', 'background'))]);
    expect(bg.outcomes).toEqual(fg.outcomes);
    expect(bg.outcomes).toEqual(alone.outcomes);
    expect(over).toBe(0);
    // Four foreground episodes keep two slots' worth of calls waiting until their last steps: the background
    // rollout's calls come mostly after them (without priorities the two would alternate from the start).
    const fgCalls = calls.filter((c) => c === 'f').length;
    const bgBeforeLastFg = calls.slice(0, calls.lastIndexOf('f')).filter((c) => c === 'b').length;
    expect(calls.slice(0, 2)).toEqual(['f', 'f']);
    expect(bgBeforeLastFg).toBeLessThan(fgCalls / 4);
  });

  test('one limiter per endpoint, shared: the same model id gets the same limiter, another endpoint its own', () => {
    const limiters = new EndpointLimiters({ cpus: 2 });
    const a = limiters.limiterFor('openai-compatible:m@http://127.0.0.1:8000/v1');
    expect(limiters.limiterFor('openai-compatible:m@http://127.0.0.1:8000/v1')).toBe(a);
    expect(limiters.limiterFor('openai-compatible:m@http://127.0.0.1:9000/v1')).not.toBe(a);
    expect(a.limit.maxInFlight).toBe(32);
    // A run's limits reconfigure the shared limiter, and status shows where the value came from.
    limiters.limiterFor('openai-compatible:m@http://127.0.0.1:8000/v1', { 'openai-compatible': { maxInFlight: 5 } });
    expect(a.limit.maxInFlight).toBe(5);
    expect(limiters.inForce().find((l) => l.key === a.key)).toMatchObject({ source: 'run input "openai-compatible"', ceiling: 5 });
  });
});

describe('endpoint limit settings', () => {
  test('the keys a setting may name are exactly the model registry’s providers', () => {
    expect([...ENDPOINT_PROVIDERS].sort()).toEqual([...PROVIDER_NAMES].sort());
  });

  test('defaults: the simulator by cores, a local server 32, a paid or remote API 8', () => {
    const d = (id: string) => resolveEndpointLimit(id, {}, { cpus: 3 }).limit.maxInFlight;
    expect(d('sim:small')).toBe(3);
    expect(d('openai-compatible:qwen@http://localhost:8000/v1')).toBe(32);
    expect(d('openai-compatible:qwen@http://10.0.0.7:8000/v1')).toBe(32);
    expect(d('openai-compatible:qwen@https://api.together.xyz/v1')).toBe(8);
    expect(d('anthropic:claude-opus-4-6')).toBe(8);
    expect(d('openai:gpt-5.4')).toBe(8);
  });

  test('the environment (JSON or compact) and the run input, most specific key first, the run over the environment', () => {
    const env = parseEndpointLimitsText('openai-compatible=16; openai-compatible:big@http://gpu:8000/v1=64,rpm=600,tpm=100000');
    expect(env).toEqual({ 'openai-compatible': { maxInFlight: 16 }, 'openai-compatible:big@http://gpu:8000/v1': { maxInFlight: 64, requestsPerMinute: 600, tokensPerMinute: 100000 } });
    expect(parseEndpointLimitsText('{"anthropic": {"maxInFlight": 4, "requestsPerMinute": 50}}')).toEqual({ anthropic: { maxInFlight: 4, requestsPerMinute: 50 } });
    expect(parseEndpointLimitsText('  ')).toEqual({});
    const r = (id: string, run?: Record<string, { maxInFlight: number }>) => resolveEndpointLimit(id, { env, run }, { cpus: 2 });
    expect(r('openai-compatible:big@http://gpu:8000/v1').limit.maxInFlight).toBe(64);
    expect(r('openai-compatible:small@http://gpu:8000/v1')).toEqual({ limit: { maxInFlight: 16 }, source: 'environment "openai-compatible"' });
    expect(r('openai-compatible:big@http://gpu:8000/v1', { 'openai-compatible:big@http://gpu:8000/v1': { maxInFlight: 3 } }).limit.maxInFlight).toBe(3);
    expect(parseEndpointLimits({ sim: { maxInFlight: 1 } })).toEqual({ sim: { maxInFlight: 1 } });
  });

  test.each([
    ['openai-compatible=0', /HARNESSX_ENDPOINT_LIMITS: "openai-compatible=0": maxInFlight must be a whole number ≥ 1, got "0"/],
    ['openai-compatible=-4', /maxInFlight must be a whole number ≥ 1, got "-4"/],
    ['openai-compatible=lots', /maxInFlight must be a whole number ≥ 1, got "lots"/],
    ['anthropic=4,rpm=fast', /requestsPerMinute must be a whole number ≥ 1, got "fast"/],
    ['anthropic=4,burst=9', /unknown option "burst=9" \(allowed: rpm=N, tpm=N\)/],
    ['vllm=8', /HARNESSX_ENDPOINT_LIMITS: unknown endpoint key "vllm": use a provider \(sim, anthropic, openai, openai-compatible\)/],
    ['{"openai": {"maxInFlight": 0}}', /HARNESSX_ENDPOINT_LIMITS: maxInFlight must be a whole number ≥ 1 at openai.maxInFlight/],
    ['{"openai": {"maxInFlight": 2.5}}', /maxInFlight must be a whole number ≥ 1 at openai.maxInFlight/],
    ['{"openai": {"maxInFlight": "8"}}', /maxInFlight must be a whole number ≥ 1 at openai.maxInFlight/],
    ['{"openai": {"maxInFlight": 8, "burst": 2}}', /allowed fields: maxInFlight, requestsPerMinute, tokensPerMinute/],
    ['{"openai": ', /HARNESSX_ENDPOINT_LIMITS: not valid JSON/],
    ['=4', /must look like key=maxInFlight/],
  ])('the environment setting %s is refused with what is allowed', (text, message) => {
    const error = (() => {
      try {
        parseEndpointLimitsText(text);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(EndpointLimitsError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/allowed|use a provider|seconds/);
  });

  test('the run input is refused by field name, and its schema rejects the same values', () => {
    expect(() => parseEndpointLimits({ 'openai-compatible': { maxInFlight: -1 } })).toThrow(/^endpointLimits: maxInFlight must be a whole number ≥ 1 at openai-compatible.maxInFlight/);
    expect(() => parseEndpointLimits({ mystery: { maxInFlight: 2 } })).toThrow(/^endpointLimits: unknown endpoint key "mystery"/);
    expect(() => parseEndpointLimits({ 'sim:': { maxInFlight: 2 } })).toThrow(/names no model/);
    expect(endpointLimitsSchema().safeParse({ sim: { maxInFlight: 0 } }).success).toBe(false);
    expect(endpointLimitsSchema().safeParse({ sim: { maxInFlight: 2 } }).success).toBe(true);
  });

  test('the rate-limit wait setting: seconds from 0 to 3600', () => {
    expect(parseRateLimitWaitSeconds(undefined)).toBeNull();
    expect(parseRateLimitWaitSeconds('0')).toBe(0);
    expect(parseRateLimitWaitSeconds('90')).toBe(90);
    expect(() => parseRateLimitWaitSeconds('-1')).toThrow(/HARNESSX_RATE_LIMIT_WAIT_S: must be a number of seconds from 0 to 3600, got "-1"/);
    expect(() => parseRateLimitWaitSeconds('soon')).toThrow(/HARNESSX_RATE_LIMIT_WAIT_S/);
  });
});

describe('a real OpenAI-protocol endpoint (local server, real openai SDK)', () => {
  const config = (url: string): HarnessConfig => ({ ...harness(), model: { main: { model: `openai-compatible:m@${url}/v1` } } });

  test('a 429 with retry-after is waited out and the call retried: the rollout survives', async () => {
    let served = 0;
    const server = await startWireServer((r) => {
      if (r.path !== '/v1/chat/completions') return undefined;
      served++;
      if (served === 1) return { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'rate limited' } } };
      return { body: openaiToolCall('pick_up', '{"block":"red"}') };
    });
    const clock = fakeClock();
    const limiters = new EndpointLimiters({ cpus: 2, clock });
    try {
      const result = await rolloutTasks({ benchmark: bench, config: config(server.url), harnessId: 'hx-429', taskIds: ids.slice(0, 1), k: 1, seed: 'w', keepTraces: false, limiters, limitedModel: { clock } });
      expect(result.episodes).toBe(1);
      expect(server.requests.length).toBeGreaterThan(2);
      // The first and second requests are the same call: the one that met the 429, retried.
      expect(server.requests[1].body).toEqual(server.requests[0].body);
      expect(clock.sleeps.length).toBe(1);
      expect(clock.sleeps[0]).toBeGreaterThanOrEqual(1000);
      expect(clock.sleeps[0]).toBeLessThanOrEqual(1100);
      expect(limiters.inForce()[0].stats).toMatchObject({ rateLimited: 1, decreases: 1 });
      expect(server.unexpected).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test('a 400 fails the rollout at once, with provider, model and cause, after one request', async () => {
    const server = await startWireServer(() => ({ status: 400, body: { error: { message: 'bad tools' } } }));
    const clock = fakeClock();
    try {
      const failure = rolloutTasks({ benchmark: bench, config: config(server.url), harnessId: 'hx-400', taskIds: ids.slice(0, 1), k: 1, seed: 'w', limiters: new EndpointLimiters({ cpus: 2, clock }), limitedModel: { clock } });
      await expect(failure).rejects.toThrow(/openai-compatible model "m": request rejected \(400\)/);
      expect(server.requests).toHaveLength(1);
      expect(clock.sleeps).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('the bench latency endpoint', () => {
  test('answers as the simulator through the real SDK, and 429s above its cap are waited out by the limiter', async () => {
    const server = await startLatencyServer({ latencyMs: 2, capacity: 2 });
    try {
      const config = harness();
      const taskIds = ids.slice(0, 4);
      const reference = await rolloutTasks({ benchmark: bench, config, harnessId: 'hx-lat', taskIds, k: 2, seed: 'lat', keepTraces: false, limiters: null });
      // A limit of 6 against a cap of 2: the endpoint refuses some calls; every one is retried, none lost.
      const result = await inProcessRunner.run({ server, benchmark: bench, config, harnessId: 'hx-lat', simModel: 'sim:small', taskIds, k: 2, seed: 'lat', limit: 6 });
      expect(result.outcomes).toEqual(reference.outcomes);
      expect(server.stats.rejected).toBeGreaterThan(0);
      expect(result.rateLimitedSeenByClient).toBe(server.stats.rejected);
      expect(server.stats.peakInFlight).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
    }
  });
});

import { defaultRolloutConcurrency, rolloutTasks } from '../../aegis/rollout';
import { getBenchmark } from '../../benchmarks/registry';
import { parseHarnessConfig } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import type { Model } from '../../harness/processor';
import { EndpointLimiters } from '../../models/endpoint-limiter';

/**
 * Simulator rollouts take the cheap path: the simulator is synchronous CPU work on this thread, so they run
 * one episode at a time (unless code processors give a sandbox thread work to overlap) and skip the endpoint
 * limiter. Real endpoints keep theirs. Results are the same either way.
 */
const bench = getBenchmark('blocksworld');
const ids = bench.tasks().filter((t) => t.split === 'train').slice(0, 6).map((t) => t.id);
const withCode = (model: string) =>
  parseHarnessConfig({ model: { main: { model } }, hooks: { before_model: [{ id: 'noop', type: 'code', params: { source: 'export function process(event) { return null; }', smokeTests: [{ name: 'x', event: { hook: 'before_model' }, expect: 'unchanged' }], timeoutMs: 1000 } }] } });

describe('the simulator\'s rollout path', () => {
  it('runs simulator episodes one at a time by default; code processors keep the cores; endpoints eight times their limit', () => {
    const limiters = new EndpointLimiters({ cpus: 4 });
    expect(defaultRolloutConcurrency({ config: seedHarness('sim:small'), limiters })).toBe(1);
    expect(defaultRolloutConcurrency({ config: withCode('sim:small'), limiters })).toBe(4);
    expect(defaultRolloutConcurrency({ config: seedHarness('openai-compatible:m@http://127.0.0.1:8000/v1'), limiters })).toBe(256);
    // At most 512 open, never fewer than twice the limit.
    const at = (maxInFlight: number) => defaultRolloutConcurrency({ config: seedHarness('openai-compatible:m@http://127.0.0.1:8000/v1'), limiters, endpointLimits: { 'openai-compatible': { maxInFlight } } });
    expect([at(64), at(128), at(256), at(300)]).toEqual([512, 512, 512, 600]);
    // Episodes that each start a process (a stateful MCP server) keep twice the limit open.
    expect(defaultRolloutConcurrency({ config: seedHarness('openai-compatible:m@http://127.0.0.1:8000/v1'), limiters, benchmark: { episodesStartProcesses: true } })).toBe(64);
    // A simulator substituted by a model over the wire (the bench, tests) is an endpoint again.
    const overWire = (m: Model) => ({ ...m, id: 'openai-compatible:sim@http://127.0.0.1:9/v1' });
    expect(defaultRolloutConcurrency({ config: seedHarness('sim:small'), limiters, substituteModel: overWire })).toBe(256);
  });

  it('simulator calls skip the endpoint limiter; the same episodes give the same results through it', async () => {
    const config = seedHarness('sim:small');
    const limiters = new EndpointLimiters({ cpus: 2 });
    const cheap = await rolloutTasks({ benchmark: bench, config, harnessId: 'hx-cheap', taskIds: ids, k: 2, seed: 'path', keepTraces: false, limiters });
    expect(limiters.inForce()).toEqual([]);
    // The old path: two episodes at once, every call through a limiter (forced by naming the limiter's model).
    const through = new EndpointLimiters({ cpus: 2 });
    const limited = await rolloutTasks({
      benchmark: bench,
      config,
      harnessId: 'hx-cheap',
      taskIds: ids,
      k: 2,
      seed: 'path',
      keepTraces: false,
      concurrency: 2,
      limiters: through,
      substituteModel: (m) => ({ id: 'openai-compatible:sim@http://127.0.0.1:9/v1', generate: (r) => m.generate(r) }),
    });
    expect(through.inForce()[0].stats.calls).toBeGreaterThan(0);
    expect(limited.outcomes).toEqual(cheap.outcomes);
    expect(limited.usage).toEqual(cheap.usage);
  });
});

import { z } from 'zod';
import { rolloutTasks } from '../../aegis/rollout';
import { getBenchmark, BENCHMARK_NAMES } from '../../benchmarks/registry';
import { guardTools } from '../../benchmarks/tool-guard';
import type { Benchmark, ScoredEnvironment } from '../../benchmarks/types';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import type { ToolCall, ToolResult } from '../../harness/types';
import { functionToolProvider } from '../../suites/function-tools';

/**
 * A tool never crashes a rollout (issue 27): every tool of every benchmark, called with prototype keys for
 * its name and its arguments, wrong types, huge and empty values, answers with a tool result and never
 * throws; and where a tool does throw, the rollout records it as that episode's failed call.
 */
jest.setTimeout(600_000);
const PROTOTYPE_KEYS = ['constructor', 'hasOwnProperty', '__proto__', 'toString', 'valueOf', 'prototype', '__defineGetter__'];
const HUGE = 'x'.repeat(1 << 20);
const VALUES: unknown[] = [...PROTOTYPE_KEYS, '', HUGE, 0, -1, 1e308, NaN, null, true, [], ['constructor'], {}, { constructor: 1 }, [HUGE]];
const ARGS_SHAPES: unknown[] = [undefined, null, [], 'constructor', 42, {}, Object.create(null), JSON.parse('{"__proto__": {"polluted": true}}')];

/** Calls for one tool: its real name with each odd value in each parameter, odd argument objects, and odd names. */
function fuzzCalls(tool: { name: string; parameters: Record<string, unknown> }): ToolCall[] {
  const params = Object.keys(tool.parameters);
  const calls: ToolCall[] = [];
  for (const p of params) for (const v of VALUES) calls.push({ id: 'f', name: tool.name, args: { ...Object.fromEntries(params.map((q) => [q, 'constructor'])), [p]: v } });
  for (const args of ARGS_SHAPES) calls.push({ id: 'f', name: tool.name, args: args as Record<string, unknown> });
  return calls;
}
const ODD_NAMES: ToolCall[] = [...PROTOTYPE_KEYS, '', HUGE].map((name) => ({ id: 'f', name, args: {} }));

async function executeAll(env: ScoredEnvironment, calls: ToolCall[]): Promise<ToolResult[]> {
  const results: ToolResult[] = [];
  for (const call of calls) results.push(await env.execute(call));
  return results;
}

describe('every tool of every benchmark survives odd calls', () => {
  test.each(BENCHMARK_NAMES.map((n) => [n]))('%s', async (name) => {
    const bench = getBenchmark(name) as Benchmark;
    const taskId = bench.tasks().find((t) => t.split === 'test')?.id ?? bench.tasks()[0].id;
    const fresh = async () => (await bench.createEnvironment(taskId, { seed: 'fuzz' })) as ScoredEnvironment;
    const tools = (await fresh()).tools();
    expect(tools.length).toBeGreaterThan(0);
    let calls = 0;
    for (const tool of tools) {
      // A fresh environment per tool: a terminal call (submit, transfer) would make later calls trivial.
      const env = await fresh();
      const results = await executeAll(env, fuzzCalls(tool));
      calls += results.length;
      for (const r of results) {
        expect(typeof r.ok).toBe('boolean');
        expect(typeof r.output).toBe('string');
        // The environment's own dispatch answered: nothing reached the crash guard.
        expect(r.errorKind).not.toBe('tool_crashed');
      }
      await env.close?.();
    }
    const env = await fresh();
    for (const r of await executeAll(env, ODD_NAMES)) expect(r).toMatchObject({ ok: false });
    await env.close?.();
    expect(calls).toBeGreaterThan(tools.length * VALUES.length - 1);
  });

  test('tau2-retail: the probes from outside (a prototype key as a user id, an order id, a tool name)', async () => {
    const bench = getBenchmark('tau2-retail') as Benchmark;
    const env = (await bench.createEnvironment(bench.tasks()[0].id, { seed: 'probe' })) as ScoredEnvironment;
    expect(await env.execute({ id: '1', name: 'get_user_details', args: { user_id: 'constructor' } })).toMatchObject({ ok: false, output: 'Error: User not found' });
    expect(await env.execute({ id: '2', name: 'cancel_pending_order', args: { order_id: 'constructor', reason: 'no longer needed' } })).toMatchObject({ ok: false, output: 'Error: Order not found' });
    expect(await env.execute({ id: '3', name: 'get_product_details', args: { product_id: '__proto__' } })).toMatchObject({ ok: false, output: 'Error: Product not found' });
    expect(await env.execute({ id: '4', name: 'hasOwnProperty', args: {} })).toMatchObject({ ok: false, errorKind: 'bad_arguments' });
  });

  test('blocksworld: a tool named constructor or hasOwnProperty is an unknown tool', async () => {
    const bench = getBenchmark('blocksworld') as Benchmark;
    const env = (await bench.createEnvironment(bench.tasks()[0].id, { seed: 'probe' })) as ScoredEnvironment;
    for (const name of ['constructor', 'hasOwnProperty']) expect(await env.execute({ id: '1', name, args: {} })).toMatchObject({ ok: false, errorKind: 'unknown_tool' });
    expect(await env.execute({ id: '2', name: 'pick_up', args: { block: 'constructor' } })).toMatchObject({ ok: false, errorKind: 'bad_arguments' });
  });

  test("a suite's function tools: a throwing tool, an unserialisable answer and odd arguments are tool errors", async () => {
    const provider = functionToolProvider(
      [
        { name: 'boom', description: 'throws', parameters: z.object({ id: z.string() }), execute: () => { throw new TypeError('x.y is not a function'); } },
        { name: 'cycle', description: 'answers a circular object', parameters: z.object({}), execute: () => { const o: Record<string, unknown> = {}; o.self = o; return o; } },
      ],
      { where: 'fuzz' },
    );
    const session = await provider.open({ suite: 'fuzz', taskId: 't', seed: 's' });
    for (const tool of session.specs)
      for (const call of [...fuzzCalls(tool), ...ODD_NAMES]) {
        const r = await session.call(call);
        if (call.name !== 'cycle') expect(r.ok).toBe(false);
        expect(typeof r.output).toBe('string');
      }
    await session.close();
  });
});

describe('a tool that throws fails its episode, never the rollout', () => {
  test('guardTools turns a sync throw and a rejected promise into a tool_crashed result, and passes results through', async () => {
    const sync = guardTools({ execute: (_call: ToolCall): ToolResult => { throw new TypeError("Cannot read properties of undefined (reading 'x')"); } });
    expect(sync.execute({ id: '1', name: 'constructor', args: {} })).toEqual({ ok: false, errorKind: 'tool_crashed', output: `The tool "constructor" failed: TypeError: Cannot read properties of undefined (reading 'x')` });
    const async = guardTools({ execute: async (_call: ToolCall): Promise<ToolResult> => { throw new Error('socket hang up'); } });
    expect(await async.execute({ id: '1', name: 'fetch', args: {} })).toMatchObject({ ok: false, errorKind: 'tool_crashed', output: 'The tool "fetch" failed: Error: socket hang up' });
    const fine = guardTools({ execute: (_call: ToolCall): ToolResult => ({ ok: true, output: 'done' }) });
    expect(fine.execute({ id: '1', name: 'x', args: {} })).toEqual({ ok: true, output: 'done' });
  });

  test('a rollout whose every tool throws scores its episodes 0 and records the crash in their traces', async () => {
    const gsm8k = getBenchmark('gsm8k');
    const crashing: Benchmark = Object.assign(Object.create(gsm8k) as Benchmark, {
      createEnvironment(taskId: string, options: { seed: string }) {
        const env = gsm8k.createEnvironment(taskId, options);
        return { ...env, execute: () => { throw new TypeError('crash inside the tool'); } };
      },
    });
    const config = seedHarness('sim:large');
    const ids = gsm8k.tasks().slice(0, 3).map((t) => t.id);
    const r = await rolloutTasks({ benchmark: crashing, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'crash' });
    expect(r.outcomes).toHaveLength(3);
    expect(r.outcomes.every((o) => !o.passed)).toBe(true);
    const crashes = r.traces.flatMap((t) => t.records.filter((rec) => rec.kind === 'tool_call' && rec.result.errorKind === 'tool_crashed'));
    expect(crashes.length).toBeGreaterThanOrEqual(3);
  });
});

import { z } from 'zod';
import { getBenchmark } from '../../benchmarks/registry';
import { checkContract, HookContractViolation } from '../../harness/contracts';
import { harnessId, parseHarnessConfig } from '../../harness/config';
import { defineProcessor, mapProcessor } from '../../harness/processor';
import { PROCESSOR_LIBRARY } from '../../harness/processors';
import { runEpisode } from '../../harness/run-loop';
import type { HookEvent, HookName } from '../../harness/types';
import { createModel } from '../../models/registry';

const req = { purpose: 'act' as const, messages: [{ role: 'system' as const, content: 's' }, { role: 'user' as const, content: 'u' }], parts: [], tools: [] };

describe('hook contracts', () => {
  const violation = (before: HookEvent, after: unknown) => {
    try {
      checkContract('p1', before, after);
    } catch (e) {
      expect(e).toBeInstanceOf(HookContractViolation);
      return `${(e as HookContractViolation).hook}:${(e as HookContractViolation).field}`;
    }
    return null;
  };

  it('lets each hook change only what its contract allows', () => {
    const bm: HookEvent = { hook: 'before_model', step: 1, request: req };
    expect(violation(bm, { ...bm, request: { ...req, messages: [req.messages[0], { role: 'user', content: 'u + more' }] } })).toBeNull();
    expect(violation(bm, { ...bm, request: { ...req, messages: [...req.messages, { role: 'user', content: 'extra' }] } })).toBeNull();
    expect(violation(bm, { ...bm, request: { ...req, parts: [{ kind: 'k', text: 't' }] } })).toBeNull();
    expect(violation(bm, { ...bm, request: { ...req, messages: [{ role: 'system', content: 'hacked' }, req.messages[1]] } })).toBe('before_model:request.messages[0]');
    expect(violation(bm, { ...bm, request: { ...req, messages: [...req.messages, { role: 'assistant', content: 'x' }] } })).toBe('before_model:request.messages[2]');
    expect(violation(bm, { ...bm, request: { ...req, purpose: 'plan' } })).toBe('before_model:request.purpose');
    expect(violation(bm, { ...bm, step: 9 })).toBe('before_model:step');

    const ts: HookEvent = { hook: 'task_start', task: { id: 't', instruction: 'i' }, systemPrompt: '', tools: [] };
    expect(violation(ts, { ...ts, systemPrompt: 'new' })).toBeNull();
    expect(violation(ts, { ...ts, task: { id: 'other', instruction: 'i' } })).toBe('task_start:task');

    const am: HookEvent = { hook: 'after_model', step: 1, response: { text: 'a', toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: 'm' } };
    expect(violation(am, { ...am, response: { ...am.response, text: 'b' } })).toBeNull();
    expect(violation(am, { ...am, response: { ...am.response, usage: { inputTokens: 0, outputTokens: 0 } } })).toBe('after_model:response.usage');

    const bt: HookEvent = { hook: 'before_tool', step: 1, call: { id: 'c', name: 'n', args: {} }, approved: true };
    expect(violation(bt, { ...bt, call: { ...bt.call, args: { a: 1 } }, approved: false })).toBeNull();
    expect(violation(bt, { ...bt, call: { ...bt.call, name: 'other' } })).toBe('before_tool:call');

    const at: HookEvent = { hook: 'after_tool', step: 1, call: bt.call, result: { ok: true, output: 'o' } };
    expect(violation(at, { ...at, result: { ok: false, output: 'x' } })).toBeNull();
    expect(violation(at, { ...at, call: { ...bt.call, args: { z: 1 } } })).toBe('after_tool:call');

    const se: HookEvent = { hook: 'step_end', step: 1, observation: 'o', done: false };
    expect(violation(se, { ...se, done: true })).toBe('step_end:done');
    const te: HookEvent = { hook: 'task_end', steps: 1, success: false, reason: 'goal_reached' };
    expect(violation(te, { ...te, success: true })).toBe('task_end:success');
    expect(violation(te, { hook: 'step_end' })).toBe('task_end:hook');
  });
});

describe('run loop', () => {
  const bench = getBenchmark('blocksworld');
  const taskId = bench.tasks()[0].id;
  const run = async (hooks: Record<string, unknown>, seed = 's1') => {
    const config = parseHarnessConfig({ model: { main: { model: 'sim:large' } }, hooks });
    const env = bench.createEnvironment(taskId, { seed });
    return runEpisode({ config, harnessId: harnessId(config), env, model: createModel('sim:large', { seed }), task: bench.task(taskId), seed, attempt: 0 });
  };

  afterEach(() => {
    for (const key of Object.keys(PROCESSOR_LIBRARY)) if (key.startsWith('test_')) delete PROCESSOR_LIBRARY[key];
  });

  function register(type: string, hook: HookName, fn: (e: HookEvent) => unknown) {
    PROCESSOR_LIBRARY[type] = defineProcessor({
      type, dimension: 'control', description: 'test', hooks: [hook], meta: { order: 'normal' }, params: z.object({}),
      create: () => mapProcessor((e: HookEvent) => fn(e) as HookEvent),
    });
  }

  it('records model calls, tool calls and the outcome, and respects the step budget', async () => {
    const trace = await run({ step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 3 } }] });
    expect(trace.steps).toBeLessThanOrEqual(3);
    expect(trace.records.filter((r) => r.kind === 'model_call').length).toBeGreaterThan(0);
    expect(trace.records.some((r) => r.kind === 'tool_call')).toBe(true);
    expect(['goal_reached', 'step_budget_exhausted']).toContain(trace.endReason);
    expect(trace.usage.inputTokens).toBeGreaterThan(0);
  });

  it('counts steps taken: the step a step budget ends at its start is not one, and task_end sees the same count', async () => {
    const seenAtEnd: number[] = [];
    register('test_end_spy', 'task_end', (e) => (seenAtEnd.push((e as Extract<HookEvent, { hook: 'task_end' }>).steps), e));
    const budgeted = await run({ step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 2 } }], task_end: [{ id: 'spy', type: 'test_end_spy', params: {} }] });
    expect(budgeted.endReason).toBe('step_budget_exhausted');
    expect(budgeted.records.filter((r) => r.kind === 'model_call')).toHaveLength(2);
    expect(budgeted.steps).toBe(2);
    // An episode that reaches its goal counts its last step.
    const free = await run({ task_end: [{ id: 'spy', type: 'test_end_spy', params: {} }] });
    expect(free.endReason).toBe('goal_reached');
    expect(free.steps).toBe(Math.max(...free.records.filter((r) => r.kind === 'model_call').map((r) => r.step)));
    expect(seenAtEnd).toEqual([2, free.steps]);
  });

  it('ends the episode with a harness error naming processor, hook and field on a contract violation', async () => {
    register('test_rewrites_system', 'before_model', (e) => {
      const ev = e as Extract<HookEvent, { hook: 'before_model' }>;
      return { ...ev, request: { ...ev.request, messages: [{ role: 'system', content: 'evil' }, ...ev.request.messages.slice(1)] } };
    });
    const trace = await run({
      task_start: [{ id: 'sp', type: 'system_prompt', params: {} }],
      before_model: [{ id: 'rogue', type: 'test_rewrites_system', params: {} }],
    });
    expect(trace.endReason).toBe('harness_error');
    const error = trace.records.find((r) => r.kind === 'error');
    expect(error).toEqual(expect.objectContaining({ processorId: 'rogue', hook: 'before_model', message: expect.stringContaining('request.messages[0]') }));
  });

  it('rejects splitting on hooks that need exactly one event', async () => {
    PROCESSOR_LIBRARY.test_splitter = defineProcessor({
      type: 'test_splitter', dimension: 'control', description: 'test', hooks: ['after_model'], meta: { order: 'normal' }, params: z.object({}),
      create: () => ({ async *process(e) { yield e; yield e; } }),
    });
    const trace = await run({ after_model: [{ id: 'split', type: 'test_splitter', params: {} }] });
    expect(trace.endReason).toBe('harness_error');
    expect(trace.records.find((r) => r.kind === 'error')).toEqual(expect.objectContaining({ processorId: 'split', message: expect.stringMatching(/yielded 2 events/) }));
  });

  it('runs an intercepting before_tool processor as a blocked call', async () => {
    PROCESSOR_LIBRARY.test_blocker = defineProcessor({
      type: 'test_blocker', dimension: 'control', description: 'test', hooks: ['before_tool'], meta: { order: 'normal' }, params: z.object({}),
      create: () => ({ async *process() { /* intercept: yields nothing */ } }),
    });
    const trace = await run({ step_start: [{ id: 'b', type: 'step_budget', params: { maxSteps: 2 } }], before_tool: [{ id: 'block', type: 'test_blocker', params: {} }] });
    expect(trace.success).toBe(false);
    expect(trace.records.filter((r) => r.kind === 'tool_call')).toEqual([]);
  });
});

describe('trace levels', () => {
  test('compact traces drop pass-through hook records and parts resent unchanged, without changing the episode', async () => {
    const bench = getBenchmark('blocksworld');
    const base = {
      model: { main: { model: 'sim:small' } },
      hooks: {
        task_start: [{ id: 'system_prompt', type: 'system_prompt', params: {} }],
        step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 20 } }],
        before_model: [{ id: 'plan_then_act', type: 'plan_then_act', params: {} }, { id: 'notes', type: 'notes', params: {} }],
      },
    };
    const run = async (level: 'full' | 'compact') => {
      const config = parseHarnessConfig({ ...base, slots: { tracer: { level } } });
      const task = bench.tasks()[3];
      return runEpisode({ config, harnessId: harnessId(config), env: bench.createEnvironment(task.id, { seed: 'lvl' }), model: createModel('sim:small', { seed: 'lvl|0' }), task, seed: 'lvl', attempt: 0 });
    };
    const [full, compact] = [await run('full'), await run('compact')];
    expect(compact.steps).toBe(full.steps);
    expect(compact.endReason).toBe(full.endReason);
    const calls = (t: typeof full) => t.records.filter((r) => r.kind === 'tool_call').map((r) => JSON.stringify(r));
    expect(calls(compact)).toEqual(calls(full));
    expect(full.records.some((r) => r.kind === 'hook' && r.outcome === 'ok')).toBe(true);
    expect(compact.records.some((r) => r.kind === 'hook' && r.outcome === 'ok')).toBe(false);
    const modelCalls = compact.records.filter((r) => r.kind === 'model_call' && r.purpose === 'act');
    expect(modelCalls.some((r) => r.kind === 'model_call' && (r.request.carriedParts ?? 0) > 0)).toBe(true);
    // Compact parts keep what the model read, not the processors' structured data; full ones keep both.
    const parts = (t: typeof full) => t.records.flatMap((r) => (r.kind === 'model_call' ? r.request.parts : []));
    expect(parts(compact).length).toBeGreaterThan(0);
    expect(parts(compact).every((p) => p.data === undefined && typeof p.text === 'string')).toBe(true);
    expect(parts(full).some((p) => p.data !== undefined)).toBe(true);
    expect(JSON.stringify(compact.records).length).toBeLessThan(JSON.stringify(full.records).length);
  });
});

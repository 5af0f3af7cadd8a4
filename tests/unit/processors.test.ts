import { PROCESSOR_LIBRARY } from '../../harness/processors';
import type { HookEvent, Message, ModelRequest } from '../../harness/types';
import { context, runProcessor, ScriptedModel } from '../helpers/processor-harness';

const request = (messages: Message[], purpose: ModelRequest['purpose'] = 'act'): HookEvent => ({
  hook: 'before_model',
  step: 3,
  request: { purpose, messages, parts: [], tools: [] },
});
const state = (facts: string) => `Done.\nCurrent state: ${facts}.`;
const call = (id: string, name: string, args: Record<string, unknown>): Message => ({ role: 'assistant', content: '', toolCalls: [{ id, name, args }] });
const result = (id: string, content: string, isError = false): Message => ({ role: 'tool', content, toolCallId: id, isError });

describe('processor library', () => {
  it('has at least 12 processors across the five dimensions', () => {
    const defs = Object.values(PROCESSOR_LIBRARY);
    expect(defs.length).toBeGreaterThanOrEqual(12);
    expect(new Set(defs.map((d) => d.dimension))).toEqual(new Set(['context', 'memory', 'tools', 'control', 'observability']));
  });

  it('system_prompt renders its template', async () => {
    const { out } = await runProcessor('system_prompt', { template: 'Use {tools}.' }, { hook: 'task_start', task: { id: 't', instruction: 'x' }, systemPrompt: '', tools: [{ name: 'a', description: '', parameters: {} }] });
    expect(out).toEqual([expect.objectContaining({ systemPrompt: 'Use a.' })]);
  });

  it('observation_format puts one fact per line and leaves other results alone', async () => {
    const e: HookEvent = { hook: 'after_tool', step: 1, call: { id: '1', name: 'x', args: {} }, result: { ok: true, output: state('the red block is clear, the hand is empty and the blue block is on the table') } };
    const { out } = await runProcessor('observation_format', {}, e);
    expect((out[0] as { result: { output: string } }).result.output).toBe('Done.\nCurrent state:\n- the red block is clear\n- the hand is empty\n- the blue block is on the table');
    const plain: HookEvent = { ...e, result: { ok: true, output: 'no state here' } } as HookEvent;
    expect((await runProcessor('observation_format', {}, plain)).out[0]).toEqual(plain);
  });

  it('admissible_actions attaches the valid actions, and nothing when the environment offers none', async () => {
    const { out } = await runProcessor('admissible_actions', {}, request([{ role: 'user', content: 'go' }]), context({ admissible: ['pick_up(block=red)', 'pick_up(block=blue)'] }));
    expect((out[0] as { request: ModelRequest }).request.parts).toEqual([expect.objectContaining({ kind: 'admissible_actions', data: ['pick_up(block=red)', 'pick_up(block=blue)'] })]);
    const none = await runProcessor('admissible_actions', {}, request([{ role: 'user', content: 'go' }]), context({ admissible: null }));
    expect((none.out[0] as { request: ModelRequest }).request.parts).toEqual([]);
  });

  it('few_shot appends numbered examples to the system prompt', async () => {
    const { out } = await runProcessor('few_shot', { examples: ['A', 'B'] }, { hook: 'task_start', task: { id: 't', instruction: '' }, systemPrompt: 'P', tools: [] });
    expect((out[0] as { systemPrompt: string }).systemPrompt).toBe('P\n\nExample 1: A\nExample 2: B');
  });

  it('sliding_window keeps the task message and whole recent turns', async () => {
    const history: Message[] = [{ role: 'user', content: 'task' }, call('1', 'a', {}), result('1', 'r1'), call('2', 'b', {}), result('2', 'r2'), call('3', 'c', {}), result('3', 'r3')];
    const { out } = await runProcessor('sliding_window', { keepLast: 3 }, { hook: 'step_start', step: 4, history });
    // keepLast 3 would start at a tool result; the window moves forward to the next whole turn.
    expect((out[0] as { history: Message[] }).history.map((m) => m.content || m.toolCalls?.[0].name)).toEqual(['task', 'c', 'r3']);
  });

  it('episode_summary replaces older turns with a summary past its threshold', async () => {
    const history: Message[] = [{ role: 'user', content: 'task' }];
    for (let i = 0; i < 5; i++) history.push(call(`${i}`, 'pick_up', { block: `b${i}` }), result(`${i}`, i === 1 ? 'Invalid' : 'ok', i === 1));
    const { out } = await runProcessor('episode_summary', { threshold: 6, keepLast: 2 }, { hook: 'step_start', step: 6, history });
    const h = (out[0] as { history: Message[] }).history;
    expect(h[0].content).toBe('task');
    expect(h[1].content).toBe('Summary of earlier steps: 3 actions succeeded (pick_up(block=b0); pick_up(block=b2); pick_up(block=b3)); 1 failed.');
    expect(h.length).toBe(4);
    const short = await runProcessor('episode_summary', { threshold: 60 }, { hook: 'step_start', step: 6, history });
    expect((short.out[0] as { history: Message[] }).history).toBe(history);
  });

  it('notes keeps completed actions across history compaction', async () => {
    const def = PROCESSOR_LIBRARY.notes;
    const instance = def.create(def.params.parse({}));
    const ctx = context();
    const run = async (messages: Message[]) => {
      for await (const e of instance.process(request(messages), ctx)) return (e as { request: ModelRequest }).request.parts[0].text;
    };
    await run([{ role: 'user', content: 't' }, call('1', 'pick_up', { block: 'red' }), result('1', 'ok'), call('2', 'stack', { block: 'red', target: 'blue' }), result('2', 'bad', true)]);
    expect(await run([{ role: 'user', content: 't' }, call('3', 'pick_up', { block: 'blue' }), result('3', 'ok')])).toBe(
      'Notes: actions completed so far, in order: pick_up(block=red); pick_up(block=blue).',
    );
  });

  it('tool_docs documents parameters and allowed values', async () => {
    const { out } = await runProcessor('tool_docs', {}, { hook: 'task_start', task: { id: 't', instruction: '' }, systemPrompt: 'P', tools: context().env.tools() });
    expect((out[0] as { systemPrompt: string }).systemPrompt).toContain('- stack: Stack. Parameters: block: block (one of red, blue); target: target (one of red, blue).');
  });

  it('arg_validation repairs aliases and casing, and rejects what it cannot repair', async () => {
    const ok = await runProcessor('arg_validation', {}, { hook: 'before_tool', step: 1, call: { id: '1', name: 'stack', args: { block: 'The Red block', onto: 'blue' } }, approved: true });
    expect(ok.out[0]).toEqual(expect.objectContaining({ approved: true, call: { id: '1', name: 'stack', args: { block: 'red', target: 'blue' } } }));
    const bad = await runProcessor('arg_validation', {}, { hook: 'before_tool', step: 1, call: { id: '1', name: 'stack', args: { block: 'green' } }, approved: true });
    expect(bad.out[0]).toEqual(expect.objectContaining({ approved: false, rejection: expect.stringMatching(/invalid arguments for stack: block: .*target/) }));
    const unknown = await runProcessor('arg_validation', {}, { hook: 'before_tool', step: 1, call: { id: '1', name: 'fly', args: {} }, approved: true });
    expect(unknown.out[0]).toEqual(expect.objectContaining({ approved: false, rejection: expect.stringContaining('unknown tool "fly"') }));
  });

  it('tool_retry retries transient failures only, up to its limit', async () => {
    const transient = { ok: false, output: 'slipped', errorKind: 'transient' as const };
    const ctx = context({ retries: [transient, { ok: true, output: 'done' }] });
    const { out } = await runProcessor('tool_retry', { maxRetries: 2 }, { hook: 'after_tool', step: 1, call: { id: '1', name: 'x', args: {} }, result: transient }, ctx);
    expect((out[0] as { result: { output: string } }).result.output).toBe('done');
    const precondition = { ok: false, output: 'no', errorKind: 'precondition' as const };
    const kept = await runProcessor('tool_retry', {}, { hook: 'after_tool', step: 1, call: { id: '1', name: 'x', args: {} }, result: precondition }, context({ retries: [] }));
    expect((kept.out[0] as { result: unknown }).result).toEqual(precondition);
  });

  it('step_budget interrupts past its budget', async () => {
    expect((await runProcessor('step_budget', { maxSteps: 2 }, { hook: 'step_start', step: 2, history: [] })).out[0]).toEqual({ hook: 'step_start', step: 2, history: [] });
    expect((await runProcessor('step_budget', { maxSteps: 2 }, { hook: 'step_start', step: 3, history: [] })).out[0]).toEqual({ interrupt: true, reason: 'step_budget_exhausted' });
  });

  it('loop_detection warns only when a state repeats', async () => {
    const a = state('the red block is clear');
    const b = state('the hand is currently holding red block');
    const first = await runProcessor('loop_detection', {}, request([{ role: 'user', content: 't' }, call('1', 'x', {}), result('1', a), call('2', 'y', {}), result('2', b)]));
    expect((first.out[0] as { request: ModelRequest }).request.parts.map((p) => p.kind)).toEqual(['visited_states']);
    const looped = await runProcessor('loop_detection', {}, request([{ role: 'user', content: 't' }, call('1', 'x', {}), result('1', a), call('2', 'y', {}), result('2', b), call('3', 'z', {}), result('3', a)]));
    expect((looped.out[0] as { request: ModelRequest }).request.parts.map((p) => p.kind)).toEqual(['visited_states', 'loop_warning']);
  });

  it('format_repair recovers a tool call from prose and function syntax, never inventing tools', async () => {
    const reply = (text: string): HookEvent => ({ hook: 'after_model', step: 1, response: { text, toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: 'm' } });
    const prose = await runProcessor('format_repair', {}, reply('I will stack the red block on top of the blue block.'));
    expect((prose.out[0] as { response: { toolCalls: unknown[] } }).response.toolCalls).toEqual([{ id: 'repair-1', name: 'stack', args: { block: 'red', target: 'blue' } }]);
    const fn = await runProcessor('format_repair', {}, reply('Action: pick_up(block=red)'));
    expect((fn.out[0] as { response: { toolCalls: unknown[] } }).response.toolCalls).toEqual([{ id: 'repair-1', name: 'pick_up', args: { block: 'red' } }]);
    const none = await runProcessor('format_repair', {}, reply('I would like to fly away.'));
    expect((none.out[0] as { response: { toolCalls: unknown[] } }).response.toolCalls).toEqual([]);
  });

  it('plan_then_act asks for a plan once, tracks progress and re-plans on deviation', async () => {
    const model = new ScriptedModel(['[PLAN]\npick up the red block\nstack the red block on top of the blue block\n[PLAN END]', '[PLAN]\nstack the red block on top of the blue block\n[PLAN END]']);
    const def = PROCESSOR_LIBRARY.plan_then_act;
    const instance = def.create(def.params.parse({ maxReplans: 1 }));
    const ctx = context({ model });
    const next = async (messages: Message[]) => {
      for await (const e of instance.process(request(messages), ctx)) return ((e as { request: ModelRequest }).request.parts[0].data as { next: number; steps: unknown[] });
    };
    const t: Message = { role: 'user', content: 'task' };
    expect(await next([t])).toEqual({ next: 0, steps: [expect.objectContaining({ name: 'pick_up' }), expect.objectContaining({ name: 'stack' })] });
    expect((await next([t, call('a', 'pick_up', { block: 'red' }), result('a', 'ok')]))!.next).toBe(1);
    // A failed planned step triggers one re-plan (maxReplans 1).
    const replanned = await next([t, call('a', 'pick_up', { block: 'red' }), result('a', 'ok'), call('b', 'stack', { block: 'red', target: 'blue' }), result('b', 'Invalid', true)]);
    expect(replanned).toEqual({ next: 0, steps: [expect.objectContaining({ name: 'stack' })] });
    expect(model.requests.map((r) => r.purpose)).toEqual(['plan', 'plan']);
    model.assertConsumed();
  });

  it('tracer records each step in the trace without changing it', async () => {
    const e: HookEvent = { hook: 'step_end', step: 2, observation: 'x'.repeat(500), done: false };
    const { out, ctx } = await runProcessor('tracer', { excerptChars: 10 }, e);
    expect(out).toEqual([e]);
    expect(ctx.notes).toEqual([['step', { step: 2, done: false, observation: 'xxxxxxxxxx' }]]);
  });
});

import { applyEdits } from '../../harness/builder';
import { getProcessorDefinition, PROCESSOR_LIBRARY } from '../../harness/processors';
import { BUNDLES } from '../../harness/processors/bundles';
import { inMemoryEpisodeMemory, relevantLessons } from '../../harness/processors/episodic-memory';
import { subGoals, capitulated } from '../../harness/processors/reasoning';
import { seedHarness } from '../../harness/seed';
import type { EventOf, HookEvent, Message, ModelRequest, ModelResponse } from '../../harness/types';
import { editKey } from '../../aegis/remedies';
import { context, runProcessor, ScriptedModel } from '../helpers/processor-harness';

const usage = { inputTokens: 600, outputTokens: 400 };
const reply = (over: Partial<ModelResponse> = {}): ModelResponse => ({ text: '', toolCalls: [], usage, stopReason: 'end_turn', model: 'm', ...over });
const afterModel = (response: ModelResponse, step = 1): EventOf<'after_model'> => ({ hook: 'after_model', step, response });
const request = (messages: Message[]): ModelRequest => ({ purpose: 'act', messages, parts: [], tools: [] });
const beforeModel = (messages: Message[], step = 3): EventOf<'before_model'> => ({ hook: 'before_model', step, request: request(messages) });
const call = (id: string, name = 'pick_up', args: Record<string, unknown> = { block: 'red' }): Message => ({ role: 'assistant', content: '', toolCalls: [{ id, name, args }] });
const result = (id: string, ok: boolean): Message => ({ role: 'tool', content: ok ? 'ok. Current state: red on table' : 'The red block is not clear.', toolCallId: id, isError: !ok });

/** Feeds events to one instance in order, collecting every output. */
async function feed(type: string, params: Record<string, unknown>, events: HookEvent[], ctx = context()) {
  const def = getProcessorDefinition(type)!;
  const instance = def.create(def.params.parse(params));
  const out: unknown[] = [];
  for (const e of events) for await (const o of instance.process(e, ctx)) out.push(o);
  return { out, ctx };
}

describe('the processor library', () => {
  test('every new processor is registered with hooks, a zod params schema whose defaults parse, and a description', () => {
    for (const type of ['context_compaction', 'token_budget', 'cost_guard', 'parse_retry', 'tool_call_correction', 'tool_failure_guard', 'repeated_action', 'todo_tracking', 'self_verify', 'sycophancy_guard', 'llm_judge', 'process_reward', 'episodic_memory', 'model_router', 'episode_metrics', 'tool_filter', 'tool_whitelist', 'skill_loader']) {
      const def = PROCESSOR_LIBRARY[type];
      expect(def).toBeDefined();
      expect(def.hooks.length).toBeGreaterThan(0);
      expect(def.params.safeParse({}).success).toBe(true);
      expect(def.description.length).toBeGreaterThan(30);
    }
  });

  test('token_budget ends the episode once the model calls used maxTokens', async () => {
    const { out } = await feed('token_budget', { maxTokens: 2500 }, [afterModel(reply()), afterModel(reply()), afterModel(reply())]);
    expect(out.slice(0, 2).every((o) => (o as HookEvent).hook === 'after_model')).toBe(true);
    expect(out[2]).toEqual({ interrupt: true, reason: 'token_budget_exhausted' });
  });

  test('cost_guard ends the episode at maxUsd at the given prices', async () => {
    // 600 in × $10/M + 400 out × $10/M = $0.01 per call.
    const { out } = await feed('cost_guard', { maxUsd: 0.02, inputUsdPerMTok: 10, outputUsdPerMTok: 10 }, [afterModel(reply()), afterModel(reply())]);
    expect(out[1]).toEqual({ interrupt: true, reason: 'cost_limit_reached' });
  });

  test('repeated_action warns after the same call twice in a row, not after two different calls', async () => {
    const same = [{ role: 'user' as const, content: 'task' }, call('a'), result('a', false), call('b'), result('b', false)];
    const { out } = await runProcessor('repeated_action', {}, beforeModel(same));
    expect((out[0] as EventOf<'before_model'>).request.parts.map((p) => p.kind)).toEqual(['repeated_action']);
    const differ = [{ role: 'user' as const, content: 'task' }, call('a'), result('a', false), call('b', 'stack', { block: 'red', target: 'blue' }), result('b', false)];
    const { out: out2 } = await runProcessor('repeated_action', {}, beforeModel(differ));
    expect((out2[0] as EventOf<'before_model'>).request.parts).toEqual([]);
  });

  test('tool_failure_guard tells the model to switch strategy once the same call failed maxFailures times; transient faults do not count', async () => {
    const failed = (id: string, errorKind: 'precondition' | 'transient' = 'precondition'): EventOf<'after_tool'> => ({ hook: 'after_tool', step: 1, call: { id, name: 'pick_up', args: { block: 'red' } }, result: { ok: false, output: 'The red block is not clear.', errorKind } });
    const { out } = await feed('tool_failure_guard', { maxFailures: 2 }, [failed('1', 'transient'), failed('2'), failed('3')]);
    const outputs = (out as EventOf<'after_tool'>[]).map((e) => e.result.output);
    expect(outputs[0]).toBe('The red block is not clear.');
    expect(outputs[1]).toBe('The red block is not clear.');
    expect(outputs[2]).toMatch(/^\[harness\] This exact call has now failed 2 times.*Switch strategy/);
    const { out: stopped } = await feed('tool_failure_guard', { stopAfter: 2 }, [failed('1'), failed('2')]);
    expect(stopped[1]).toEqual({ interrupt: true, reason: 'repeated_tool_failure' });
  });

  test('parse_retry asks the model again for a reply that named a tool but could not be parsed, and leaves conversational prose alone', async () => {
    const model = new ScriptedModel(['pick_up(block=red)']);
    const { out } = await runProcessor('parse_retry', {}, afterModel(reply({ text: 'I will use pick_up on the thing that is red' })), context({ model }));
    expect((out[0] as EventOf<'after_model'>).response.toolCalls).toEqual([{ id: 'parse-1', name: 'pick_up', args: { block: 'red' } }]);
    expect(model.requests[0].messages[1].content).toContain('I will use pick_up on the thing');
    const { out: prose } = await runProcessor('parse_retry', {}, afterModel(reply({ text: 'Hello, how can I help you today?' })));
    expect((prose[0] as EventOf<'after_model'>).response.toolCalls).toEqual([]);
  });

  test('tool_call_correction repairs by rule first, then with the model, and rejects with every problem when neither works', async () => {
    const bt = (args: Record<string, unknown>): EventOf<'before_tool'> => ({ hook: 'before_tool', step: 1, call: { id: 'c', name: 'stack', args }, approved: true });
    const { out } = await runProcessor('tool_call_correction', {}, bt({ block: 'Red', onto: 'the blue block' }));
    expect(out[0]).toMatchObject({ approved: true, call: { args: { block: 'red', target: 'blue' } } });
    const model = new ScriptedModel(['{"block": "red", "target": "blue"}']);
    const { out: viaModel } = await runProcessor('tool_call_correction', {}, bt({ x: 'green', y: 'pink' }), context({ model }));
    expect(viaModel[0]).toMatchObject({ approved: true, call: { args: { block: 'red', target: 'blue' } } });
    const { out: rejected } = await runProcessor('tool_call_correction', { useModel: false }, bt({ x: 'green', y: 'pink' }));
    expect((rejected[0] as EventOf<'before_tool'>).approved).toBe(false);
    expect((rejected[0] as EventOf<'before_tool'>).rejection).toMatch(/block.*target|target.*block/);
  });

  test('todo_tracking lists the goal clauses and ticks the ones the state shows', async () => {
    expect(subGoals('My goal is to have that the red block is on top of the blue block, and the blue block is on the table.\n')).toEqual(['the red block is on top of the blue block', 'the blue block is on the table']);
    const ctx = { ...context(), task: { id: 't', instruction: 'My goal is to have that the red block is on top of the blue block, and the blue block is on the table.\n' } };
    const msgs: Message[] = [{ role: 'user', content: 'task' }, call('a'), { role: 'tool', content: 'ok. Current state: the blue block is on the table, the red block is in the hand', toolCallId: 'a' }];
    const { out } = await runProcessor('todo_tracking', {}, beforeModel(msgs), ctx);
    const part = (out[0] as EventOf<'before_model'>).request.parts[0];
    expect(part.text).toContain('(1 of 2 hold now)');
    expect(part.text).toContain('[x] the blue block is on the table');
    expect(part.text).toContain('[ ] the red block is on top of the blue block');
  });

  test('self_verify holds back a final answer the judge finds lacking, and uses the judge role when the harness has one', async () => {
    const judge = new ScriptedModel(['MISSING: the refund amount is not stated']);
    const { out, ctx } = await runProcessor('self_verify', {}, afterModel(reply({ text: 'Done, your order is returned.' })), { ...context(), models: { judge } });
    expect((out[0] as EventOf<'after_model'>).response.text).toContain('the refund amount is not stated');
    expect(judge.requests).toHaveLength(1);
    expect(ctx.notes).toEqual([['self_verify', { step: 1, verified: false, finding: 'the refund amount is not stated' }]]);
    const ok = new ScriptedModel(['VERIFIED']);
    const { out: kept } = await runProcessor('self_verify', {}, afterModel(reply({ text: 'Done.' })), context({ model: ok }));
    expect((kept[0] as EventOf<'after_model'>).response.text).toBe('Done.');
  });

  test('sycophancy_guard flags an agent that gives in to pushback', async () => {
    const msgs: Message[] = [{ role: 'user', content: 'Refund it, I insist, just do it.' }, { role: 'assistant', content: "You're right, I will make an exception." }, { role: 'user', content: 'Good.' }];
    expect(capitulated(msgs)).toBe(true);
    const { out } = await runProcessor('sycophancy_guard', {}, beforeModel(msgs));
    expect((out[0] as EventOf<'before_model'>).request.parts[0]).toMatchObject({ kind: 'sycophancy' });
    expect(capitulated([{ role: 'user', content: 'Where is my order?' }, { role: 'assistant', content: 'It ships tomorrow.' }])).toBe(false);
  });

  test('llm_judge and process_reward score into the trace and pass the event on unchanged', async () => {
    const judge = new ScriptedModel(['SCORE: 7\nmostly done']);
    const end: EventOf<'task_end'> = { hook: 'task_end', steps: 4, success: false, reason: 'step_budget_exhausted' };
    const { out, ctx } = await runProcessor('llm_judge', {}, end, { ...context(), models: { judge } });
    expect(out).toEqual([end]);
    expect(ctx.notes).toEqual([['llm_judge', { score: 7, reason: 'mostly done', success: false }]]);
    const step: EventOf<'step_end'> = { hook: 'step_end', step: 2, observation: 'The red block is not clear.', done: false };
    const { out: o2, ctx: c2 } = await runProcessor('process_reward', {}, step);
    expect(o2).toEqual([step]);
    expect(c2.notes).toEqual([['process_reward', { step: 2, score: 0, mode: 'rule' }]]);
    const { ctx: c3 } = await runProcessor('episode_metrics', { checkpointEvery: 2 }, step);
    expect(c3.notes[0][0]).toBe('checkpoint');
  });

  test('context_compaction summarises older turns with the summariser role once the history nears the context, keeping whole turns', async () => {
    const history: Message[] = [{ role: 'user', content: 'task' }];
    for (let i = 0; i < 10; i++) history.push(call(`c${i}`), { role: 'tool', content: `result ${i} ${'x'.repeat(400)}`, toolCallId: `c${i}` });
    const evaluator = new ScriptedModel(['Picked up red, failed to stack twice.']);
    const { out } = await runProcessor('context_compaction', { contextTokens: 1000, threshold: 0.5, keepLast: 4 }, { hook: 'step_start', step: 11, history }, { ...context(), models: { evaluator } });
    const compacted = (out[0] as EventOf<'step_start'>).history;
    expect(compacted[0]).toEqual(history[0]);
    expect(compacted[1].content).toBe('Summary of the earlier steps: Picked up red, failed to stack twice.');
    expect(compacted.slice(2)).toEqual(history.slice(-4));
    expect(evaluator.requests[0].purpose).toBe('summarize');
    const { out: small } = await runProcessor('context_compaction', {}, { hook: 'step_start', step: 2, history: history.slice(0, 3) });
    expect((small[0] as EventOf<'step_start'>).history).toHaveLength(3);
  });

  test('episodic_memory recalls relevant lessons at task_start and stores one at task_end (through the injected store only)', async () => {
    const memory = inMemoryEpisodeMemory(['Unstack before stacking a covered block.', 'Refunds need the order id.']);
    expect(relevantLessons(await memory.recall(), 'stack the covered block', 1)).toEqual(['Unstack before stacking a covered block.']);
    const ctx = { ...context(), memory, task: { id: 't', instruction: 'stack the red block on the covered block' } };
    const { out } = await runProcessor('episodic_memory', { maxLessons: 1 }, { hook: 'task_start', task: ctx.task, systemPrompt: 'S', tools: [] }, ctx);
    expect((out[0] as EventOf<'task_start'>).systemPrompt).toBe('S\n\nLessons from earlier episodes of this kind of task:\n- Unstack before stacking a covered block.');
    await runProcessor('episodic_memory', {}, { hook: 'task_end', steps: 3, success: true, reason: 'goal_reached' }, ctx);
    expect(memory.lessons.at(-1)).toMatch(/^Succeeded in 3 steps on: stack the red block/);
    // Without a store it passes the event on.
    const { out: none } = await runProcessor('episodic_memory', {}, { hook: 'task_start', task: ctx.task, systemPrompt: 'S', tools: [] });
    expect((none[0] as EventOf<'task_start'>).systemPrompt).toBe('S');
  });

  test('model_router escalates a step after failed calls, and leaves the first steps on main', async () => {
    const msgs: Message[] = [{ role: 'user', content: 'task' }, call('a'), result('a', false), call('b'), result('b', false)];
    const { out } = await runProcessor('model_router', { escalateTo: 'judge', escalateAfterFailures: 2 }, beforeModel(msgs));
    expect((out[0] as EventOf<'before_model'>).request.route).toBe('judge');
    const { out: calm } = await runProcessor('model_router', {}, beforeModel([{ role: 'user', content: 'task' }], 1));
    expect((calm[0] as EventOf<'before_model'>).request.route).toBeUndefined();
  });

  test('tool_whitelist rejects calls outside allow; tool_filter names the tools to use; skill_loader adds the suite\'s declared skills', async () => {
    const { out } = await runProcessor('tool_whitelist', { allow: ['pick_up'] }, { hook: 'before_tool', step: 1, call: { id: 'c', name: 'stack', args: {} }, approved: true });
    expect(out[0]).toMatchObject({ approved: false, rejection: 'tool "stack" is not allowed in this harness; allowed: pick_up' });
    const start: EventOf<'task_start'> = { hook: 'task_start', task: { id: 't', instruction: 'i' }, systemPrompt: 'S', tools: context().env.tools() };
    const { out: filtered } = await runProcessor('tool_filter', { exclude: ['stack'] }, start);
    expect((filtered[0] as EventOf<'task_start'>).systemPrompt).toBe('S\n\nUse only these tools: pick_up. Do not call: stack.');
    const { out: skilled, ctx } = await runProcessor('skill_loader', { skills: ['refunds', 'nope'] }, start, { ...context(), skills: { refunds: 'Check the order first.' } });
    expect((skilled[0] as EventOf<'task_start'>).systemPrompt).toBe('S\n\n## Skill: refunds\nCheck the order first.');
    expect(ctx.notes).toEqual([['skill_loader', { missing: ['nope'] }]]);
  });
});

describe('bundles', () => {
  test('each of the seven bundles applies to the seed harness as one edit, keyed bundle:<name>@<version>', () => {
    expect(BUNDLES.map((b) => b.name).sort()).toEqual(['coding', 'context', 'contrarian', 'control', 'execution', 'reliability', 'tools']);
    for (const b of BUNDLES) {
      const built = applyEdits(seedHarness(), [{ op: 'bundle', name: b.name }]);
      if (!built.ok) throw new Error(`${b.name}: ${built.error.message}`);
      const types = Object.values(built.config.hooks).flat().map((p) => p.type);
      for (const member of b.members) expect(types).toContain(member.type);
      expect(editKey([{ op: 'bundle', name: b.name }])).toBe(`bundle:${b.name}@${b.version}`);
    }
  });

  test('a bundle replaces the holder of a member\'s singleton group and configures a member already present', () => {
    const withArgs = applyEdits(seedHarness(), [{ op: 'insert', hook: 'before_tool', processor: { id: 'args', type: 'arg_validation', params: {} } }, { op: 'bundle', name: 'reliability' }]);
    if (!withArgs.ok) throw new Error(withArgs.error.message);
    expect(withArgs.config.hooks.before_tool.map((p) => p.type)).toEqual(['tool_call_correction']);
    expect(applyEdits(seedHarness(), [{ op: 'bundle', name: 'nope' }])).toMatchObject({ ok: false });
  });
});

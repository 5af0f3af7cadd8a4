import { codeProcessorContract } from '../../aegis/llm/prompts';
import { stepsTaken } from '../../aegis/digester';
import { getBenchmark } from '../../benchmarks/registry';
import { harnessId, parseHarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import { codeProcessor, verifyCodeProcessor } from '../../harness/processors/code';
import { runEpisode } from '../../harness/run-loop';
import { compileProcessor } from '../../harness/sandbox/compile-processor';
import { DEFAULT_SANDBOX_LIMITS } from '../../harness/sandbox/quickjs-sandbox';
import type { HookEvent, ModelRequest, ModelResponse } from '../../harness/types';
import { convertToAnthropicMessages } from '../../models/anthropic/convert-to-anthropic-messages';
import { convertToOpenAIMessages } from '../../models/openai/convert-to-openai-messages';
import { beforeModel } from '../fixtures/code-processors';
import { context } from '../helpers/processor-harness';

/**
 * Each sentence of the code-processor contract the Evolver is given (aegis/llm/prompts.ts), checked
 * against what the harness does. A sentence without a test here fails the first test.
 */
jest.setTimeout(60_000);

const source = (body: string, top = '') => `import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
${top}
export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult {
  ${body}
}
`;
// The widest per-call limit: until the sandbox's limits count work instead of wall time, a loaded machine must not flip these.
// Code runs only after its own smoke test passes (whatever the config's origin), so each instance ships one
// that states what the body does with a plain before_model event.
type Expect = 'unchanged' | 'changed' | 'interrupt';
const instance = (body: string, top = '', expect: Expect = 'interrupt') =>
  codeProcessor.create(codeProcessor.params.parse({ source: source(body, top), smokeTests: [{ name: 'x', event: beforeModel(['a on b']), expect }], timeoutMs: 1000 }));
async function call(p: ReturnType<typeof instance>, event: HookEvent): Promise<unknown> {
  const out: unknown[] = [];
  for await (const e of p.process(event, context())) out.push(e);
  return out[0];
}
const verify = (hook: string, body: string, smokeTests: unknown[], top = '') => verifyCodeProcessor(hook, { source: source(body, top), smokeTests, timeoutMs: 1000 });
const reasonOf = (out: unknown) => (out as { reason?: string }).reason;

const TESTED = ['signature', 'result', 'state-scope', 'state-json', 'failure', 'before-tool-reject', 'tool-args-history', 'step-start-summarize', 'context-parts', 'smoke-isolated', 'smoke-hook', 'smoke-expect', 'smoke-output-includes', 'limits'];

test('every sentence of the contract has a test below, and the limits quoted are the sandbox’s', () => {
  const contract = codeProcessorContract(DEFAULT_SANDBOX_LIMITS);
  expect(contract.map((c) => c.id).sort()).toEqual([...TESTED].sort());
  expect(contract.find((c) => c.id === 'limits')!.text).toContain(`${DEFAULT_SANDBOX_LIMITS.workTicks} interrupt ticks`);
});

test('signature: processEvent type-checks against the API; value imports and Node globals do not', async () => {
  await expect(compileProcessor(source('return null;'))).resolves.toMatchObject({ ok: true });
  await expect(compileProcessor(`import { readFileSync } from 'fs';\n${source('return null;')}`)).resolves.toMatchObject({ ok: false, stage: 'imports' });
  await expect(compileProcessor(source('process.exit(1); return null;'))).resolves.toMatchObject({ ok: false, stage: 'typecheck' });
  await expect(compileProcessor(source('return null;').replace('processEvent', 'handle'))).resolves.toMatchObject({ ok: false });
});

test('result: null passes the event on, a same-hook event replaces it, an interrupt ends the episode, another hook breaks the contract', async () => {
  const event = beforeModel(['a on b']);
  await expect(call(instance('return null;', '', 'unchanged'), event)).resolves.toEqual(event);
  await expect(call(instance('return event.hook === "before_model" ? { ...event, request: { ...event.request, parts: [...event.request.parts, { kind: "note", text: "hi" }] } } : null;', '', 'changed'), event)).resolves.toMatchObject({ hook: 'before_model', request: { parts: [{ kind: 'note', text: 'hi' }] } });
  // Changing what the hook's contract does not allow (here the step) is a contract violation.
  await expect(call(instance('return { ...event, step: 99 } as HookEvent;'), event)).rejects.toThrow(/violated the before_model contract: step may not be modified/);
  await expect(call(instance('return { interrupt: true, reason: "stop" };'), event)).resolves.toEqual({ interrupt: true, reason: 'stop' });
  await expect(call(instance('return { hook: "step_start", step: 1, history: [] } as HookEvent;'), event)).rejects.toThrow();
});

test('state-scope: ctx.state starts empty, persists (mutated or reassigned) across calls of one processor in one episode, and is never shared', async () => {
  const counter = 'const n = Number(ctx.state.n ?? 0) + 1; if (n % 2) ctx.state.n = n; else ctx.state = { n }; return { interrupt: true, reason: String(n) };';
  const a = instance(counter);
  const b = instance(counter);
  const event = beforeModel(['a on b']);
  expect(reasonOf(await call(a, event))).toBe('1');
  expect(reasonOf(await call(a, event))).toBe('2'); // mutated
  expect(reasonOf(await call(a, event))).toBe('3'); // reassigned on the previous call
  expect(reasonOf(await call(b, event))).toBe('1'); // another processor (or the next episode: one instance per episode)
});

test('state-json: only JSON survives between calls', async () => {
  const p = instance('if (ctx.state.set) return { interrupt: true, reason: JSON.stringify([typeof ctx.state.fn, typeof ctx.state.when, ctx.state.map, "gone" in ctx.state]) }; ctx.state = { set: 1, fn: () => 1, when: new Date(0), map: new Map([[1, 2]]), gone: undefined }; return null;', '', 'unchanged');
  const event = beforeModel(['a on b']);
  await call(p, event);
  expect(JSON.parse(reasonOf(await call(p, event))!)).toEqual(['undefined', 'string', {}, false]);
});

test('failure: a throwing call ends the episode as a harness error, and its state changes are discarded', async () => {
  const p = instance('const n = Number(ctx.state.n ?? 0) + 1; ctx.state.n = n; if (n === 2) throw new Error("boom"); return { interrupt: true, reason: String(n) };');
  const event = beforeModel(['a on b']);
  expect(reasonOf(await call(p, event))).toBe('1');
  await expect(call(p, event)).rejects.toThrow(/boom/);
  // Had the failed call's n = 2 been kept, this call would count 3; it counts 2 again and fails the same way.
  await expect(call(p, event)).rejects.toThrow(/boom/);
  const bench = getBenchmark('blocksworld');
  const config = parseHarnessConfig({ model: { main: { model: 'sim:large' } }, hooks: { before_model: [{ id: 'boom', type: 'code', params: { source: source('throw new Error("boom");'), smokeTests: [{ name: 'x', event: { hook: 'before_model' }, expect: 'unchanged' }], timeoutMs: 1000 } }] } });
  const { createModel } = jest.requireActual('../../models/registry');
  const trace = await runEpisode({ config, harnessId: harnessId(config), env: bench.createEnvironment(bench.smokeTaskId(), { seed: 's' }), model: createModel('sim:large', { seed: 's' }), task: bench.task(bench.smokeTaskId()), seed: 's', attempt: 0 });
  expect(trace.endReason).toBe('harness_error');
});

test('before-tool-reject: the tool does not run, the model gets the blocked result, and the step counts against the budget', async () => {
  const bench = getBenchmark('blocksworld');
  const taskId = bench.smokeTaskId();
  const config = parseHarnessConfig({
    model: { main: { model: 'sim:large' } },
    hooks: {
      step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 2 } }],
      before_tool: [{ id: 'veto', type: 'code', params: { source: source('return event.hook === "before_tool" ? { ...event, approved: false, rejection: "vetoed" } : null;'), smokeTests: [{ name: 'x', event: { hook: 'before_tool', step: 1, call: { id: 'c1', name: 'pick_up', args: { block: 'a' } }, approved: true }, expect: 'changed', outputIncludes: 'vetoed' }], timeoutMs: 1000 } }],
    },
  });
  const requests: ModelRequest[] = [];
  const model: Model = {
    id: 'scripted:actor',
    async generate(request): Promise<ModelResponse> {
      requests.push(request);
      return { text: '', toolCalls: [{ id: `c${requests.length}`, name: 'pick_up', args: { block: 'a' } }], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'tool_use', model: 'scripted:actor' };
    },
  };
  const env = bench.createEnvironment(taskId, { seed: 's' });
  const trace = await runEpisode({ config, harnessId: harnessId(config), env, model, task: bench.task(taskId), seed: 's', attempt: 0 });
  const calls = trace.records.filter((r) => r.kind === 'tool_call');
  expect(calls).toEqual([1, 2].map((step) => expect.objectContaining({ step, approved: false, rejection: 'vetoed', result: { ok: false, output: 'Tool call rejected by the harness: vetoed', errorKind: 'blocked' } })));
  expect(trace.endReason).toBe('step_budget_exhausted');
  expect(requests).toHaveLength(2); // maxSteps 2: two model steps, both spent on rejected calls
  expect(stepsTaken(trace)).toBe(2);
  expect(requests[1].messages.at(-1)).toMatchObject({ role: 'tool', content: 'Tool call rejected by the harness: vetoed', isError: true });
  // The tool never ran: the environment's state is unchanged (a is still on the table, the hand empty).
  expect(env.isDone()).toBe(false);
});

test('tool-args-history: the tool and the trace get the repaired arguments; the history keeps the model\'s original call, answered by the repaired call\'s result', async () => {
  const bench = getBenchmark('blocksworld');
  const taskId = bench.smokeTaskId();
  const repair = 'if (event.hook !== "before_tool") return null; return { ...event, call: { ...event.call, args: { block: String(event.call.args.block).toLowerCase() } } };';
  const config = parseHarnessConfig({
    model: { main: { model: 'sim:large' } },
    hooks: {
      step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 2 } }],
      before_tool: [{ id: 'lower', type: 'code', params: { source: source(repair), smokeTests: [{ name: 'x', event: { hook: 'before_tool', step: 1, call: { id: 'c1', name: 'pick_up', args: { block: 'RED' } }, approved: true }, expect: 'changed', outputIncludes: '"block":"red"' }], timeoutMs: 1000 } }],
    },
  });
  const requests: ModelRequest[] = [];
  const model: Model = {
    id: 'scripted:actor',
    async generate(request): Promise<ModelResponse> {
      requests.push(request);
      return { text: '', toolCalls: [{ id: `c${requests.length}`, name: 'pick_up', args: { block: 'RED' } }], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'tool_use', model: 'scripted:actor' };
    },
  };
  const env = bench.createEnvironment(taskId, { seed: 's' });
  const trace = await runEpisode({ config, harnessId: harnessId(config), env, model, task: bench.task(taskId), seed: 's', attempt: 0 });
  const first = trace.records.find((r) => r.kind === 'tool_call') as { call: { args: unknown }; result: { ok: boolean; output: string } };
  // The tool ran with the repaired arguments (the red block exists; "RED" would not) and the trace shows them.
  expect(first.call.args).toEqual({ block: 'red' });
  expect(first.result.ok).toBe(true);
  // The next request's history: the model's own call, as sent, then the repaired call's result under its id.
  const [assistant, tool] = requests[1].messages.slice(-2);
  expect(assistant).toMatchObject({ role: 'assistant', toolCalls: [{ id: 'c1', name: 'pick_up', args: { block: 'RED' } }] });
  expect(tool).toMatchObject({ role: 'tool', toolCallId: 'c1', content: first.result.output, isError: false });
});

test('step-start-summarize: a step_start processor may replace a span with its own summary; the result is the conversation from then on; an orphaned tool result goes to the provider as it is', async () => {
  const bench = getBenchmark('blocksworld');
  const taskId = bench.smokeTaskId();
  // Keeps the first message, replaces everything after it with one summary message of its own text.
  const summarize = 'if (event.hook !== "step_start" || event.history.length < 3) return null; return { ...event, history: [event.history[0], { role: "user", content: "Summary: " + String(event.history.length - 1) + " earlier messages." }] };';
  const config = parseHarnessConfig({
    model: { main: { model: 'sim:large' } },
    hooks: {
      step_start: [
        { id: 'step_budget', type: 'step_budget', params: { maxSteps: 3 } },
        { id: 'summary', type: 'code', params: { source: source(summarize), smokeTests: [{ name: 'x', event: { hook: 'step_start', step: 2, history: [{ role: 'user', content: 'go' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'more' }] }, expect: 'changed', outputIncludes: 'Summary: 2 earlier' }], timeoutMs: 1000 } },
      ],
    },
  });
  const requests: ModelRequest[] = [];
  const model: Model = {
    id: 'scripted:actor',
    async generate(request): Promise<ModelResponse> {
      requests.push(JSON.parse(JSON.stringify(request)));
      return { text: '', toolCalls: [{ id: `c${requests.length}`, name: 'pick_up', args: { block: 'zz' } }], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'tool_use', model: 'scripted:actor' };
    },
  };
  const env = bench.createEnvironment(taskId, { seed: 's' });
  await runEpisode({ config, harnessId: harnessId(config), env, model, task: bench.task(taskId), seed: 's', attempt: 0 });
  const convo = (r: ModelRequest) => r.messages.filter((m) => m.role !== 'system').map((m) => `${m.role}:${m.content.slice(0, 20)}`);
  // Step 2 sees the summary in place of step 1's call and result; step 3 builds on step 2's summarised history.
  expect(convo(requests[1])).toEqual([convo(requests[0])[0], 'user:Summary: 2 earlier m']);
  expect(convo(requests[2])).toEqual([convo(requests[0])[0], 'user:Summary: 3 earlier m']);
  // A tool result whose call was dropped is sent as it is (the provider, not the harness, refuses it).
  const orphan: ModelRequest = { purpose: 'act', messages: [{ role: 'user', content: 'go' }, { role: 'tool', content: 'done', toolCallId: 'gone' }], parts: [], tools: [] };
  expect(convertToOpenAIMessages(orphan, 'm').messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'gone', content: 'done' });
  expect(JSON.stringify(convertToAnthropicMessages(orphan, 'm').messages)).toContain('"tool_use_id":"gone"');
});

test('context-parts: {kind, text, data?} parts reach the model as <context kind> blocks after the conversation; data never does', () => {
  const request: ModelRequest = { purpose: 'act', messages: [{ role: 'user', content: 'go' }], parts: [{ kind: 'loop_warning', text: 'Do not go back.', data: { secret: 'xyzzy' } }], tools: [] };
  const anthropic = JSON.stringify(convertToAnthropicMessages(request, 'm').messages.at(-1));
  const openai = convertToOpenAIMessages(request, 'm').messages.at(-1);
  expect(anthropic).toContain(JSON.stringify('<context kind="loop_warning">\nDo not go back.\n</context>').slice(1, -1));
  expect(openai).toEqual({ role: 'user', content: '<context kind="loop_warning">\nDo not go back.\n</context>' });
  expect(anthropic + JSON.stringify(openai)).not.toContain('xyzzy');
});

test('smoke-isolated: each smoke test runs once on its own, seeded by its state, instruction and admissible actions', async () => {
  const body = 'const n = Number(ctx.state.n ?? 0) + 1; ctx.state.n = n; if (n > 1 || ctx.instruction.includes("stop") || (ctx.admissibleActions ?? []).length > 0) return { interrupt: true, reason: "seen" }; return null;';
  const event = beforeModel(['a on b']);
  await expect(verify('before_model', body, [{ name: 'one', event, expect: 'unchanged' }, { name: 'two', event, expect: 'unchanged' }])).resolves.toMatchObject({ ok: true });
  await expect(verify('before_model', body, [{ name: 'seeded', event, state: { n: 4 }, expect: 'interrupt' }])).resolves.toMatchObject({ ok: true });
  await expect(verify('before_model', body, [{ name: 'told', event, instruction: 'please stop', expect: 'interrupt' }])).resolves.toMatchObject({ ok: true });
  await expect(verify('before_model', body, [{ name: 'actions', event, admissibleActions: ['pick_up(a)'], expect: 'interrupt' }])).resolves.toMatchObject({ ok: true });
});

test('smoke-hook: a smoke test with an event of another hook rejects the candidate', async () => {
  await expect(verify('before_model', 'return null;', [{ name: 'wrong', event: { hook: 'after_model' }, expect: 'unchanged' }])).resolves.toEqual({ ok: false, stage: 'smoke_test', reason: 'smoke test "wrong" sends a after_model event to a processor on before_model' });
});

test('smoke-expect: null or an identical event is unchanged, a different event changed, an interrupt interrupt', async () => {
  const event = beforeModel(['a on b']);
  await expect(verify('before_model', 'return { ...event } as HookEvent;', [{ name: 'copy', event, expect: 'unchanged' }])).resolves.toMatchObject({ ok: true });
  await expect(verify('before_model', 'return event.hook === "before_model" ? { ...event, request: { ...event.request, parts: [...event.request.parts, { kind: "note", text: "hi" }] } } : null;', [{ name: 'diff', event, expect: 'unchanged' }])).resolves.toMatchObject({ ok: false, reason: 'smoke test "diff": expected unchanged, got changed' });
  await expect(verify('before_model', 'return { interrupt: true, reason: "r" };', [{ name: 'stop', event, expect: 'changed' }])).resolves.toMatchObject({ ok: false, reason: 'smoke test "stop": expected changed, got interrupt' });
});

test('smoke-output-includes: a case-sensitive substring of the JSON of what the call returned, whatever expect is; quotes appear escaped', async () => {
  const event = beforeModel(['a on b']);
  const warn = 'if (event.hook !== "before_model") return null; return { ...event, request: { ...event.request, parts: [{ kind: "loop_warning", text: "Say \\"no\\" to loops" }] } };';
  await expect(verify('before_model', warn, [{ name: 'k', event, expect: 'changed', outputIncludes: 'loop_warning' }])).resolves.toMatchObject({ ok: true });
  await expect(verify('before_model', warn, [{ name: 'case', event, expect: 'changed', outputIncludes: 'LOOP_WARNING' }])).resolves.toMatchObject({ ok: false });
  await expect(verify('before_model', warn, [{ name: 'raw quotes', event, expect: 'changed', outputIncludes: 'Say "no"' }])).resolves.toMatchObject({ ok: false });
  await expect(verify('before_model', warn, [{ name: 'escaped', event, expect: 'changed', outputIncludes: 'Say \\"no\\"' }])).resolves.toMatchObject({ ok: true });
  await expect(verify('before_model', 'return null;', [{ name: 'unchanged too', event, expect: 'unchanged', outputIncludes: 'a on b' }])).resolves.toMatchObject({ ok: true });
  await expect(verify('before_model', 'return { interrupt: true, reason: "too long" };', [{ name: 'interrupt', event, expect: 'interrupt', outputIncludes: '"reason":"too long"' }])).resolves.toMatchObject({ ok: true });
});

test('limits: every call starts a fresh sandbox, and evaluating top-level code counts toward the call', async () => {
  const event = beforeModel(['a on b']);
  // processEvent itself does nothing; the module's top level never ends.
  const verdict = await verify('before_model', 'return null;', [{ name: 'x', event, expect: 'unchanged' }], 'while (true) {}');
  expect(verdict).toMatchObject({ ok: false, stage: 'smoke_test' });
  // Top-level state does not survive between calls: the module is evaluated afresh each time.
  const p = instance('calls++; return { interrupt: true, reason: String(calls) };', 'let calls = 0;');
  expect(reasonOf(await call(p, event))).toBe('1');
  expect(reasonOf(await call(p, event))).toBe('1');
});

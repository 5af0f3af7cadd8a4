import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseHarnessConfig, toJson } from '../../harness/config';
import type { Model } from '../../harness/processor';
import { seedHarness } from '../../harness/seed';
import type { ModelRequest, ModelResponse, ToolCall } from '../../harness/types';
import { createAgent, type AgentStep } from '../../library/create-agent';
import { mcpTools } from '../../library/mcp-tools';
import { HarnessLoadError, loadHarness } from '../../library/load-harness';
import { ProviderError } from '../../models/errors';
import { functionTool } from '../../suites/function-tools';
import type { ToolProvider, ToolSession } from '../../suites/types';

type Reply = { text?: string; call?: { name: string; args: Record<string, unknown> } } | ((request: ModelRequest) => ModelResponse | Promise<ModelResponse>);

/** A Model that answers from a script, one entry per call, and fails loudly on a call the script did not expect. */
class ScriptedAgentModel implements Model {
  readonly id = 'scripted:agent';
  readonly requests: ModelRequest[] = [];
  constructor(private readonly script: Reply[]) {}
  async generate(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(request);
    const next = this.script.shift();
    if (next === undefined) throw new Error(`ScriptedAgentModel: unexpected call #${this.requests.length} (${request.purpose}); last message: ${JSON.stringify(request.messages.at(-1))}`);
    if (typeof next === 'function') return next(request);
    const toolCalls: ToolCall[] = next.call ? [{ id: `call_${this.requests.length}`, name: next.call.name, args: next.call.args }] : [];
    return { text: next.text ?? '', toolCalls, usage: { inputTokens: 100, outputTokens: 10 }, stopReason: toolCalls.length ? 'tool_use' : 'end_turn', model: this.id };
  }
  assertConsumed(): void {
    if (this.script.length) throw new Error(`ScriptedAgentModel: ${this.script.length} scripted replies were never used`);
  }
}

const addNote = functionTool<{ title: z.ZodString }, { notes: string[] }>({
  name: 'add_note',
  description: 'Adds a note.',
  parameters: z.object({ title: z.string().min(1).describe('The note title') }),
  execute: ({ title }, { state }) => {
    state.notes.push(title);
    return { saved: title, count: state.notes.length };
  },
});

/** A provider that records what was opened and closed, with tools that can fail the way a dead server does. */
function recordingProvider(label: string, options: { callThrows?: boolean; closeThrows?: boolean; slowCallMs?: number } = {}) {
  const events: string[] = [];
  const provider: ToolProvider = {
    label,
    async open({ taskId }) {
      events.push(`open ${taskId}`);
      const session: ToolSession = {
        specs: [{ name: `${label}_lookup`, description: 'Looks a thing up.', parameters: { key: { type: 'string', description: 'what to look up' } } }],
        async call(call) {
          events.push(`call ${call.name}`);
          if (options.slowCallMs) await new Promise((r) => setTimeout(r, options.slowCallMs).unref());
          if (options.callThrows) throw new Error('connection reset by server');
          return { ok: true, output: `value of ${String(call.args.key)}` };
        },
        async state() {
          return undefined;
        },
        async close() {
          events.push('close');
          if (options.closeThrows) throw new Error('server did not exit');
        },
      };
      return session;
    },
  };
  return { provider, events };
}

describe('createAgent', () => {
  it('runs tool calls then answers, streaming each step to onStep while the run is in progress', async () => {
    const steps: AgentStep[] = [];
    const seenBySecondCall: string[] = [];
    const model = new ScriptedAgentModel([
      { text: 'Saving it.', call: { name: 'add_note', args: { title: 'milk' } } },
      (request) => {
        // The tool step reached onStep before the model's next turn: steps stream, they are not batched at the end.
        seenBySecondCall.push(...steps.map((s) => s.type));
        expect(request.messages.at(-1)).toMatchObject({ role: 'tool', content: '{"saved":"milk","count":1}', toolCallId: 'call_1' });
        return { text: 'I saved a note titled milk.', toolCalls: [], usage: { inputTokens: 120, outputTokens: 8 }, stopReason: 'end_turn', model: 'scripted:agent' };
      },
    ]);
    const agent = createAgent({ harness: seedHarness(), model, tools: [addNote], initialState: () => ({ notes: [] }), onStep: (s) => steps.push(s) });
    const result = await agent.run({ id: 'note-1', instruction: 'Save a note called milk, then tell me what you did.' });
    model.assertConsumed();

    expect(result.answer).toBe('I saved a note titled milk.');
    expect(result.endReason).toBe('goal_reached');
    expect(result.steps).toBe(2);
    expect(result.toolCalls).toEqual([{ name: 'add_note', args: { title: 'milk' }, ok: true, output: '{"saved":"milk","count":1}' }]);
    expect(result.usage).toEqual({ inputTokens: 220, outputTokens: 18 });
    expect(result.trace).toMatchObject({ taskId: 'note-1', harnessId: agent.harnessId, success: true, model: 'scripted:agent' });

    expect(seenBySecondCall).toEqual(['model', 'tool', 'note']);
    expect(steps.filter((s) => s.type !== 'note').map((s) => `${s.type}@${s.step}`)).toEqual(['model@1', 'tool@1', 'model@2', 'answer@2']);
    expect(steps[1]).toMatchObject({ type: 'tool', call: { name: 'add_note', args: { title: 'milk' } }, approved: true, result: { ok: true } });
    expect(steps.find((s) => s.type === 'answer')).toEqual({ type: 'answer', step: 2, text: 'I saved a note titled milk.' });
    // The harness's tracer processor notes each step's end; the last one comes after the answer.
    expect(steps.at(-1)).toMatchObject({ type: 'note', note: 'step', data: { step: 2, done: true } });
    // The tools' JSON Schema reached the model's request.
    expect(model.requests[0].tools.map((t) => t.name)).toEqual(['add_note']);
    expect(model.requests[0].tools[0].inputSchema).toMatchObject({ type: 'object', required: ['title'] });
  });

  it("applies the harness's processors: tool_docs documents the tools in the system prompt, step_budget ends the run", async () => {
    const withDocs = parseHarnessConfig({
      model: { main: { model: 'sim:small' } },
      hooks: {
        task_start: [
          { id: 'prompt', type: 'system_prompt', params: { template: 'You keep notes. Tools: {tools}.' } },
          { id: 'docs', type: 'tool_docs', params: {} },
        ],
        step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 2 } }],
      },
    });
    // The same tools under the seed harness (no tool_docs), for contrast.
    const bareModel = new ScriptedAgentModel([{ text: 'done' }]);
    await createAgent({ harness: seedHarness(), model: bareModel, tools: [addNote] }).run('note');

    const model = new ScriptedAgentModel([
      { call: { name: 'add_note', args: { title: 'a' } } },
      { call: { name: 'add_note', args: { title: 'b' } } },
    ]);
    const result = await createAgent({ harness: withDocs, model, tools: [addNote], initialState: () => ({ notes: [] }) }).run('Keep adding notes.');
    model.assertConsumed();
    const system = model.requests[0].messages[0];
    expect(system.role).toBe('system');
    expect(system.content).toContain('You keep notes. Tools: add_note.');
    expect(system.content).toContain('Tools (call exactly one per turn):\n- add_note: Adds a note. Parameters: title: The note title.');
    expect(bareModel.requests[0].messages[0].content).not.toContain('Tools (call exactly one per turn)');
    // maxSteps 2: the episode ends at the start of step 3, before a third model call, without an answer.
    expect(result).toMatchObject({ answer: null, endReason: 'step_budget_exhausted', steps: 2 });
    expect(result.toolCalls.map((c) => c.output)).toEqual(['{"saved":"a","count":1}', '{"saved":"b","count":2}']);
  });

  it('gives each run fresh tool sessions and closes them; an unknown tool is a tool error the model sees', async () => {
    const { provider, events } = recordingProvider('kb');
    const model = new ScriptedAgentModel([
      { call: { name: 'no_such_tool', args: {} } },
      (request) => {
        expect(request.messages.at(-1)).toMatchObject({ role: 'tool', isError: true, content: 'unknown tool "no_such_tool"; tools: add_note, kb_lookup' });
        return { text: '', toolCalls: [{ id: 'c2', name: 'kb_lookup', args: { key: 'vpn' } }], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'tool_use', model: 'scripted:agent' };
      },
      { text: 'The VPN value.' },
      { text: 'Second run answer.' },
    ]);
    const agent = createAgent({ harness: seedHarness(), model, tools: [provider, addNote], initialState: () => ({ notes: [] }) });
    expect((await agent.run({ id: 'first', instruction: 'Look up vpn.' })).answer).toBe('The VPN value.');
    expect((await agent.run({ id: 'second', instruction: 'Anything.' })).answer).toBe('Second run answer.');
    model.assertConsumed();
    expect(events).toEqual(['open first', 'call kb_lookup', 'close', 'open second', 'close']);
  });

  it('closes the sessions when the model fails, and the error names provider, model and cause', async () => {
    const { provider, events } = recordingProvider('kb');
    const model = new ScriptedAgentModel([
      { call: { name: 'kb_lookup', args: { key: 'x' } } },
      () => {
        throw new TypeError('socket hang up');
      },
    ]);
    const agent = createAgent({ harness: seedHarness(), model, tools: [provider] });
    const error = await agent.run('Look x up.').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: 'scripted', model: 'agent', kind: 'unavailable' });
    expect((error as Error).message).toBe('scripted model "agent": connection failed: socket hang up');
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(events).toEqual([expect.stringMatching(/^open task-[0-9a-f]{12}$/), 'call kb_lookup', 'close']);
    model.assertConsumed();
  });

  it('a provider error keeps its own classification; a session that throws ends the run with the provider named, sessions closed', async () => {
    const rejected = new ProviderError('openai model "gpt-x": authentication failed (check the API key) (401): bad key', 'openai', 'gpt-x', false, 401, null, 'rejected');
    const first = recordingProvider('kb');
    const e1 = await createAgent({ harness: seedHarness(), model: new ScriptedAgentModel([() => Promise.reject(rejected)]), tools: [first.provider] })
      .run('x')
      .catch((e: unknown) => e);
    expect(e1).toBe(rejected);
    expect(first.events.at(-1)).toBe('close');

    const broken = recordingProvider('kb', { callThrows: true });
    const model = new ScriptedAgentModel([{ call: { name: 'kb_lookup', args: { key: 'x' } } }]);
    const e2 = await createAgent({ harness: seedHarness(), model, tools: [broken.provider] }).run('x').catch((e: unknown) => e);
    expect((e2 as Error).message).toBe('tools "kb": call of "kb_lookup" failed: connection reset by server');
    expect(broken.events).toEqual([expect.stringMatching(/^open task-[0-9a-f]{12}$/), 'call kb_lookup', 'close']);
    model.assertConsumed();
  });

  it('stops on an abort signal mid-tool-call and when onStep throws, closing the sessions either way', async () => {
    const slow = recordingProvider('kb', { slowCallMs: 2000 });
    const controller = new AbortController();
    const model = new ScriptedAgentModel([{ call: { name: 'kb_lookup', args: { key: 'x' } } }]);
    const started = Date.now();
    const running = createAgent({ harness: seedHarness(), model, tools: [slow.provider] }).run('x', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user cancelled')), 50);
    await expect(running).rejects.toThrow('user cancelled');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(slow.events).toEqual([expect.stringMatching(/^open /), 'call kb_lookup', 'close']);
    model.assertConsumed();

    const watched = recordingProvider('kb');
    const model2 = new ScriptedAgentModel([{ call: { name: 'kb_lookup', args: { key: 'x' } } }]);
    const failing = createAgent({
      harness: seedHarness(),
      model: model2,
      tools: [watched.provider],
      onStep: (s) => {
        if (s.type === 'tool') throw new Error('the UI went away');
      },
    });
    await expect(failing.run('x')).rejects.toThrow('the UI went away');
    // The run stopped at the failing step: no second model call (the script would have thrown "unexpected call").
    expect(model2.requests).toHaveLength(1);
    expect(watched.events.at(-1)).toBe('close');

    const already = new AbortController();
    already.abort(new Error('too late'));
    const untouched = recordingProvider('kb');
    await expect(createAgent({ harness: seedHarness(), model: new ScriptedAgentModel([]), tools: [untouched.provider] }).run('x', { signal: already.signal })).rejects.toThrow('too late');
    expect(untouched.events).toEqual([]);
  });

  it('reports a session that does not close after an otherwise good run, and duplicate tool names across providers', async () => {
    const leaky = recordingProvider('kb', { closeThrows: true });
    await expect(createAgent({ harness: seedHarness(), model: new ScriptedAgentModel([{ text: 'ok' }]), tools: [leaky.provider] }).run('x')).rejects.toThrow(
      'the run finished but its tool sessions did not close: tools "kb": server did not exit',
    );
    const a = recordingProvider('kb');
    const b = recordingProvider('kb');
    await expect(createAgent({ harness: seedHarness(), model: new ScriptedAgentModel([]), tools: [a.provider, b.provider] }).run('x')).rejects.toThrow(
      'tool "kb_lookup" is offered by both "kb" and "kb"',
    );
    expect(a.events.at(-1)).toBe('close');
    expect(b.events.at(-1)).toBe('close');
  });

  it('refuses bad input with a clear error: model string, tools, task, harness', () => {
    expect(() => createAgent({ harness: seedHarness(), model: 'nope:thing' })).toThrow('unknown model provider "nope" in "nope:thing"; available: sim, anthropic, openai, openai-compatible');
    expect(() => createAgent({ harness: seedHarness(), model: 'openai-compatible:qwen' })).toThrow('give a base URL, as in openai-compatible:qwen@http://localhost:8000/v1');
    expect(() => createAgent({ harness: seedHarness(), model: 'sim:small', tools: [{ name: 'x' } as never] })).toThrow('createAgent: tools[0] is neither a ToolProvider');
    expect(() => createAgent({ harness: { model: { main: { model: 'sim:small' } }, hooks: { task_start: [{ id: 'p', type: 'nope' }] } }, model: 'sim:small' })).toThrow(
      'harness object: invalid harness config\n  - hooks.task_start.p: unknown processor type "nope"',
    );
    const agent = createAgent({ harness: seedHarness(), model: new ScriptedAgentModel([]) });
    return expect(agent.run('  ')).rejects.toThrow('agent.run: the task needs a non-empty instruction');
  });

  it("uses the harness's own main model when none is given (the simulator here), and a model string otherwise", async () => {
    const result = await createAgent({ harness: seedHarness('sim:large'), tools: [addNote], initialState: () => ({ notes: [] }), maxSteps: 3 }).run('Add a note.');
    expect(result.trace.model).toBe('sim:large');
    const viaString = await createAgent({ harness: seedHarness('sim:large'), model: 'sim:small', tools: [addNote], maxSteps: 3 }).run('Add a note.');
    expect(viaString.trace.model).toBe('sim:small');
  });
});

describe("createAgent gives processors the harness's model roles", () => {
  it('an llm_judge processor asks the judge role (sim:small), not the product\'s main model, and the scripted main model sees only its own turn', async () => {
    const model = new ScriptedAgentModel([{ text: 'All done.', call: undefined }]);
    const harness = parseHarnessConfig({ ...seedHarness(), model: { main: { model: 'sim:small' }, judge: { model: 'sim:small' } }, hooks: { ...seedHarness().hooks, task_end: [{ id: 'llm_judge', type: 'llm_judge', params: {} }] } });
    const agent = createAgent({ harness, model, tools: [addNote], initialState: () => ({ notes: [] }) });
    const result = await agent.run({ id: 'judged', instruction: 'Say you are done.' });
    // The main model was asked exactly once (the scripted reply); the judge's call went elsewhere and was noted.
    model.assertConsumed();
    const judged = result.trace.records.filter((r) => r.kind === 'note' && r.note === 'llm_judge');
    expect(judged).toHaveLength(1);
  });
});

describe('createAgent with an MCP server (the SDK-built stdio fixture)', () => {
  jest.setTimeout(60_000);
  it('calls its tools through the MCP client and stops the server when the run ends', async () => {
    const notes = mcpTools({ mcp: { command: process.execPath, args: [join(__dirname, '../fixtures/mcp/stdio-notes-server.mjs')] } });
    const model = new ScriptedAgentModel([
      { call: { name: 'add_note', args: { title: 'standup' } } },
      { call: { name: 'whoami', args: {} } },
      { text: 'Saved.' },
    ]);
    const steps: AgentStep[] = [];
    const result = await createAgent({ harness: seedHarness(), model, tools: [notes], onStep: (s) => steps.push(s) }).run('Save a note called standup.');
    model.assertConsumed();
    expect(result.answer).toBe('Saved.');
    expect(model.requests[0].tools.map((t) => t.name)).toEqual(expect.arrayContaining(['add_note', 'whoami']));
    expect(result.toolCalls[0]).toMatchObject({ name: 'add_note', ok: true });
    const pid = Number(result.toolCalls[1].output);
    expect(pid).toBeGreaterThan(0);
    expect(steps.filter((s) => s.type === 'tool')).toHaveLength(2);
    // The session was closed with the run: the server process is gone.
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('loadHarness', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hx-load-'));
  const seed = seedHarness('openai-compatible:m@http://localhost:8000/v1');

  it('reads a harness file as the store writes it, JSON text, and the evolve --json summary that points at one', () => {
    const file = join(dir, 'hx-seed.json');
    writeFileSync(file, toJson(seed));
    expect(loadHarness(file)).toEqual(seed);
    expect(loadHarness(toJson(seed))).toEqual(seed);
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ workflowId: 'w', harnessId: 'hx-0000000000000000', harnessPath: 'hx-seed.json', evolvedPassRate: 0.9 }));
    expect(loadHarness(join(dir, 'summary.json'))).toEqual(seed);
  });

  it('names the file and the field on bad input', () => {
    expect(() => loadHarness(join(dir, 'missing.json'))).toThrow(`harness file ${join(dir, 'missing.json')}: no such file`);
    writeFileSync(join(dir, 'broken.json'), '{"model": ');
    expect(() => loadHarness(join(dir, 'broken.json'))).toThrow(new RegExp(`^harness file ${join(dir, 'broken.json')}: is not valid JSON \\(`));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ model: { main: { model: 'sim:small' } }, hooks: { step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 'ten' } }] }, colour: 'red' }));
    const error = (() => {
      try {
        loadHarness(join(dir, 'bad.json'));
      } catch (e) {
        return e as HarnessLoadError;
      }
    })();
    expect(error).toBeInstanceOf(HarnessLoadError);
    expect(error?.source).toBe(`harness file ${join(dir, 'bad.json')}`);
    expect(error?.issues).toEqual(['(root): Unrecognized key: "colour"']);
    writeFileSync(join(dir, 'params.json'), JSON.stringify({ model: { main: { model: 'sim:small' } }, hooks: { step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 'ten' } }] } }));
    expect(() => loadHarness(join(dir, 'params.json'))).toThrow(/params\.json: invalid harness config\n {2}- hooks\.step_start\.budget\.params\.maxSteps: /);
    expect(() => loadHarness('[]')).toThrow('harness file []: no such file');
    expect(() => loadHarness('{"model": 1}')).toThrow('harness JSON: invalid harness config\n  - model: ');
    expect(() => loadHarness('')).toThrow('loadHarness: expected a harness file path, JSON text or object, got an empty string');
    expect(() => loadHarness(dir)).toThrow(`harness file ${dir}: is a directory, not a harness JSON file`);
  });
});

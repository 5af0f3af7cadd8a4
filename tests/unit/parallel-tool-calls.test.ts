import { z } from 'zod';
import { traceExcerpt } from '../../aegis/llm/prompts';
import { harnessId, parseHarnessConfig } from '../../harness/config';
import { defineProcessor, mapProcessor } from '../../harness/processor';
import { PROCESSOR_LIBRARY } from '../../harness/processors';
import { Environment, runEpisode } from '../../harness/run-loop';
import type { HookEvent, ToolCall } from '../../harness/types';
import { createModel } from '../../models/registry';
import { RecordedRequest, startWireServer, WireReply } from '../helpers/wire-server';

/**
 * Real models send several tool calls in one reply (OpenAI's and Anthropic's default). The run loop must run
 * every one, in order, each through before_tool/after_tool, and answer each in its own tool-result message
 * with its own call id; the tests drive the real SDK clients against local servers speaking both protocols.
 */

/** A ledger: `add` appends a number; the episode ends when the model gives its final answer (or the goal sum is reached). */
function ledger(goalSum?: number): Environment & { entries: number[] } {
  let answered = false;
  const entries: number[] = [];
  return {
    entries,
    instruction: () => 'Add 1, 2 and 3 to the ledger, then say done.',
    tools: () => [{ name: 'add', description: 'Append a number to the ledger.', parameters: { n: { type: 'number', description: 'the number', required: true } } }],
    admissibleActions: () => null,
    execute: (call: ToolCall) => {
      entries.push(Number(call.args.n));
      return { ok: true, output: `ledger: ${entries.join(', ')}` };
    },
    isDone: () => answered || (goalSum !== undefined && entries.reduce((a, b) => a + b, 0) >= goalSum),
    answer: () => {
      answered = true;
    },
  };
}

const CALLS = [
  { id: 'call_a', n: 1 },
  { id: 'call_b', n: 2 },
  { id: 'call_c', n: 3 },
];

const openaiThreeCalls = {
  id: 'chatcmpl-3', object: 'chat.completion', created: 1, model: 'gpt-test',
  choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: CALLS.map((c) => ({ id: c.id, type: 'function', function: { name: 'add', arguments: JSON.stringify({ n: c.n }) } })) } }],
  usage: { prompt_tokens: 50, completion_tokens: 30, total_tokens: 80 },
};
const openaiDone = {
  id: 'chatcmpl-4', object: 'chat.completion', created: 2, model: 'gpt-test',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'done' } }],
  usage: { prompt_tokens: 90, completion_tokens: 1, total_tokens: 91 },
};
const anthropicThreeCalls = {
  id: 'msg_3', type: 'message', role: 'assistant', model: 'claude-test',
  content: [{ type: 'text', text: 'Adding all three.' }, ...CALLS.map((c) => ({ type: 'tool_use', id: c.id, name: 'add', input: { n: c.n } }))],
  stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 50, output_tokens: 30 },
};
const anthropicDone = {
  id: 'msg_4', type: 'message', role: 'assistant', model: 'claude-test',
  content: [{ type: 'text', text: 'done' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 90, output_tokens: 1 },
};

/** What the second request carried back to the model: each tool result with its call id and error flag, in order. */
type Returned = Array<{ id: string; content: string; isError: boolean }>;
const PROTOCOLS = [
  {
    name: 'OpenAI Chat Completions',
    path: '/v1/chat/completions',
    replies: [openaiThreeCalls, openaiDone],
    model: (url: string) => {
      process.env.OPENAI_COMPATIBLE_API_KEY = 'local-key';
      return createModel(`openai-compatible:gpt-test@${url}/v1`, { seed: 's' });
    },
    returned: (body: Record<string, unknown>): Returned =>
      (body.messages as Array<{ role: string; tool_call_id?: string; content: string }>)
        .filter((m) => m.role === 'tool')
        // Chat Completions has no error flag on a tool message: the text says it.
        .map((m) => ({ id: m.tool_call_id!, content: m.content, isError: /not run/.test(m.content) })),
    // One tool message per call, right after the assistant message that made the calls.
    shape: (body: Record<string, unknown>) => (body.messages as Array<{ role: string }>).map((m) => m.role).join(','),
    expectedShape: 'user,assistant,tool,tool,tool',
  },
  {
    name: 'Anthropic Messages',
    path: '/v1/messages',
    replies: [anthropicThreeCalls, anthropicDone],
    model: (url: string) => {
      process.env.ANTHROPIC_API_KEY = 'sk-ant-test';
      process.env.ANTHROPIC_BASE_URL = url;
      return createModel('anthropic:claude-test', { seed: 's' });
    },
    returned: (body: Record<string, unknown>): Returned =>
      (body.messages as Array<{ role: string; content: Array<{ type: string; tool_use_id?: string; content?: string; is_error?: boolean }> }>)
        .flatMap((m) => m.content)
        .filter((b) => b.type === 'tool_result')
        .map((b) => ({ id: b.tool_use_id!, content: b.content!, isError: !!b.is_error })),
    // The protocol wants all of a turn's tool results as blocks of the one user message that follows it.
    shape: (body: Record<string, unknown>) => (body.messages as Array<{ role: string; content: Array<{ type: string }> }>).map((m) => `${m.role}[${m.content.map((b) => b.type).join('+')}]`).join(','),
    expectedShape: 'user[text],assistant[text+tool_use+tool_use+tool_use],user[tool_result+tool_result+tool_result]',
  },
];

describe('parallel tool calls: a reply with three calls runs all three', () => {
  const seen: Array<{ hook: string; id: string }> = [];
  beforeAll(() => {
    for (const hook of ['before_tool', 'after_tool'] as const)
      PROCESSOR_LIBRARY[`test_watch_${hook}`] = defineProcessor({
        type: `test_watch_${hook}`, dimension: 'control', description: 'test', hooks: [hook], meta: { order: 'normal' }, params: z.object({}),
        create: () => mapProcessor((e: HookEvent) => {
          if (e.hook === 'before_tool' || e.hook === 'after_tool') seen.push({ hook: e.hook, id: e.call.id });
          return e;
        }),
      });
  });
  afterAll(() => {
    delete PROCESSOR_LIBRARY.test_watch_before_tool;
    delete PROCESSOR_LIBRARY.test_watch_after_tool;
    delete process.env.ANTHROPIC_BASE_URL;
  });
  beforeEach(() => {
    seen.length = 0;
  });

  const episode = async (protocol: (typeof PROTOCOLS)[number], options: { maxCallsPerStep?: number; goalSum?: number } = {}) => {
    let n = 0;
    const server = await startWireServer((r: RecordedRequest): WireReply | undefined => (r.path === protocol.path ? { body: protocol.replies[Math.min(n++, 1)] } : undefined));
    try {
      const config = parseHarnessConfig({
        name: 'parallel',
        model: { main: { model: 'gpt-test' } },
        hooks: { before_tool: [{ id: 'watch_before', type: 'test_watch_before_tool' }], after_tool: [{ id: 'watch_after', type: 'test_watch_after_tool' }] },
        slots: { toolRegistry: options.maxCallsPerStep ? { maxCallsPerStep: options.maxCallsPerStep } : {} },
      });
      const env = ledger(options.goalSum);
      const trace = await runEpisode({ config, harnessId: harnessId(config), env, model: protocol.model(server.url), task: { id: 't1', instruction: env.instruction() }, seed: 's', attempt: 0, hardStepCap: 5 });
      return { trace, env, requests: server.requests, unexpected: server.unexpected };
    } finally {
      await server.close();
    }
  };

  for (const protocol of PROTOCOLS) {
    describe(protocol.name, () => {
      it('runs every call in order through before_tool and after_tool and answers each call id in its own result', async () => {
        const { trace, env, requests, unexpected } = await episode(protocol);
        expect(unexpected).toEqual([]);
        expect(env.entries).toEqual([1, 2, 3]);
        expect(seen).toEqual(CALLS.flatMap((c) => [{ hook: 'before_tool', id: c.id }, { hook: 'after_tool', id: c.id }]));
        expect(requests).toHaveLength(2);
        expect(protocol.shape(requests[1].body)).toBe(protocol.expectedShape);
        expect(protocol.returned(requests[1].body)).toEqual([
          { id: 'call_a', content: 'ledger: 1', isError: false },
          { id: 'call_b', content: 'ledger: 1, 2', isError: false },
          { id: 'call_c', content: 'ledger: 1, 2, 3', isError: false },
        ]);
        const toolRecords = trace.records.flatMap((r) => (r.kind === 'tool_call' ? [{ step: r.step, id: r.call.id, ok: r.result.ok }] : []));
        expect(toolRecords).toEqual(CALLS.map((c) => ({ step: 1, id: c.id, ok: true })));
        expect(trace.steps).toBe(2);
        expect(trace.success).toBe(true);
        // The digest's excerpt shows one reply of three calls, not three steps.
        expect(traceExcerpt(trace)).toContain('step 1 (call 2 of 3): add({"n":2}) → ok: ledger: 1, 2');
      });

      it("caps the calls run per reply at the harness's maxCallsPerStep and answers the rest with a clear error", async () => {
        const { trace, env, requests } = await episode(protocol, { maxCallsPerStep: 2 });
        expect(env.entries).toEqual([1, 2]);
        const returned = protocol.returned(requests[1].body);
        expect(returned.map((r) => r.id)).toEqual(['call_a', 'call_b', 'call_c']);
        expect(returned[2]).toEqual({ id: 'call_c', isError: true, content: expect.stringContaining('this harness runs at most 2 tool calls per reply and this was call 3 of 3') });
        // The capped call never reached the tool hooks, and the trace says it was refused.
        expect(seen.map((s) => s.id)).not.toContain('call_c');
        const capped = trace.records.find((r) => r.kind === 'tool_call' && r.call.id === 'call_c');
        expect(capped).toMatchObject({ approved: false, result: { ok: false, errorKind: 'blocked' } });
      });
    });
  }

  it('does not run the calls after one that finished the task: a later move could undo it', async () => {
    const { env, trace, requests } = await episode(PROTOCOLS[0], { goalSum: 1 });
    expect(env.entries).toEqual([1]);
    expect(requests).toHaveLength(1);
    expect(trace.success).toBe(true);
    const results = trace.records.flatMap((r) => (r.kind === 'tool_call' ? [r.result.output] : []));
    expect(results.slice(1)).toEqual([
      'Tool call not run: the task was already finished by call 1 of 3 in this reply.',
      'Tool call not run: the task was already finished by call 1 of 3 in this reply.',
    ]);
  });

  it('refuses a cap that is not a positive whole number, naming the field', () => {
    expect(() => parseHarnessConfig({ model: { main: { model: 'sim:small' } }, slots: { toolRegistry: { maxCallsPerStep: 0 } } })).toThrow(/slots\.toolRegistry\.maxCallsPerStep/);
  });
});

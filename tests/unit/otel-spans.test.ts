import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { runOneEpisode } from '../../aegis/rollout';
import { getBenchmark } from '../../benchmarks/registry';
import { harnessId } from '../../harness/config';
import { CAPTURE_CONTENT_ENV, genAiModel } from '../../harness/genai-telemetry';
import type { Model } from '../../harness/processor';
import { redact, secretsFromEnvironment } from '../../harness/redact';
import { type Environment, runEpisode } from '../../harness/run-loop';
import { seedHarness } from '../../harness/seed';
import { parseHarnessConfig } from '../../harness/config';
import type { ModelRequest, ModelResponse, ToolCall, ToolResult, ToolSpec } from '../../harness/types';
import { redact as providerRedact } from '../../models/errors';
import { startTelemetry, telemetryConfigured } from '../../telemetry';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

const savedEnv = { ...process.env };
afterEach(() => {
  exporter.reset();
  process.env = { ...savedEnv };
});

const named = (spans: ReadableSpan[], prefix: string) => spans.filter((s) => s.name.startsWith(prefix));
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const CONTENT_KEYS = ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.tool.call.arguments', 'gen_ai.tool.call.result', 'gen_ai.tool.definitions'];

describe('episode spans (GenAI semantic conventions) with an SDK registered', () => {
  beforeAll(() => {
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
  });
  afterAll(() => trace.disable());

  test('one simulator episode: one invoke_agent span with a chat child per model call and an execute_tool child per tool call', async () => {
    const bench = getBenchmark('blocksworld');
    const task = bench.tasks()[0];
    const config = seedHarness('sim:small');
    const traced = await runOneEpisode({ benchmark: bench, config, harnessId: harnessId(config), seed: 'otel' }, task.id, 0);
    const spans = exporter.getFinishedSpans();

    const agents = named(spans, 'invoke_agent');
    expect(agents).toHaveLength(1);
    const [agent] = agents;
    expect(agent.name).toBe('invoke_agent seed');
    expect(agent.kind).toBe(SpanKind.INTERNAL);
    expect(agent.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'seed',
      'gen_ai.agent.id': harnessId(config),
      'gen_ai.provider.name': 'harnessx.simulator',
      'gen_ai.request.model': 'small',
      'harnessx.harness.id': harnessId(config),
      'harnessx.task.id': task.id,
      'harnessx.episode.seed': 'otel|' + task.id + '|0',
      'harnessx.episode.attempt': 0,
      'harnessx.episode.end_reason': traced.endReason,
      'harnessx.episode.steps': traced.steps,
      'harnessx.episode.reward': traced.reward,
      'harnessx.episode.success': traced.success,
      'gen_ai.usage.input_tokens': traced.usage.inputTokens,
      'gen_ai.usage.output_tokens': traced.usage.outputTokens,
    });

    const modelCalls = traced.records.filter((r) => r.kind === 'model_call');
    const toolCalls = traced.records.filter((r) => r.kind === 'tool_call');
    const chats = named(spans, 'chat ');
    const tools = named(spans, 'execute_tool ');
    expect(chats.length).toBe(modelCalls.length);
    expect(tools.length).toBe(toolCalls.length);
    expect(tools.length).toBeGreaterThan(0);
    expect(spans).toHaveLength(1 + chats.length + tools.length);
    for (const child of [...chats, ...tools]) {
      expect(parentId(child)).toBe(agent.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(agent.spanContext().traceId);
    }

    // Each chat span carries its call's model, tokens and finish reason, in call order.
    chats.forEach((chat, i) => {
      const record = modelCalls[i] as Extract<(typeof traced.records)[number], { kind: 'model_call' }>;
      expect(chat.name).toBe('chat small');
      expect(chat.kind).toBe(SpanKind.CLIENT);
      expect(chat.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'harnessx.simulator',
        'gen_ai.request.model': 'small',
        'gen_ai.usage.input_tokens': record.usage.inputTokens,
        'gen_ai.usage.output_tokens': record.usage.outputTokens,
        'gen_ai.response.finish_reasons': [{ end_turn: 'stop', tool_use: 'tool_calls', max_tokens: 'length', error: 'error' }[record.response.stopReason]],
      });
    });
    const tokenSum = chats.reduce((n, c) => n + (c.attributes['gen_ai.usage.input_tokens'] as number), 0);
    expect(tokenSum).toBe(traced.usage.inputTokens);

    tools.forEach((span, i) => {
      const record = toolCalls[i] as Extract<(typeof traced.records)[number], { kind: 'tool_call' }>;
      expect(span.name).toBe(`execute_tool ${record.call.name}`);
      expect(span.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': record.call.name, 'gen_ai.tool.call.id': record.call.id });
      // The status follows the tool's own result (after_tool processors may rewrite what the trace keeps).
      expect(span.status.code === SpanStatusCode.ERROR).toBe(span.attributes['error.type'] !== undefined);
    });

    // Content is opt-in: none of it by default.
    for (const span of spans) for (const key of CONTENT_KEYS) expect(span.attributes[key]).toBeUndefined();
  });

  /** A scripted model and a one-tool environment: the tool and the model both echo a configured secret. */
  function scriptedEpisode(secret: string) {
    const replies: Array<Pick<ModelResponse, 'text' | 'toolCalls' | 'stopReason'>> = [
      { text: 'first a tool that does not exist', toolCalls: [{ id: 'call-1', name: 'teleport', args: {} }], stopReason: 'tool_use' },
      { text: `looking up with key ${secret}`, toolCalls: [{ id: 'call-2', name: 'lookup', args: { query: `order 42 ${secret}` } }], stopReason: 'tool_use' },
      { text: 'done', toolCalls: [{ id: 'call-3', name: 'finish', args: {} }], stopReason: 'tool_use' },
    ];
    let turn = 0;
    const model: Model = {
      id: 'openai-compatible:test-model',
      generate: async (request: ModelRequest) => {
        expect(request.messages.length).toBeGreaterThan(0);
        const reply = replies[turn++];
        if (!reply) throw new Error('scripted model: unexpected extra call');
        return { ...reply, usage: { inputTokens: 100 + turn, outputTokens: 10 + turn }, model: 'openai-compatible:test-model-0613' };
      },
    };
    let done = false;
    const env: Environment = {
      instruction: () => 'Find order 42.',
      tools: (): ToolSpec[] => [
        { name: 'lookup', description: 'find an order', parameters: { query: { type: 'string', description: 'what to find' } } },
        { name: 'finish', description: 'end', parameters: {} },
      ],
      admissibleActions: () => null,
      execute: (call: ToolCall): ToolResult => {
        if (call.name === 'finish') {
          done = true;
          return { ok: true, output: 'finished' };
        }
        return { ok: false, output: `order 42 not found (auth ${secret})`, errorKind: 'precondition' };
      },
      isDone: () => done,
    };
    const config = parseHarnessConfig({
      name: 'support-desk',
      model: { main: { model: 'openai-compatible:test-model' } },
      hooks: { before_tool: [{ id: 'args', type: 'arg_validation', params: {} }] },
    });
    return runEpisode({ config, harnessId: 'hx-test', env, model, task: { id: 'order-42', instruction: 'Find order 42.' }, seed: 's|order-42|0', attempt: 0 });
  }

  test('blocked and failed tool calls are error spans; model names, provider and finish reasons map; no content by default', async () => {
    const secret = 'sk-test-0123456789abcdef';
    process.env.OPENAI_COMPATIBLE_API_KEY = secret;
    const result = await scriptedEpisode(secret);
    expect(result.endReason).toBe('goal_reached');
    const spans = exporter.getFinishedSpans();
    const [agent] = named(spans, 'invoke_agent');
    expect(agent.name).toBe('invoke_agent support-desk');
    // runEpisode alone (createAgent's path) has no verifier: no reward on the span.
    expect(agent.attributes['harnessx.episode.reward']).toBeUndefined();
    expect(agent.attributes['gen_ai.provider.name']).toBe('openai-compatible');

    const chats = named(spans, 'chat ');
    expect(chats.map((c) => c.name)).toEqual(['chat test-model', 'chat test-model', 'chat test-model']);
    expect(chats.map((c) => c.attributes['gen_ai.response.model'])).toEqual(['test-model-0613', 'test-model-0613', 'test-model-0613']);
    expect(chats.map((c) => c.attributes['gen_ai.usage.input_tokens'])).toEqual([101, 102, 103]);
    expect(chats.map((c) => c.attributes['gen_ai.response.finish_reasons'])).toEqual([['tool_calls'], ['tool_calls'], ['tool_calls']]);

    const tools = named(spans, 'execute_tool ');
    expect(tools.map((t) => [t.name, t.attributes['gen_ai.tool.call.id'], t.status.code, t.attributes['error.type']])).toEqual([
      ['execute_tool teleport', 'call-1', SpanStatusCode.ERROR, 'blocked'],
      ['execute_tool lookup', 'call-2', SpanStatusCode.ERROR, 'precondition'],
      ['execute_tool finish', 'call-3', SpanStatusCode.UNSET, undefined],
    ]);
    const everything = JSON.stringify(spans.map((s) => ({ a: s.attributes, e: s.events, st: s.status })));
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('order 42');
  });

  test('invoke_agent names the model the agent actually used, and chat spans put its endpoint in server.address/server.port', async () => {
    // The harness file says sim:small; the run (like `rollout --model` or createAgent) uses an endpoint model.
    const used = 'openai-compatible:qwen3.5-9b@http://127.0.0.1:8123/v1';
    const model: Model = {
      id: used,
      generate: async () => ({ text: '', toolCalls: [{ id: 'c1', name: 'finish', args: {} }], stopReason: 'tool_use', usage: { inputTokens: 5, outputTokens: 1 }, model: 'openai-compatible:qwen3.5-9b-instruct' }),
    };
    let done = false;
    const env: Environment = {
      instruction: () => 'Finish.',
      tools: () => [{ name: 'finish', description: 'end', parameters: {} }],
      admissibleActions: () => null,
      execute: () => {
        done = true;
        return { ok: true, output: 'finished' };
      },
      isDone: () => done,
    };
    const config = parseHarnessConfig({ name: 'desk', model: { main: { model: 'sim:small' } } });
    await runEpisode({ config, harnessId: 'hx-test', env, model, task: { id: 't', instruction: 'Finish.' }, seed: 's', attempt: 0 });
    const spans = exporter.getFinishedSpans();
    const [agent] = named(spans, 'invoke_agent');
    const [chat] = named(spans, 'chat ');
    const endpoint = { 'gen_ai.provider.name': 'openai-compatible', 'gen_ai.request.model': 'qwen3.5-9b', 'server.address': '127.0.0.1', 'server.port': 8123 };
    expect(agent.attributes).toMatchObject({ ...endpoint, 'gen_ai.response.model': 'qwen3.5-9b-instruct' });
    expect(chat.name).toBe('chat qwen3.5-9b');
    expect(chat.attributes).toMatchObject({ ...endpoint, 'gen_ai.response.model': 'qwen3.5-9b-instruct' });
    // Neither the harness file's simulator nor the URL is named as a model.
    const everything = JSON.stringify(spans.map((s) => s.attributes));
    expect(everything).not.toContain('harnessx.simulator');
    expect(everything).not.toMatch(/"gen_ai\.(request|response)\.model":"[^"]*http/);
  });

  test('opted in, message content and tool arguments/results are recorded, with secrets redacted', async () => {
    const secret = 'sk-test-0123456789abcdef';
    process.env.OPENAI_COMPATIBLE_API_KEY = secret;
    process.env[CAPTURE_CONTENT_ENV] = 'true';
    await scriptedEpisode(secret);
    const spans = exporter.getFinishedSpans();
    const chats = named(spans, 'chat ');
    const input = JSON.parse(chats[1].attributes['gen_ai.input.messages'] as string);
    // The history as the convention's parts: the user's task, the first call, the harness's refusal.
    expect(input.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(input[0].parts).toEqual([{ type: 'text', content: 'Find order 42.' }]);
    expect(input[1].parts).toContainEqual({ type: 'tool_call', id: 'call-1', name: 'teleport', arguments: {} });
    expect(input[2].parts[0]).toMatchObject({ type: 'tool_call_response', id: 'call-1' });
    const output = JSON.parse(chats[1].attributes['gen_ai.output.messages'] as string);
    expect(output).toEqual([
      {
        role: 'assistant',
        finish_reason: 'tool_calls',
        parts: [
          { type: 'text', content: 'looking up with key [redacted]' },
          { type: 'tool_call', id: 'call-2', name: 'lookup', arguments: { query: 'order 42 [redacted]' } },
        ],
      },
    ]);
    const lookup = named(spans, 'execute_tool lookup')[0];
    expect(JSON.parse(lookup.attributes['gen_ai.tool.call.arguments'] as string)).toEqual({ query: 'order 42 [redacted]' });
    expect(lookup.attributes['gen_ai.tool.call.result']).toBe('order 42 not found (auth [redacted])');
    // The third call's input holds the secret twice (the model's text and the tool's answer): redacted everywhere.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(secret);
    expect(chats[2].attributes['gen_ai.input.messages']).toContain('[redacted]');
  });

  test('a model call that throws ends its chat span and the agent span as errors, with the message redacted', async () => {
    const secret = 'sk-live-abcdefabcdef';
    process.env.ANTHROPIC_API_KEY = secret;
    const failure = Object.assign(new Error(`401 for key ${secret}`), { kind: 'rejected' });
    const model: Model = { id: 'anthropic:claude-test', generate: async () => Promise.reject(failure) };
    const env: Environment = { instruction: () => 'x', tools: () => [], admissibleActions: () => null, execute: () => ({ ok: true, output: '' }), isDone: () => false };
    const config = parseHarnessConfig({ model: { main: { model: 'anthropic:claude-test' } } });
    await expect(runEpisode({ config, harnessId: 'hx', env, model, task: { id: 't', instruction: 'x' }, seed: 's', attempt: 0 })).rejects.toBe(failure);
    const spans = exporter.getFinishedSpans();
    const [chat] = named(spans, 'chat ');
    const [agent] = named(spans, 'invoke_agent');
    expect(chat.attributes).toMatchObject({ 'gen_ai.provider.name': 'anthropic', 'error.type': 'rejected' });
    expect(chat.status.code).toBe(SpanStatusCode.ERROR);
    expect(agent.status.code).toBe(SpanStatusCode.ERROR);
    expect(parentId(chat)).toBe(agent.spanContext().spanId);
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.events, s.status]))).not.toContain(secret);
    expect(JSON.stringify(chat.events)).toContain('401 for key [redacted]');
  });
});

describe('without an SDK', () => {
  test('episodes run and nothing is recorded', async () => {
    const bench = getBenchmark('blocksworld');
    const config = seedHarness('sim:small');
    const traced = await runOneEpisode({ benchmark: bench, config, harnessId: harnessId(config), seed: 'off' }, bench.tasks()[0].id, 0);
    expect(traced.steps).toBeGreaterThan(0);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  test('startTelemetry is off unless an OTLP endpoint is set (and OTEL_SDK_DISABLED is not true)', () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    expect(telemetryConfigured()).toBe(false);
    expect(startTelemetry()).toBeNull();
    expect(telemetryConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
    expect(telemetryConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
  });

  test('startTelemetry registers a batching provider once, names the service, and shutdown flushes', async () => {
    // Not the InMemorySpanExporter: its shutdown (which the provider's shutdown calls) forgets what it got.
    const exported: ReadableSpan[] = [];
    const batched = { export: (spans: ReadableSpan[], done: (r: { code: ExportResultCode }) => void) => (exported.push(...spans), done({ code: ExportResultCode.SUCCESS })), shutdown: async () => undefined, getFinishedSpans: () => exported };
    process.env.OTEL_SERVICE_NAME = 'support-agent';
    const telemetry = startTelemetry({ exporter: batched });
    expect(telemetry).not.toBeNull();
    expect(startTelemetry({ exporter: new InMemorySpanExporter() })).toBe(telemetry);
    const bench = getBenchmark('blocksworld');
    const config = seedHarness('sim:small');
    await runOneEpisode({ benchmark: bench, config, harnessId: harnessId(config), seed: 'batch' }, bench.tasks()[0].id, 0);
    // Batched: nothing is exported before the schedule (5 s) or a flush.
    expect(batched.getFinishedSpans()).toEqual([]);
    await telemetry!.shutdown();
    const spans = batched.getFinishedSpans();
    expect(named(spans, 'invoke_agent')).toHaveLength(1);
    expect(spans[0].resource.attributes['service.name']).toBe('support-agent');
    // After shutdown the global provider is gone again: a new episode records nothing.
    await runOneEpisode({ benchmark: bench, config, harnessId: harnessId(config), seed: 'after' }, bench.tasks()[0].id, 0);
    expect(batched.getFinishedSpans()).toHaveLength(spans.length);
  });
});

describe('helpers', () => {
  test('gen_ai.provider.name from the model string prefix', () => {
    expect(genAiModel('openai:gpt-4o')).toEqual({ provider: 'openai', model: 'gpt-4o' });
    expect(genAiModel('anthropic:claude-sonnet-4-5')).toEqual({ provider: 'anthropic', model: 'claude-sonnet-4-5' });
    // The endpoint goes to server.address/server.port, never into the model name.
    expect(genAiModel('openai-compatible:llama3@http://localhost:8000/v1')).toEqual({ provider: 'openai-compatible', model: 'llama3', serverAddress: 'localhost', serverPort: 8000 });
    expect(genAiModel('openai-compatible:org/model@v2@https://gpu.example.com/v1')).toEqual({ provider: 'openai-compatible', model: 'org/model@v2', serverAddress: 'gpu.example.com', serverPort: 443 });
    expect(genAiModel('openai-compatible:m@http://[::1]/v1')).toEqual({ provider: 'openai-compatible', model: 'm', serverAddress: '::1', serverPort: 80 });
    // An "@" not followed by a URL is part of the name.
    expect(genAiModel('openai:gpt-4o@2024')).toEqual({ provider: 'openai', model: 'gpt-4o@2024' });
    expect(genAiModel('sim:small')).toEqual({ provider: 'harnessx.simulator', model: 'small' });
  });

  test('secrets from the environment: credential-named variables only; the providers share the one redact', () => {
    const secrets = secretsFromEnvironment({ OPENAI_API_KEY: 'sk-abcdef123', HARNESSX_CODEC_KEY: 'codec-key-1', HOME: '/root', GITHUB_TOKEN: 'short' });
    expect(secrets.sort()).toEqual(['codec-key-1', 'sk-abcdef123']);
    expect(redact('key sk-abcdef123 and codec-key-1', secrets)).toBe('key [redacted] and [redacted]');
    expect(providerRedact).toBe(redact);
  });
});

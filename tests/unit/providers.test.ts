import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import type { ModelRequest } from '../../harness/types';
import { runOneEpisode } from '../../aegis/rollout';
import { endpointForMessage, ProviderError } from '../../models/errors';
import { withFallback } from '../../models/fallback-model';
import { checkModelString, createModel } from '../../models/registry';
import { ArtifactStore } from '../../store/artifact-store';
import { anthropicToolUse, openaiToolCall, startWireServer } from '../helpers/wire-server';

const bench = getBenchmark('blocksworld');
const env = bench.createEnvironment(bench.tasks()[0].id, { seed: 's' });
const request: ModelRequest = {
  purpose: 'act',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: env.instruction() },
    { role: 'assistant', content: '', toolCalls: [{ id: 'toolu_0', name: 'pick_up', args: { block: 'red' } }] },
    { role: 'tool', content: 'Invalid action: …', toolCallId: 'toolu_0', isError: true },
  ],
  parts: [{ kind: 'admissible_actions', text: 'Valid actions now: unstack(block=red, target=blue)' }],
  tools: env.tools(),
};

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

async function failureOf(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(() => null, (x) => x);
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

describe('anthropic provider through the real SDK and the Messages wire protocol', () => {
  it('converts the request, parses tool use and usage, and sends the key only as a header', async () => {
    const server = await startWireServer((r) => (r.path === '/v1/messages' ? { body: anthropicToolUse('unstack', { block: 'red', target: 'blue' }) } : undefined));
    process.env.ANTHROPIC_API_KEY = 'sk-ant-test-key-123';
    process.env.ANTHROPIC_BASE_URL = server.url;
    try {
      const response = await createModel('anthropic:claude-test', { seed: 's' }).generate(request);
      expect(response).toEqual({ text: 'Acting.', toolCalls: [{ id: 'toolu_1', name: 'unstack', args: { block: 'red', target: 'blue' } }], usage: { inputTokens: 321, outputTokens: 12 }, stopReason: 'tool_use', model: 'anthropic:claude-test' });
      const sent = server.requests[0];
      expect(`${sent.headers['x-api-key'] ?? ''} ${sent.headers.authorization ?? ''}`).toContain('sk-ant-test-key-123');
      expect(JSON.stringify(sent.body)).not.toContain('sk-ant-test-key-123');
      expect(sent.body.system).toBe('Be brief.');
      const messages = sent.body.messages as Array<{ role: string; content: Array<{ type: string }> }>;
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
      expect(messages[2].content.map((b) => b.type)).toEqual(['tool_result', 'text']);
      expect(JSON.stringify(messages[2])).toContain('<context kind=\\"admissible_actions\\">');
      expect((sent.body.tools as Array<{ name: string; input_schema: { required: string[] } }>).find((t) => t.name === 'stack')!.input_schema.required).toEqual(['block', 'target']);
      expect(server.unexpected).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('classifies 429 with retry-after as retryable, 401 as final without leaking the key, and malformed bodies', async () => {
    let reply: { status: number; headers?: Record<string, string>; body: unknown } = { status: 429, headers: { 'retry-after': '7' }, body: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } } };
    const server = await startWireServer(() => reply);
    process.env.ANTHROPIC_API_KEY = 'sk-ant-canary-abcdef';
    process.env.ANTHROPIC_BASE_URL = server.url;
    const model = createModel('anthropic:claude-test', { seed: 's' });
    try {
      const limited = await failureOf(model.generate(request));
      expect(limited).toEqual(expect.objectContaining({ retryable: true, retryAfterMs: 7000, kind: 'rate_limited', status: 429 }));
      expect(limited.message).toMatch(/anthropic model "claude-test": rate limited \(429\)/);
      reply = { status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key sk-ant-canary-abcdef' } } };
      const denied = await failureOf(model.generate(request));
      expect(denied).toEqual(expect.objectContaining({ retryable: false, kind: 'rejected', status: 401 }));
      expect(denied.message).toMatch(/authentication failed/);
      expect(denied.message).not.toContain('sk-ant-canary-abcdef');
      reply = { status: 200, body: '{"content": "not blocks"' };
      expect((await failureOf(model.generate(request))).retryable).toBe(true);
      reply = { status: 200, body: { content: 'nope', usage: {} } };
      expect((await failureOf(model.generate(request))).kind).toBe('malformed_response');
    } finally {
      await server.close();
    }
  });
});

describe('openai and openai-compatible providers through the real SDK and the Chat Completions protocol', () => {
  it('converts the request and parses function tool calls; unparseable arguments stay text', async () => {
    let args = '{"block":"red","target":"blue"}';
    const server = await startWireServer((r) => (r.path === '/v1/chat/completions' ? { body: openaiToolCall('stack', args) } : undefined));
    process.env.OPENAI_COMPATIBLE_API_KEY = 'local-key';
    try {
      const model = createModel(`openai-compatible:qwen3.5-9b@${server.url}/v1`, { seed: 's' });
      expect(model.id).toBe(`openai-compatible:qwen3.5-9b@${server.url}/v1`);
      const response = await model.generate(request);
      expect(response.toolCalls).toEqual([{ id: 'call_1', name: 'stack', args: { block: 'red', target: 'blue' } }]);
      expect(response.usage).toEqual({ inputTokens: 200, outputTokens: 9 });
      expect(response.stopReason).toBe('tool_use');
      const sent = server.requests[0];
      expect(sent.body.model).toBe('qwen3.5-9b');
      expect(sent.headers.authorization).toBe('Bearer local-key');
      const roles = (sent.body.messages as Array<{ role: string }>).map((m) => m.role);
      expect(roles).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
      args = '{"block": red'; // broken JSON from the model
      const broken = await model.generate(request);
      expect(broken.toolCalls).toEqual([]);
      expect(broken.text).toContain('stack({"block": red)');
    } finally {
      await server.close();
    }
  });

  it('classifies 5xx as retryable, 404 and 422 as final, and connection failures as retryable', async () => {
    let status = 503;
    const server = await startWireServer(() => ({ status, body: { error: { message: 'overloaded' } } }));
    process.env.OPENAI_API_KEY = 'sk-openai-test';
    process.env.OPENAI_BASE_URL = `${server.url}/v1`;
    const model = createModel('openai:gpt-test', { seed: 's' });
    try {
      expect(await failureOf(model.generate(request))).toEqual(expect.objectContaining({ retryable: true, status: 503, kind: 'unavailable' }));
      status = 404;
      const missing = await failureOf(model.generate(request));
      expect(missing).toEqual(expect.objectContaining({ retryable: false, status: 404 }));
      expect(missing.message).toContain(`openai model "gpt-test": not found (check the model name and base URL ${server.url}/v1)`);
      status = 422;
      expect((await failureOf(model.generate(request))).retryable).toBe(false);
    } finally {
      await server.close();
    }
    const offline = await failureOf(model.generate(request));
    expect(offline).toEqual(expect.objectContaining({ retryable: true, kind: 'unavailable', status: null }));
    // The server that refused is named: "Connection error." alone does not say which one.
    expect(offline.message).toMatch(new RegExp(`^openai model "gpt-test": connection failed \\(${server.url.replace(/[.]/g, '\\.')}/v1\\): `));
  });

  it('names an endpoint without the credentials or query a URL may carry', () => {
    expect(endpointForMessage('https://user:hunter2@gateway.example.com:8443/v1/?key=sk-secret')).toBe('https://gateway.example.com:8443/v1');
    expect(endpointForMessage('not a url')).toBe('(an endpoint URL that does not parse)');
  });

  it('says what is missing before any call: keys and base URLs', () => {
    delete process.env.ANTHROPIC_API_KEY;
    delete process.env.OPENAI_API_KEY;
    expect(checkModelString('anthropic:claude-opus-4-6')).toMatch(/ANTHROPIC_API_KEY is not set/);
    expect(checkModelString('openai:gpt-5.4')).toMatch(/OPENAI_API_KEY is not set/);
    expect(checkModelString('openai-compatible:qwen3.5-9b')).toMatch(/give a base URL/);
    expect(checkModelString('mystery:x')).toMatch(/unknown model provider "mystery"/);
    expect(checkModelString('sim:small')).toBeNull();
  });
});

describe('the activity boundary', () => {
  const listFiles = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? listFiles(join(dir, f)) : [join(dir, f)]));

  it('turns provider errors into ApplicationFailures once: retry-after honoured, 4xx final', async () => {
    let reply = { status: 429, headers: { 'retry-after': '3' }, body: { error: { message: 'rate limited' } } } as { status: number; headers?: Record<string, string>; body: unknown };
    const server = await startWireServer(() => reply);
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-prov-')));
    const activities = createActivities({ store });
    const harnessId = await store.putHarness({ ...seedHarness(), model: { main: { model: `openai-compatible:m@${server.url}/v1` } } });
    process.env.HARNESSX_RATE_LIMIT_WAIT_S = '0'; // hand the first 429 to the activity boundary at once (the limiter would wait it out)
    const run = () => activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds: [bench.tasks()[0].id], k: 1, seed: 's' });
    try {
      const limited = await run().then(() => null, (e) => e);
      expect(limited).toBeInstanceOf(ApplicationFailure);
      expect(limited).toEqual(expect.objectContaining({ type: 'ProviderRateLimited', nonRetryable: false, nextRetryDelay: 3000 }));
      reply = { status: 403, body: { error: { message: 'forbidden' } } };
      expect(await run().then(() => null, (e) => e)).toEqual(expect.objectContaining({ type: 'ProviderRejected', nonRetryable: true }));
    } finally {
      delete process.env.HARNESSX_RATE_LIMIT_WAIT_S;
      await server.close();
    }
  });

  it('never writes an API key into traces or the artifact store (canary)', async () => {
    const canary = 'sk-canary-7f3a9c1e5d';
    const server = await startWireServer(() => ({ body: openaiToolCall('pick_up', '{"block":"red"}') }));
    process.env.OPENAI_COMPATIBLE_API_KEY = canary;
    const dir = mkdtempSync(join(tmpdir(), 'hx-canary-'));
    const store = new ArtifactStore(dir);
    const harnessId = await store.putHarness({ ...seedHarness(), model: { main: { model: `openai-compatible:m@${server.url}/v1` } } });
    try {
      const result = await createActivities({ store }).rollout({ benchmark: 'blocksworld', harnessId, taskIds: [bench.tasks()[0].id], k: 1, seed: 's' });
      expect(result.episodes).toBe(1);
      expect(server.requests.length).toBeGreaterThan(5);
      expect(server.requests.every((r) => r.headers.authorization === `Bearer ${canary}`)).toBe(true);
      for (const file of listFiles(dir)) {
        const raw = readFileSync(file);
        const text = file.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString();
        expect(text).not.toContain(canary);
      }
      expect(JSON.stringify(result)).not.toContain(canary);
    } finally {
      await server.close();
    }
  });
});

describe('response cache', () => {
  it('a repeated rollout never pays twice; attempts stay separate samples; it can be turned off', async () => {
    const server = await startWireServer(() => ({ body: openaiToolCall('pick_up', '{"block":"red"}') }));
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-cache-')));
    const activities = createActivities({ store });
    const harnessId = await store.putHarness({ ...seedHarness(), model: { main: { model: `openai-compatible:m@${server.url}/v1` } } });
    const task = bench.tasks()[0].id;
    try {
      await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds: [task], k: 1, seed: 's' });
      const first = server.requests.length;
      expect(first).toBeGreaterThan(5);
      await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds: [task], k: 1, seed: 's' });
      expect(server.requests.length).toBe(first); // every call answered from the cache
      await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds: [task], k: 2, seed: 's' });
      expect(server.requests.length).toBeGreaterThan(first); // attempt 1 is a new sample
      const before = server.requests.length;
      process.env.HARNESSX_RESPONSE_CACHE = 'off';
      await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds: [task], k: 1, seed: 's' });
      expect(server.requests.length - before).toBe(first);
    } finally {
      await server.close();
    }
  });
});

describe('role fallbacks', () => {
  test('a provider error on the main model sends the request to its fallback; a harness names both', async () => {
    const down = await startWireServer(() => ({ status: 503, body: { error: { message: 'overloaded' } } }));
    const up = await startWireServer((r) => (r.path === '/v1/chat/completions' ? { body: openaiToolCall('pick_up', '{"block":"red"}') } : undefined));
    try {
      const config = { ...seedHarness(), model: { main: { model: `openai-compatible:primary@${down.url}/v1`, fallback: `openai-compatible:backup@${up.url}/v1` } } };
      const trace = await runOneEpisode({ benchmark: bench, config, harnessId: 'hx-fallback', seed: 'f' }, bench.tasks()[0].id, 0);
      expect(trace.endReason).not.toBe('harness_error');
      expect(down.requests.length).toBeGreaterThan(0);
      expect(up.requests.length).toBe(down.requests.length);
      expect(up.requests[0].body.model).toBe('backup');
    } finally {
      await down.close();
      await up.close();
    }
  });

  test('when the fallback fails too, the primary’s error is the one classified (so retries behave as without a fallback)', async () => {
    const primary = { id: 'p', generate: async () => { throw new ProviderError('primary down', 'openai', 'p', true, 503, null, 'unavailable'); } };
    const fallback = { id: 'f', generate: async () => { throw new ProviderError('fallback rejected', 'openai', 'f', false, 401, null, 'rejected'); } };
    const e = await failureOf(withFallback(primary, fallback).generate(request));
    expect(e.message).toBe('primary down');
    const bug = { id: 'b', generate: async () => { throw new TypeError('a bug'); } };
    await expect(withFallback(bug, fallback).generate(request)).rejects.toThrow('a bug');
  });
});

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHarnessConfig, toJson } from '../../harness/config';
import { startTicketDeskModel } from '../helpers/ticket-desk-model';
import { openaiToolCall } from '../helpers/wire-server';

/**
 * `harnessx run` as a user runs it (node bin/harnessx.js), against a local server speaking the OpenAI
 * Chat Completions protocol through the real SDK. The server's replies are scripted per request number,
 * and it answers 500 to anything else, so an unexpected call fails the test.
 */
jest.setTimeout(60_000);

const ROOT = join(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'hx-run-cmd-'));

const openaiText = (text: string) => ({
  id: 'chatcmpl-2', object: 'chat.completion', created: 1, model: 'm',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text } }],
  usage: { prompt_tokens: 50, completion_tokens: 5, total_tokens: 55 },
});

type Handler = (n: number, body: Record<string, unknown>) => Promise<{ status?: number; body: unknown }>;

async function startServer(handler: Handler): Promise<{ url: string; bodies: Record<string, unknown>[]; close: () => Promise<void> }> {
  const bodies: Record<string, unknown>[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    bodies.push(body);
    const reply = req.url === '/v1/chat/completions' ? await handler(bodies.length, body).catch((e: Error) => ({ status: 500, body: { error: { message: e.message } } })) : { status: 500, body: { error: { message: `unexpected ${req.url}` } } };
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

/** The CLI as a child process; `stdout()` is what it printed so far, so a test can look while it runs. */
function harnessx(args: string[]) {
  const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], { cwd: work, env: { ...process.env, HARNESSX_DEBUG: '', OPENAI_COMPATIBLE_API_KEY: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { stdout: () => stdout, done };
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const harnessFile = join(work, 'harness.json');
writeFileSync(
  harnessFile,
  toJson(parseHarnessConfig({
    model: { main: { model: 'sim:small' } },
    hooks: { task_start: [{ id: 'prompt', type: 'system_prompt', params: { template: 'You are the desk agent. Answer briefly.' } }], step_start: [{ id: 'budget', type: 'step_budget', params: { maxSteps: 5 } }] },
  })),
);

describe('harnessx run', () => {
  it('prints each step while the run is going, then the answer; the harness shapes the request', async () => {
    let cli: ReturnType<typeof harnessx> | null = null;
    const server = await startServer(async (n) => {
      if (n === 1) return { body: openaiToolCall('lookup', '{"q":"vpn"}') };
      if (n === 2) {
        // The first step's lines are on the CLI's stdout before its second model call is answered.
        await waitFor(() => /step 1 · tool {3}lookup error \(unknown_tool\)/.test(cli!.stdout()), 10_000, 'step 1 on stdout');
        return { body: openaiText('Restart the VPN client.') };
      }
      throw new Error(`unexpected model call #${n}`);
    });
    try {
      cli = harnessx(['run', '--harness', harnessFile, '--model', `openai-compatible:m@${server.url}/v1`, 'How', 'do', 'I', 'fix', 'the', 'VPN?']);
      const { code, stdout, stderr } = await cli.done;
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^harness hx-[0-9a-f]{16} · model openai-compatible:m@http/);
      expect(lines[1]).toBe('step 1 · model  → lookup {"q":"vpn"}  (200+9 tokens, ' + lines[1].split('tokens, ')[1]);
      expect(lines[2]).toBe('step 1 · tool   lookup error (unknown_tool): unknown tool "lookup"; tools: none');
      expect(lines[3]).toMatch(/^step 2 · model {2}"Restart the VPN client\."/);
      expect(lines[4]).toBe('step 2 · answer Restart the VPN client.');
      expect(lines[5]).toMatch(/^done: goal_reached after 2 step\(s\) · 250 input \/ 14 output tokens/);
      expect(server.bodies).toHaveLength(2);
      const messages = server.bodies[0].messages as Array<{ role: string; content: string }>;
      expect(messages[0]).toEqual({ role: 'system', content: 'You are the desk agent. Answer briefly.' });
      expect(messages[1]).toMatchObject({ role: 'user', content: 'How do I fix the VPN?' });
    } finally {
      await server.close();
    }
  });

  it('--json prints one JSON object per step and a result line', async () => {
    const server = await startServer(async (n) => {
      if (n === 1) return { body: openaiText('42') };
      throw new Error(`unexpected model call #${n}`);
    });
    try {
      const { code, stdout } = await harnessx(['run', '--harness', harnessFile, '--model', `openai-compatible:m@${server.url}/v1`, '--json', 'What is six times seven?']).done;
      expect(code).toBe(0);
      const objects = stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(objects.map((o) => o.type)).toEqual(['model', 'answer', 'result']);
      expect(objects[2]).toMatchObject({ type: 'result', answer: '42', endReason: 'goal_reached', steps: 1, usage: { inputTokens: 50, outputTokens: 5 }, toolCalls: [] });
    } finally {
      await server.close();
    }
  });

  it('--config/--suite gives the agent the ticket-desk example\'s MCP tools: a tool step on the desk, then the answer', async () => {
    // The scripted ticket-desk model (tests/helpers/ticket-desk-model.ts) plays the task's gold calls; it
    // answers only when the search result it was given holds the ticket the answer is about.
    const model = await startTicketDeskModel();
    try {
      const config = join(ROOT, 'examples/ticket-desk/harnessx.config.ts');
      const { code, stdout, stderr } = await harnessx(['run', '--harness', harnessFile, '--model', model.model, '--config', config, '--suite', 'ticket-desk', 'Who is working on the Outlook crash with the shared calendar?']).done;
      expect(model.errors).toEqual([]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines[1]).toMatch(/^step 1 · model {2}→ search_tickets \{"query":"outlook"\}/);
      // The tool ran on the example's server: its real search result, with the ticket and its assignee.
      expect(lines[2]).toMatch(/^step 1 · tool {3}search_tickets ok: .*T-1007.*ben\.carter/);
      expect(lines).toContain('step 2 · answer Ben Carter is working on it (T-1007).');
      expect(lines.at(-1)).toMatch(/^done: goal_reached after 2 step\(s\)/);
      // The hidden state tool never reached the model (the scripted model would have refused the request).
      expect(model.replies.map((r) => r.kind)).toEqual(['call', 'answer']);
    } finally {
      await model.close();
    }
  });

  it('fails with a clear message: missing harness file, bad model string, a provider error, no answer', async () => {
    const missing = await harnessx(['run', '--harness', join(work, 'nope.json'), '--model', 'sim:small', 'x']).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(`harnessx: --harness: harness file ${join(work, 'nope.json')}: no such file`);
    const badModel = await harnessx(['run', '--harness', harnessFile, '--model', 'openai-compatible:m', 'x']).done;
    expect(badModel.code).toBe(2);
    expect(badModel.stderr).toContain('--model: openai-compatible model "m": give a base URL, as in openai-compatible:m@http://localhost:8000/v1');

    const server = await startServer(async () => ({ status: 401, body: { error: { message: 'invalid api key' } } }));
    try {
      const rejected = await harnessx(['run', '--harness', harnessFile, '--model', `openai-compatible:m@${server.url}/v1`, 'x']).done;
      // The CLI's convention: a provider error is the user's to fix (key, model name), exit 2.
      expect(rejected.code).toBe(2);
      expect(rejected.stderr).toContain('openai-compatible model "m": authentication failed (check the API key) (401)');
    } finally {
      await server.close();
    }
    const looping = await startServer(async () => ({ body: openaiToolCall('lookup', '{}') }));
    try {
      const noAnswer = await harnessx(['run', '--harness', harnessFile, '--model', `openai-compatible:m@${looping.url}/v1`, '--max-steps', '2', 'x']).done;
      expect(noAnswer.code).toBe(1);
      expect(noAnswer.stdout).toMatch(/no answer: hard_step_cap after 2 step\(s\)/);
      expect(looping.bodies).toHaveLength(2);
    } finally {
      await looping.close();
    }
  });
});

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWireServer } from '../helpers/wire-server';

/**
 * The second worked example (examples/memory-crm, on the npm package @modelcontextprotocol/server-memory)
 * through the real CLI: check-benchmark proves the verifier, and `rollout --json` runs every task against an
 * OpenAI-protocol server (through the real openai SDK) whose model sends each task's whole reference solution
 * as parallel tool calls in one reply. Each episode has its own memory file, so every task passes; with one
 * shared file they would see each other's writes and fail as "unexpected entity".
 */
jest.setTimeout(10 * 60_000);

const ROOT = join(__dirname, '../..');
const CONFIG = join(ROOT, 'examples/memory-crm/harnessx.config.mjs');
const TASKS = readFileSync(join(ROOT, 'examples/memory-crm/tasks.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; instruction: string; reference: Array<{ name: string; args: unknown }> });

/** The CLI as a child process; asynchronous, so the wire server in this process can answer it. */
const harnessx = (...args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], { cwd: ROOT, env: { ...process.env, OPENAI_COMPATIBLE_API_KEY: 'local-key' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });

test('check-benchmark accepts every reference solution and rejects the corrupted ones', async () => {
  const r = await harnessx('check-benchmark', '--config', CONFIG, '--suite', 'memory-crm', '--json');
  expect(r.status).toBe(0);
  const check = JSON.parse(r.stdout);
  expect(check).toMatchObject({ ok: true, tasks: TASKS.length, referenceAccepted: TASKS.length, failures: [] });
  expect(check.corruptedRejected).toBe(check.corrupted);
});

test('rollout --json: a model sending the reference as parallel calls passes every task, with per-task reasons', async () => {
  const server = await startWireServer((req) => {
    const messages = req.body.messages as Array<{ role: string; content: string | null }>;
    const task = TASKS.find((t) => messages.some((m) => m.role === 'user' && m.content?.includes(t.instruction)));
    if (!task) return undefined;
    const answered = messages.some((m) => m.role === 'tool');
    const message = answered
      ? { role: 'assistant', content: 'Done.' }
      : { role: 'assistant', content: null, tool_calls: task.reference.map((c, i) => ({ id: `call_${i}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })) };
    return { body: { id: 'c', object: 'chat.completion', created: 1, model: 'crm-test', choices: [{ index: 0, finish_reason: answered ? 'stop' : 'tool_calls', message }], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } } };
  });
  try {
    const perTask: Array<{ taskId: string; passed: boolean; episodes: Array<{ reason?: string }> }> = [];
    for (const split of ['train', 'validation', 'test']) {
      const r = await harnessx('rollout', '--config', CONFIG, '--suite', 'memory-crm', '--model', `openai-compatible:crm-test@${server.url}/v1`, '--split', split, '--k', '1', '--json');
      // With --json the progress line goes to stderr and the JSON to stdout.
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/pass@1 100\.0% over \d+ tasks/);
      perTask.push(...JSON.parse(r.stdout.trim().split('\n').pop()!).perTask);
    }
    expect(perTask.map((t) => t.taskId).sort()).toEqual(TASKS.map((t) => t.id).sort());
    for (const t of perTask) expect(t).toMatchObject({ passed: true, episodes: [{ reason: 'the graph is as the task asked; other entities unchanged' }] });
    expect(server.unexpected).toEqual([]);
  } finally {
    await server.close();
  }
});

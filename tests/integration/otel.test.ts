import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ensureJaeger, type RunningJaeger, startJaeger } from '../helpers/jaeger';

/**
 * Traces other tools read: `harnessx rollout` in its own process, with OTEL_EXPORTER_OTLP_ENDPOINT pointing
 * at a real Jaeger (OTLP/HTTP receiver), sends GenAI-convention spans that Jaeger stores and serves back.
 */
const ROOT = join(__dirname, '..', '..');
const log = (line: string) => process.stderr.write(`${line}\n`);

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; spanID: string; traceID: string }>;
  tags: Array<{ key: string; value: unknown }>;
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}
const tags = (s: JaegerSpan) => Object.fromEntries(s.tags.map((t) => [t.key, t.value]));

function harnessx(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

async function tracesOf(jaeger: RunningJaeger, service: string): Promise<JaegerTrace[]> {
  const r = await fetch(`${jaeger.queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=100&lookback=1h`);
  if (r.status === 404) return [];
  if (!r.ok) throw new Error(`jaeger query ${r.status}: ${await r.text()}`);
  return ((await r.json()) as { data: JaegerTrace[] | null }).data ?? [];
}

let jaeger: RunningJaeger;
beforeAll(async () => {
  // Built once into .harnessx/bin (a cold build is long; cached afterwards).
  jaeger = await startJaeger(await ensureJaeger(log));
}, 45 * 60_000);
afterAll(async () => jaeger?.stop(), 15_000);

test('a rollout run by the CLI exports one invoke_agent trace per episode, with chat and execute_tool children, to a real OTLP receiver', async () => {
  const service = `harnessx-otel-it-${process.pid}`;
  const env = {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint,
    OTEL_SERVICE_NAME: service,
    OPENAI_API_KEY: 'sk-integration-secret-0123456789',
  };
  delete (env as NodeJS.ProcessEnv).OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT;
  const r = await harnessx(['rollout', '--benchmark', 'blocksworld', '--model', 'sim:small', '--tasks', '3', '--k', '1', '--split', 'test', '--json'], env);
  expect({ code: r.code, stderr: r.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
  const result = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  expect(result.episodes).toBe(3);

  // The CLI flushed before exiting; Jaeger stores asynchronously, so wait briefly for all three.
  let traces: JaegerTrace[] = [];
  for (let i = 0; i < 50 && traces.length < 3; i++) {
    traces = await tracesOf(jaeger, service);
    if (traces.length < 3) await new Promise((res) => setTimeout(res, 200));
  }
  expect(traces).toHaveLength(3);

  const taskIds = new Set<string>();
  for (const t of traces) {
    const roots = t.spans.filter((s) => s.references.length === 0);
    expect(roots).toHaveLength(1);
    const [agent] = roots;
    expect(agent.operationName).toBe('invoke_agent seed');
    expect(t.processes[agent.processID].serviceName).toBe(service);
    const a = tags(agent);
    expect(a).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'seed',
      'gen_ai.agent.id': result.harnessId,
      'gen_ai.provider.name': 'harnessx.simulator',
      'harnessx.harness.id': result.harnessId,
      'harnessx.episode.attempt': 0,
    });
    expect(typeof a['harnessx.episode.reward']).toBe('number');
    expect(['goal_reached', 'step_budget_exhausted', 'interrupted', 'hard_step_cap', 'harness_error']).toContain(a['harnessx.episode.end_reason']);
    taskIds.add(a['harnessx.task.id'] as string);

    const children = t.spans.filter((s) => s !== agent);
    for (const c of children) expect(c.references).toEqual([expect.objectContaining({ refType: 'CHILD_OF', spanID: agent.spanID })]);
    const chats = children.filter((s) => s.operationName === 'chat small');
    const tools = children.filter((s) => s.operationName.startsWith('execute_tool '));
    expect(chats.length).toBeGreaterThan(0);
    expect(tools.length).toBeGreaterThan(0);
    expect(chats.length + tools.length).toBe(children.length);
    for (const c of chats) {
      const ct = tags(c);
      expect(ct).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'harnessx.simulator', 'gen_ai.request.model': 'small' });
      expect(ct['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      expect(typeof ct['gen_ai.usage.output_tokens']).toBe('number');
      expect(ct['gen_ai.response.finish_reasons']).toBeDefined();
    }
    // The episode's token totals are the sum of its calls'.
    expect(chats.reduce((n, c) => n + Number(tags(c)['gen_ai.usage.input_tokens']), 0)).toBe(a['gen_ai.usage.input_tokens']);
    for (const c of tools) {
      const tt = tags(c);
      expect(tt['gen_ai.operation.name']).toBe('execute_tool');
      expect(c.operationName).toBe(`execute_tool ${tt['gen_ai.tool.name']}`);
      expect(typeof tt['gen_ai.tool.call.id']).toBe('string');
    }
    // No content unless opted in, and never a secret.
    const text = JSON.stringify(t);
    expect(text).not.toContain('gen_ai.input.messages');
    expect(text).not.toContain('sk-integration-secret');
  }
  expect(taskIds.size).toBe(3);
}, 120_000);

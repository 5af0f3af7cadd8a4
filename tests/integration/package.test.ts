import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHarnessConfig, toJson } from '../../harness/config';
import { startTicketDeskModel } from '../helpers/ticket-desk-model';
import { startWireServer, type RecordedRequest } from '../helpers/wire-server';
import { startDevServer } from './temporal-env';

/**
 * The package as a user gets it: `npm pack` (which builds dist/ through prepack), the tarball installed
 * into a fresh folder from the npm cache, then `import { createAgent, loadHarness } from 'harnessx'` from
 * an ES module and from CommonJS, running one task against a local server speaking the OpenAI protocol
 * (scripted; anything unscripted gets a 500, so the scripts would fail), and the declarations checked by
 * the installed TypeScript under strict settings. Then the main job from the installed package: `evolve` on
 * the user's own suite (a TypeScript config beside the project) against the same kind of server, on a
 * Temporal dev server started from the repo's CLI binary (TEMPORAL_CLI_PATH for the installed CLI); the
 * project folder holds no path back into the repo.
 */
jest.setTimeout(15 * 60_000);

const ROOT = join(__dirname, '../..');

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    // Asynchronous on purpose: the scripted model server lives in this process and must keep answering.
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

const ok = <R extends { code: number | null; stdout: string; stderr: string }>(r: R, what: string): R => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`);
  return r;
};

/**
 * The task model: asked with only the user's question, it calls the order tool (or, offered no tools, says so); asked again with the tool's
 * result, it answers from that result. Any other conversation is unscripted.
 */
function scriptedOrderDesk(req: RecordedRequest) {
  if (req.path !== '/v1/chat/completions') return undefined;
  const messages = req.body.messages as Array<{ role: string; content: string | null }>;
  const tools = (req.body.tools as Array<{ function: { name: string } }> | undefined) ?? [];
  const last = messages.at(-1)!;
  if (last.role === 'user' && messages.length === 2 && tools.some((t) => t.function.name === 'lookup_order'))
    return {
      body: {
        id: 'c1', object: 'chat.completion', created: 1, model: 'desk',
        choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup_order', arguments: '{"orderId":"A-17"}' } }] } }],
        usage: { prompt_tokens: 90, completion_tokens: 12, total_tokens: 102 },
      },
    };
  if (last.role === 'user' && messages.length === 2 && tools.length === 0)
    return {
      body: {
        id: 'c3', object: 'chat.completion', created: 1, model: 'desk',
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'I have no order tools here.' } }],
        usage: { prompt_tokens: 40, completion_tokens: 7, total_tokens: 47 },
      },
    };
  if (last.role === 'tool' && typeof last.content === 'string' && last.content.includes('"ships":"Friday"'))
    return {
      body: {
        id: 'c2', object: 'chat.completion', created: 1, model: 'desk',
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Order A-17 ships on Friday.' } }],
        usage: { prompt_tokens: 130, completion_tokens: 8, total_tokens: 138 },
      },
    };
  return undefined;
}

/**
 * The task model `evolve` runs against: asked a question naming an order, it looks the order up; given the
 * tool's result, it answers from it. Lenient about the rest of the conversation (the seed harness decides
 * the system prompt), strict about the two turns it knows: anything else gets a 500.
 */
function scriptedOrderAgent(req: RecordedRequest) {
  if (req.path !== '/v1/chat/completions') return undefined;
  const messages = req.body.messages as Array<{ role: string; content: string | null }>;
  const last = messages.at(-1)!;
  const order = last.role === 'user' ? /\b([A-Z]-\d+)\b/.exec(String(last.content))?.[1] : undefined;
  const usage = { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 };
  if (order)
    return { body: { id: 'e1', object: 'chat.completion', created: 1, model: 'desk', usage, choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_e1', type: 'function', function: { name: 'lookup_order', arguments: JSON.stringify({ orderId: order }) } }] } }] } };
  const ships = last.role === 'tool' ? /"ships":"(\w+)"/.exec(String(last.content))?.[1] : undefined;
  if (ships) return { body: { id: 'e2', object: 'chat.completion', created: 1, model: 'desk', usage, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `It ships on ${ships}.` } }] } };
  return undefined;
}

/** The user's suite, as the README tells a user to write it: a TypeScript config importing harnessx and zod from the project's node_modules. */
const ORDERS_CONFIG = `import { defineConfig, functionTool } from 'harnessx';
import { z } from 'zod';

const SHIPS: Record<string, string> = { 'A-17': 'Friday', 'B-2': 'Monday', 'C-9': 'Tuesday', 'D-4': 'Sunday', 'E-5': 'Thursday', 'F-6': 'Saturday' };
const lookupOrder = functionTool({
  name: 'lookup_order',
  description: 'Looks up an order by id.',
  parameters: z.object({ orderId: z.string() }),
  execute: ({ orderId }) => ({ orderId, ships: SHIPS[orderId] ?? 'unknown' }),
});

export default defineConfig({
  suites: {
    orders: {
      description: 'When does an order ship?',
      tasks: './tasks.jsonl',
      tools: [lookupOrder],
      verifier: (record) => {
        const ships = (record.task.metadata as { ships: string }).ships;
        const answered = (record.answer ?? '').includes(ships);
        return { score: answered ? 1 : 0, reason: answered ? undefined : \`the answer does not say \${ships}\` };
      },
    },
  },
});
`;
const ORDER_TASKS = [['A-17', 'Friday', 'train'], ['B-2', 'Monday', 'train'], ['C-9', 'Tuesday', 'train'], ['D-4', 'Sunday', 'train'], ['E-5', 'Thursday', 'validation'], ['F-6', 'Saturday', 'test']]
  .map(([order, ships, split]) => JSON.stringify({ id: `order-${order}`, instruction: `When does order ${order} ship?`, metadata: { ships }, split, reference: [{ name: 'lookup_order', args: { orderId: order } }], referenceAnswer: `It ships on ${ships}.` }))
  .join('\n');

/** The user's script, the same in both module systems but for how it loads harnessx. */
const userScript = (load: string) => `${load}
const steps = [];
const lookupOrder = functionTool({
  name: 'lookup_order',
  description: 'Looks up an order by id.',
  parameters: z.object({ orderId: z.string() }),
  execute: ({ orderId }) => ({ orderId, ships: orderId === 'A-17' ? 'Friday' : 'unknown' }),
});
const run = async () => {
  const agent = createAgent({ harness: loadHarness(process.argv[2]), model: process.argv[3], tools: [lookupOrder], onStep: (s) => steps.push(s.type) });
  const result = await agent.run('When does order A-17 ship?');
  console.log(JSON.stringify({ answer: result.answer, endReason: result.endReason, toolCalls: result.toolCalls, steps, harnessId: agent.harnessId }));
};
`;

const TYPES_CHECK = `import { createAgent, loadHarness, functionTool, type AgentResult, type AgentStep, type HarnessConfig, type Model } from 'harnessx';
import { z } from 'zod';
const harness: HarnessConfig = loadHarness('harness.json');
const model: Model = { id: 'mine:m', async generate() { return { text: 'a', toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: 'mine:m' }; } };
const tool = functionTool({ name: 'add', description: 'Adds one.', parameters: z.object({ a: z.number() }), execute: ({ a }) => a + 1 });
const agent = createAgent({ harness, model, tools: [tool], maxSteps: 5, onStep: (s: AgentStep) => { if (s.type === 'tool') console.log(s.call.name, s.result.ok); } });
export const result: Promise<AgentResult> = agent.run({ id: 't', instruction: 'x' }, { signal: AbortSignal.timeout(1000) });
// Real types, not any: each of these must be an error.
// @ts-expect-error a task is a string or { id?, instruction }
agent.run(42);
// @ts-expect-error AgentStep has no "answerText"
export const wrong = (s: AgentStep) => s.type === 'answer' && s.answerText;
// @ts-expect-error maxSteps is a number
createAgent({ harness, model, maxSteps: 'ten' });
`;

/**
 * The worked example in a user's product: the evolved harness (examples/ticket-desk/evolved-harness.json)
 * with the example's MCP server as its tools, one task, and the example's own verifier on what the desk
 * looks like afterwards. createAgent closes its tool sessions when the run ends; the wrapper reads the desk's
 * state just before, as a product auditing its agent would.
 */
const TICKET_DESK_SCRIPT = `import { readFileSync } from 'node:fs';
import { createAgent, loadHarness, mcpTools } from 'harnessx';
import { verify } from './ticket-desk/verify.mjs';

const [harnessFile, model, taskId] = process.argv.slice(2);
const task = readFileSync('ticket-desk/tasks.jsonl', 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l)).find((t) => t.id === taskId);
const desk = mcpTools({ mcp: { command: 'node', args: ['ticket-desk/server.mjs'] }, state: { resource: 'ticketdesk://state' }, hidden: ['get_desk_state'] });
let finalState;
const auditedDesk = {
  label: desk.label,
  async open(context) {
    const session = await desk.open(context);
    return { specs: session.specs, call: (c) => session.call(c), state: () => session.state(), close: async () => { finalState ??= await session.state(); await session.close(); } };
  },
};
const steps = [];
const agent = createAgent({ harness: loadHarness(harnessFile), model, tools: [auditedDesk], onStep: (s) => steps.push(s.type) });
const result = await agent.run({ id: task.id, instruction: task.instruction });
const verdict = verify({ suite: 'ticket-desk', task, toolCalls: result.toolCalls, answer: result.answer, dialogue: [], state: finalState });
console.log(JSON.stringify({ answer: result.answer, endReason: result.endReason, toolCalls: result.toolCalls.map((c) => ({ name: c.name, args: c.args, ok: c.ok })), steps, verdict }));
`;

const CODE_PROCESSOR_SCRIPT = `const { createAgent, parseHarnessConfig } = require('harnessx');
const source = \`import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult {
  if (event.hook === 'task_start') return { ...event, systemPrompt: event.systemPrompt + ' [checked in the sandbox]' };
  return null;
}\`;
const smokeTests = [{ name: 'appends', event: { hook: 'task_start', task: { id: 't', instruction: 'x' }, systemPrompt: 'p', tools: [] }, expect: 'changed', outputIncludes: 'checked in the sandbox' }];
const harness = parseHarnessConfig({ model: { main: { model: 'sim:small' } }, hooks: { task_start: [{ id: 'prompt', type: 'system_prompt', params: {} }, { id: 'mine', type: 'code', params: { source, smokeTests } }] } });
let calls = 0;
const model = { id: 'mine:m', async generate(request) {
  if (calls++) throw new Error('unexpected second model call');
  console.log('system: ' + request.messages[0].content);
  return { text: 'ok', toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: 'mine:m' };
} };
createAgent({ harness, model }).run('hi').then((r) => { console.log(r.endReason + ' ' + r.answer); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
`;

it('npm pack, install the tarball in a fresh folder: createAgent from ESM and CommonJS, its types under strict tsc, and check-benchmark and evolve on a user suite from the installed CLI', async () => {
  const work = mkdtempSync(join(tmpdir(), 'hx-package-'));
  const server = await startWireServer(scriptedOrderDesk);
  try {
    const packed = ok(await run('npm', ['pack', '--pack-destination', work, '--json'], ROOT), 'npm pack');
    const [{ filename, files, size }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; size: number; files: Array<{ path: string }> }>;
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining(['dist/library/index.js', 'dist/library/index.d.ts', 'dist/harness/run-loop.js', 'dist/cli/main.js', 'dist/workflows/index.js', 'dist/workflow-bundle.js', 'dist/workflow-bundle.json', 'bin/harnessx.js', 'benchmarks/blocksworld/data/domain.pddl', 'benchmarks/humaneval/grader.py', 'package.json']),
    );
    // Compiled JavaScript and declarations only: no TypeScript sources (Temporal's bundler refuses .ts under node_modules), no tests.
    expect(paths.filter((p) => /^(tests|bench)\/|^dist\/tests\//.test(p) || (p.endsWith('.ts') && !p.endsWith('.d.ts')))).toEqual([]);

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'order-desk', version: '1.0.0', private: true }));
    const installed = ok(await run('npm', ['install', join(work, filename), '--prefer-offline', '--no-audit', '--no-fund'], app), 'npm install');
    expect(existsSync(join(app, 'node_modules/harnessx/dist/library/index.js'))).toBe(true);
    // Installed as a dependency, the postinstall does not build the Temporal CLI.
    expect(existsSync(join(app, 'node_modules/harnessx/.harnessx'))).toBe(false);

    const harness = parseHarnessConfig({
      name: 'order-desk',
      model: { main: { model: 'sim:small' } },
      hooks: {
        task_start: [{ id: 'system_prompt', type: 'system_prompt', params: { template: 'You answer questions about orders. Tools: {tools}.' } }, { id: 'docs', type: 'tool_docs', params: {} }],
        step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 6 } }],
        step_end: [{ id: 'tracer', type: 'tracer', params: {} }],
      },
    });
    writeFileSync(join(app, 'harness.json'), toJson(harness));
    writeFileSync(join(app, 'desk.mjs'), `${userScript("import { createAgent, loadHarness, functionTool } from 'harnessx';\nimport { z } from 'zod';")}await run();\n`);
    writeFileSync(join(app, 'desk.cjs'), `${userScript("const { createAgent, loadHarness, functionTool } = require('harnessx');\nconst { z } = require('zod');")}run().catch((e) => { console.error(e); process.exit(1); });\n`);
    const model = `openai-compatible:desk@${server.url}/v1`;
    const results = [];
    for (const script of ['desk.mjs', 'desk.cjs']) {
      const r = ok(await run(process.execPath, [script, 'harness.json', model], app), script);
      results.push({ script, ms: r.ms, out: JSON.parse(r.stdout.trim().split('\n').at(-1)!) });
    }
    for (const { out } of results)
      expect(out).toEqual({
        answer: 'Order A-17 ships on Friday.',
        endReason: 'goal_reached',
        toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-17' }, ok: true, output: '{"orderId":"A-17","ships":"Friday"}' }],
        steps: ['model', 'tool', 'note', 'model', 'answer', 'note'],
        harnessId: expect.stringMatching(/^hx-[0-9a-f]{16}$/),
      });
    expect(server.unexpected).toEqual([]);
    expect(server.requests).toHaveLength(4);
    // The harness's processors ran inside the installed package: tool_docs wrote the tools into the system prompt.
    const system = (server.requests[0].body.messages as Array<{ role: string; content: string }>)[0];
    expect(system.role).toBe('system');
    expect(system.content).toContain('You answer questions about orders. Tools: lookup_order.\n\nTools (call exactly one per turn):\n- lookup_order: Looks up an order by id.');

    // An evolved code processor runs from the built package: type-checked against the shipped declarations, then sandboxed.
    writeFileSync(join(app, 'code.cjs'), CODE_PROCESSOR_SCRIPT);
    const coded = ok(await run(process.execPath, ['code.cjs'], app), 'code.cjs');
    expect(coded.stdout.trim().split('\n')).toEqual(['system: You are an agent. Solve the task you are given by calling the tools. [checked in the sandbox]', 'goal_reached ok']);

    // The ticket-desk example, copied into the product as its README says, runs under its evolved harness.
    // The scripted model writes priorities capitalised ("Urgent"); the harness's arg_validation repairs them
    // before the desk sees them, so the task is done (under the seed harness the model gives up).
    cpSync(join(ROOT, 'examples/ticket-desk'), join(app, 'ticket-desk'), { recursive: true });
    const deskModel = await startTicketDeskModel();
    let desk: { ms: number; out: { answer: string; endReason: string; toolCalls: Array<{ name: string; args: Record<string, unknown>; ok: boolean }>; steps: string[]; verdict: { score: number; reason?: string } } };
    try {
      writeFileSync(join(app, 'ticket-desk.mjs'), TICKET_DESK_SCRIPT);
      const r = ok(await run(process.execPath, ['ticket-desk.mjs', 'ticket-desk/evolved-harness.json', deskModel.model, 'triage-badge-reader'], app), 'ticket-desk.mjs');
      desk = { ms: r.ms, out: JSON.parse(r.stdout.trim().split('\n').at(-1)!) };
      expect(deskModel.errors).toEqual([]);
      expect(deskModel.replies.map((x) => x.kind)).toEqual(['call', 'call', 'call', 'answer']);
    } finally {
      await deskModel.close();
    }
    expect(desk.out).toMatchObject({ endReason: 'goal_reached', answer: 'Done: I made the 2 changes you asked for.', verdict: { score: 1 } });
    expect(desk.out.toolCalls).toEqual([
      { name: 'search_tickets', args: { query: 'badge reader' }, ok: true },
      { name: 'assign_team', args: { ticket_id: 'T-1017', team: 'hardware' }, ok: true },
      { name: 'update_ticket', args: { ticket_id: 'T-1017', priority: 'urgent' }, ok: true },
    ]);
    expect(desk.out.steps).toContain('tool');

    // The CLI runs from dist/ (compiled): the package's files must hold everything it loads.
    const cli = ok(await run(process.execPath, [join(app, 'node_modules/.bin/harnessx'), 'run', '--harness', 'harness.json', '--model', model, 'When does order A-17 ship?'], app), 'harnessx run');
    expect(cli.stdout).toContain('step 1 · answer I have no order tools here.');
    expect(server.unexpected).toEqual([]);
    writeFileSync(join(app, 'check.ts'), TYPES_CHECK);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: [] }, files: ['check.ts'] }));
    // The project's own TypeScript (installed with harnessx), not the repo's.
    const typed = ok(await run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', '.'], app), 'tsc on the installed types');

    // The main job: evolve on the user's suite, from the installed package, with state in the project folder.
    writeFileSync(join(app, 'harnessx.config.ts'), ORDERS_CONFIG);
    writeFileSync(join(app, 'tasks.jsonl'), `${ORDER_TASKS}\n`);
    const checked = ok(await run(process.execPath, [join(app, 'node_modules/.bin/harnessx'), 'check-benchmark', '--json'], app), 'harnessx check-benchmark');
    expect(JSON.parse(checked.stdout.trim().split('\n').at(-1)!)).toMatchObject({ benchmark: 'orders', ok: true });
    const agentServer = await startWireServer(scriptedOrderAgent);
    const temporal = await startDevServer();
    let evolved: Awaited<ReturnType<typeof run>>;
    let live: Awaited<ReturnType<typeof run>>;
    try {
      const env = { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_CLI_PATH: process.env.HARNESSX_TEMPORAL_CLI!, HARNESSX_TASK_QUEUE: 'hx-package-test', HARNESSX_LOG_LEVEL: 'ERROR', HARNESSX_HOME: '', HARNESSX_DATA_DIR: '', HARNESSX_STORE: '', HARNESSX_CONFIG: '' };
      evolved = ok(
        await run(process.execPath, [join(app, 'node_modules/.bin/harnessx'), 'evolve', '--suite', 'orders', '--model', `openai-compatible:desk@${agentServer.url}/v1`, '--rounds', '1', '--batch-size', '4', '--validation-size', '1', '--k', '1', '--seed', 'package', '--workflow-id', 'package-evolve', '--json'], app, env),
        'harnessx evolve',
      );
      expect(agentServer.unexpected).toEqual([]);
      // A live deployment from the installed package: deployHarness from the shipped bundle, createAgent({ deployment }) as a product runs it.
      live = ok(await run(process.execPath, [join(app, 'node_modules/.bin/harnessx'), 'deploy', 'bench', '--suite', 'blocksworld', '--model', 'sim:small', '--runs', '60', '--concurrency', '4', '--name', 'package-live', '--json'], app, env), 'harnessx deploy bench');
    } finally {
      await temporal.teardown();
      await agentServer.close();
    }
    const summary = JSON.parse(evolved.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ workflowId: 'package-evolve', trainTasks: 4, testTasks: 1, seedPassRate: 1, seedTestPassRate: 1, harnessId: expect.stringMatching(/^hx-[0-9a-f]{16}$/) });
    // State defaults to the user's project, not the package folder inside node_modules.
    expect(summary.harnessPath).toBe(join(app, '.harnessx/data/harnesses', `${summary.harnessId}.json`));
    expect(existsSync(summary.harnessPath)).toBe(true);
    // The shipped workflow bundle matched the installed SDK: nothing was bundled at start.
    expect(evolved.stderr).not.toContain('prebuilt workflow bundle');
    expect(agentServer.requests.length).toBeGreaterThanOrEqual(2 * 6);
    const liveSummary = JSON.parse(live.stdout.trim().split('\n').at(-1)!);
    expect(liveSummary).toMatchObject({ name: 'package-live', runs: 60, productRunsFailed: 0, productRunsLost: 0, reportsDropped: 0 });
    expect(liveSummary.windows).toHaveLength(2);

    const timing = { packMs: packed.ms, installMs: installed.ms, tarballBytes: size, tscMs: typed.ms, cliRunMs: cli.ms, checkBenchmarkMs: checked.ms, evolveMs: evolved.ms, deployBenchMs: live.ms, scripts: [...results.map((r) => `${r.script} ${r.ms} ms`), `ticket-desk.mjs ${desk.ms} ms`] };
    process.stderr.write(`package test timings: ${JSON.stringify(timing)}\n`);
    const built = readdirSync(join(app, 'node_modules/harnessx/dist'));
    expect(built).toEqual(expect.arrayContaining(['harness', 'library', 'models', 'suites', 'cli', 'workers', 'workflows', 'activities']));
    expect(built).not.toContain('tests');
  } finally {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
});

import { ChildProcess, spawn } from 'node:child_process';
import OpenAI from 'openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { digestTraces } from '../../aegis/digester';
import { RuleBasedMetaAgent } from '../../aegis/rule-based-agent';
import { splitOf } from '../../benchmarks/split';
import type { HarnessConfig } from '../../harness/config';
import { Environment, runEpisode } from '../../harness/run-loop';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace } from '../../harness/trace';
import type { ToolResult, ToolSpec } from '../../harness/types';
import { createModel } from '../../models/registry';
import { toolSpecFromJsonSchema } from '../../suites/tool-spec';
import type { EpisodeRecord } from '../../examples/ticket-desk/verify.mjs' with { 'resolution-mode': 'import' };
import { loadTicketDeskTasks, startTicketDeskModel, TICKET_DESK_DIR, TicketDeskModelServer } from '../helpers/ticket-desk-model';

/**
 * The scripted task model for the ticket-desk evolve test, through the real `openai` SDK: it plays a task
 * turn by turn, refuses what it does not expect with a 500, and has exactly the weakness the rules
 * meta-agent's arg_validation remedy repairs — shown by running the real run loop on the real MCP server.
 */

const verifyModule = import('../../examples/ticket-desk/verify.mjs');
const tasks = loadTicketDeskTasks();
const task = (id: string) => tasks.find((t) => t.id === id)!;
let model: TicketDeskModelServer;
let client: OpenAI;

const DESK_TOOLS = ['search_tickets', 'get_ticket', 'create_ticket', 'update_ticket', 'add_comment', 'assign_team', 'close_ticket', 'reopen_ticket', 'list_agents', 'list_teams'].map((name) => ({
  type: 'function' as const,
  function: { name, description: name, parameters: { type: 'object', properties: {} } },
}));
type Msg = OpenAI.Chat.Completions.ChatCompletionMessageParam;

beforeAll(async () => {
  model = await startTicketDeskModel();
  client = new OpenAI({ apiKey: 'not-needed', baseURL: model.url, maxRetries: 0 });
});
afterAll(() => model.close());

/** The reply's function call (the SDK's type also allows custom tool calls, which this model never makes). */
function callOf(choice: OpenAI.Chat.Completions.ChatCompletion.Choice): { id: string; function: { name: string; arguments: string } } {
  const call = choice.message.tool_calls?.[0];
  if (call?.type !== 'function') throw new Error(`expected a function call, got ${JSON.stringify(choice.message)}`);
  return call;
}

async function turn(messages: Msg[], tools = DESK_TOOLS) {
  const reply = await client.chat.completions.create({ model: 'ticket-desk-scripted', messages, tools, tool_choice: 'auto' });
  return reply.choices[0];
}

describe('the scripted ticket-desk model over the openai SDK', () => {
  test('plays a task from its instruction and the tool results: search, act on what it found, then answer', async () => {
    const t = task('triage-orion-wifi');
    const messages: Msg[] = [{ role: 'system', content: 'You run the IT ticket desk.' }, { role: 'user', content: t.instruction }];
    const first = await turn(messages);
    expect(first.finish_reason).toBe('tool_calls');
    expect(callOf(first).function).toEqual({ name: 'search_tickets', arguments: JSON.stringify({ query: 'Orion' }) });
    messages.push(first.message as Msg, { role: 'tool', tool_call_id: callOf(first).id, content: JSON.stringify({ count: 1, tickets: [{ id: 'T-1004', title: 'Wi-Fi in meeting room Orion keeps dropping' }] }) });
    const second = await turn(messages);
    expect(JSON.parse(callOf(second).function.arguments)).toEqual({ ticket_id: 'T-1004', team: 'network' });
    messages.push(second.message as Msg, { role: 'tool', tool_call_id: callOf(second).id, content: '{"id":"T-1004","team":"network"}' });
    const third = await turn(messages);
    // Its weakness: the priority capitalised.
    expect(callOf(third).function).toEqual({ name: 'update_ticket', arguments: JSON.stringify({ ticket_id: 'T-1004', priority: 'Normal' }) });
    const callId = callOf(third).id;
    // When the desk accepted the call (a harness repaired it), it answers; when the desk refused it, it gives up.
    const accepted = await turn([...messages, third.message as Msg, { role: 'tool', tool_call_id: callId, content: '{"id":"T-1004","priority":"normal"}' }]);
    expect(accepted).toMatchObject({ finish_reason: 'stop', message: { content: 'Done: I made the 2 changes you asked for.' } });
    const refused = await turn([...messages, third.message as Msg, { role: 'tool', tool_call_id: callId, content: 'MCP error -32602: Input validation error: Invalid arguments for tool update_ticket: Invalid option at priority' }]);
    expect(refused.message.content).toMatch(/^I could not finish this: the ticket desk did not accept the priority/);
    expect(model.errors).toEqual([]);
  });

  test('answers question tasks with the reference answer', async () => {
    const t = task('q-identity-team');
    const first = await turn([{ role: 'user', content: `Task: ${t.instruction}` }]);
    expect(callOf(first).function.name).toBe('list_agents');
    const answer = await turn([{ role: 'user', content: `Task: ${t.instruction}` }, first.message as Msg, { role: 'tool', tool_call_id: callOf(first).id, content: '[{"id":"sofia.rossi"},{"id":"jonas.berg"}]' }]);
    expect(answer.message.content).toBe('Sofia Rossi and Jonas Berg.');
  });

  test('refuses loudly what it does not expect: a 500 naming the problem, and a recorded error', async () => {
    const before = model.errors.length;
    const t = task('triage-orion-wifi');
    const expect500 = async (messages: Msg[], message: RegExp, tools = DESK_TOOLS) => {
      const error = await turn(messages, tools).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
      expect((error as Error).message).toMatch(message);
    };
    await expect500([{ role: 'user', content: 'Please order me a pizza.' }], /no ticket-desk task's instruction is in the request/);
    const search = { role: 'assistant' as const, content: null, tool_calls: [{ id: 'c1', type: 'function' as const, function: { name: 'search_tickets', arguments: '{"query":"Orion"}' } }] };
    await expect500([{ role: 'user', content: t.instruction }, search, { role: 'tool', tool_call_id: 'c1', content: '{"count":0,"tickets":[]}' }], /the search result does not contain T-1004/);
    await expect500([{ role: 'user', content: t.instruction }, search, { role: 'tool', tool_call_id: 'c1', content: 'Error: the desk is down' }], /the desk refused the gold call search_tickets/);
    await expect500([{ role: 'user', content: t.instruction }, { role: 'assistant', content: 'Done.' }, { role: 'user', content: 'No action was taken: reply with exactly one tool call.' }], /went on after the model's final answer/);
    await expect500([{ role: 'user', content: t.instruction }], /offers the hidden tool\(s\) get_desk_state/, [...DESK_TOOLS, { type: 'function', function: { name: 'get_desk_state', description: 'x', parameters: { type: 'object', properties: {} } } }]);
    await expect500([{ role: 'user', content: t.instruction }], /does not offer the tool search_tickets/, DESK_TOOLS.slice(1));
    expect(model.errors.length - before).toBe(6);
    model.errors.splice(before);
  });
});

describe("the scripted model's weakness is what the rules meta-agent's remedy repairs", () => {
  let desk: ChildProcess;
  let deskUrl: URL;
  let verify: Awaited<typeof verifyModule>['verify'];

  beforeAll(async () => {
    ({ verify } = await verifyModule);
    desk = spawn(process.execPath, ['server.mjs', '--http', '0'], { cwd: TICKET_DESK_DIR, stdio: ['ignore', 'ignore', 'pipe'] });
    deskUrl = await new Promise<URL>((resolve, reject) => {
      let seen = '';
      desk.stderr!.on('data', (d) => {
        seen += String(d);
        const m = /listening on (\S+)/.exec(seen);
        if (m) resolve(new URL(m[1]));
      });
      desk.on('exit', (code) => reject(new Error(`server.mjs exited with ${code}: ${seen}`)));
    });
  }, 30_000);
  afterAll(() => desk?.kill('SIGTERM'));

  /**
   * One episode of the real run loop with the real OpenAI-compatible provider against the scripted model, on a
   * fresh desk session. The environment stands in for the suite's MCP tool provider (not on this branch yet):
   * specs from tools/list without the hidden state tool, MCP input validation errors as bad_arguments (the
   * provider must map them so), the model's first reply without a tool call as the final answer.
   */
  async function play(config: HarnessConfig, taskId: string): Promise<{ trace: EpisodeTrace; score: number }> {
    const t = task(taskId);
    const mcp = new Client({ name: 'ticket-desk-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(deskUrl);
    await mcp.connect(transport);
    try {
      const specs: ToolSpec[] = (await mcp.listTools()).tools
        .filter((tool) => tool.name !== 'get_desk_state')
        .map((tool) => toolSpecFromJsonSchema(tool.name, tool.description ?? '', tool.inputSchema as Record<string, unknown>));
      let answer: string | null = null;
      const toolCalls: EpisodeRecord['toolCalls'] = [];
      const env: Environment = {
        instruction: () => t.instruction,
        tools: () => specs,
        admissibleActions: () => null,
        isDone: () => answer !== null,
        async execute(call): Promise<ToolResult> {
          const result = (await mcp.callTool({ name: call.name, arguments: call.args })) as { isError?: boolean; content: Array<{ text?: string }> };
          const output = result.content.map((p) => p.text ?? '').join('\n');
          toolCalls.push({ name: call.name, args: call.args, ok: !result.isError, output });
          if (!result.isError) return { ok: true, output };
          return { ok: false, output, errorKind: /Input validation error/.test(output) ? 'bad_arguments' : 'precondition' };
        },
        respond(text) {
          answer = text;
          return '';
        },
      };
      const trace = await runEpisode({ config, harnessId: config.name, env, model: createModel(model.model, { seed: 'ticket-desk' }), task: { id: t.id, instruction: t.instruction }, seed: 'ticket-desk', attempt: 0 });
      const state = JSON.parse(((await mcp.readResource({ uri: 'ticketdesk://state' })).contents[0] as { text: string }).text);
      return { trace, score: verify({ suite: 'ticket-desk', task: t, toolCalls, answer, dialogue: [], state }).score };
    } finally {
      await transport.terminateSession();
      await mcp.close();
    }
  }

  const writesPriority = (id: string) => task(id).reference.some((c) => typeof c.args.priority === 'string');

  test('seed harness: the priority tasks fail as format errors; the rules agent drafts arg_validation; its harness solves every task', async () => {
    const started = Date.now();
    const seed = seedHarness(model.model);
    const seedRuns = await Promise.all(tasks.map(async (t) => ({ id: t.id, ...(await play(seed, t.id)) })));
    const failing = seedRuns.filter((r) => r.score < 1).map((r) => r.id);
    // Exactly the tasks whose gold calls carry a priority fail, and every other task passes.
    expect(failing).toEqual(tasks.filter((t) => writesPriority(t.id)).map((t) => t.id));
    expect(failing.length).toBe(15);
    // The gate compares on the validation split: some failing tasks must be there, and the digest sees the train ones.
    expect(failing.filter((id) => splitOf(id) === 'validation')).toEqual(['triage-orion-wifi', 'q-unassigned-high']);
    expect(failing.filter((id) => splitOf(id) === 'train').length).toBe(10);

    // What the rules meta-agent makes of those traces.
    const digest = digestTraces({
      round: 1,
      harnessId: 'seed',
      config: seed,
      traces: seedRuns.map((r) => ({ ...r.trace, success: r.score === 1 })),
      outcomes: seedRuns.map((r) => ({ taskId: r.id, passed: r.score === 1, successes: r.score === 1 ? 1 : 0, attempts: 1 })),
      previous: null,
    });
    expect(new Set(digest.tasks.filter((d) => d.category).map((d) => d.category))).toEqual(new Set(['format_error']));
    const agent = new RuleBasedMetaAgent();
    const landscape = await agent.plan({ digest, tried: [], config: seed });
    // The default candidatesPerRound is 4.
    const drafts = await agent.evolve({ landscape, digest, config: seed, maxCandidates: 4, round: 1 });
    expect(drafts.map((d) => d.editKey)).toContain('insert:arg_validation@before_tool');
    process.stdout.write(`rules agent drafts for the seed's failures: ${drafts.map((d) => d.editKey).join(', ')}\n`);

    // Each drafted harness on the failing validation tasks (what the gate compares): only arg_validation
    // repairs the capitalised priority, so the gate has exactly one candidate to ship.
    const gated = failing.filter((id) => splitOf(id) === 'validation');
    const solvedBy: Record<string, number> = {};
    for (const d of drafts) {
      const runs = await Promise.all(gated.map((id) => play(d.config, id)));
      solvedBy[d.editKey] = runs.filter((r) => r.score === 1).length;
    }
    expect(solvedBy).toEqual(Object.fromEntries(drafts.map((d) => [d.editKey, d.editKey === 'insert:arg_validation@before_tool' ? gated.length : 0])));
    process.stdout.write(`failing validation tasks solved per drafted candidate: ${JSON.stringify(solvedBy)}\n`);

    // And the arg_validation harness keeps every task the seed solved.
    const repaired = drafts.find((d) => d.editKey === 'insert:arg_validation@before_tool')!.config;
    const all = await Promise.all(tasks.map(async (t) => ({ id: t.id, ...(await play(repaired, t.id)) })));
    expect(all.filter((r) => r.score < 1).map((r) => r.id)).toEqual([]);
    expect(model.errors).toEqual([]);
    process.stdout.write(`ticket-desk run-loop check: seed ${tasks.length - failing.length}/${tasks.length}, with arg_validation ${tasks.length}/${tasks.length}, ${Date.now() - started} ms\n`);
  }, 180_000);
});

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
// The example's modules are ES modules (.mjs, run by node as a user would); this CommonJS test loads them
// with import() and takes their types with resolution-mode "import".
import type { EpisodeRecord } from '../../examples/ticket-desk/verify.mjs' with { 'resolution-mode': 'import' };
import tsConfig from '../../examples/ticket-desk/harnessx.config';
import { loadTicketDeskTasks, TICKET_DESK_DIR, type TicketDeskTask } from '../helpers/ticket-desk-model';

/**
 * The worked example of issue #13 on its own: its MCP server through the SDK's own client, its 36 tasks'
 * gold solutions replayed against the server, and its verifier accepting them, rejecting corruptions of
 * each, and not being fooled by claims, fake tool-call lists or tampering through the model's tools.
 */

type Call = { name: string; args: Record<string, unknown> };
type Session = { client: Client; call(c: Call): Promise<{ ok: boolean; output: string }>; state(): Promise<unknown> };

const verifyModule = import('../../examples/ticket-desk/verify.mjs');
let verify: Awaited<typeof verifyModule>['verify'];
let checkTaskMetadata: Awaited<typeof verifyModule>['checkTaskMetadata'];
const tasks = loadTicketDeskTasks() as Array<TicketDeskTask & { metadata: { expect: Record<string, any> } }>;
let server: ChildProcess;
let url: URL;

beforeAll(async () => {
  ({ verify, checkTaskMetadata } = await verifyModule);
  // One desk server over Streamable HTTP: every session is a fresh desk, so each task starts from desk.json.
  server = spawn(process.execPath, ['server.mjs', '--http', '0'], { cwd: TICKET_DESK_DIR, stdio: ['ignore', 'ignore', 'pipe'] });
  url = await new Promise<URL>((resolve, reject) => {
    let seen = '';
    server.stderr!.on('data', (d) => {
      seen += String(d);
      const m = /listening on (\S+)/.exec(seen);
      if (m) resolve(new URL(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`server.mjs --http exited with ${code}: ${seen}`)));
  });
}, 30_000);

afterAll(() => {
  server?.kill('SIGTERM');
});

function sessionOf(client: Client): Session {
  return {
    client,
    async call(c) {
      const result = (await client.callTool({ name: c.name, arguments: c.args })) as { isError?: boolean; content: Array<{ type: string; text?: string }> };
      return { ok: !result.isError, output: result.content.map((p) => p.text ?? '').join('\n') };
    },
    async state() {
      const read = await client.readResource({ uri: 'ticketdesk://state' });
      return JSON.parse((read.contents[0] as { text: string }).text);
    },
  };
}

async function withSession<T>(run: (s: Session) => Promise<T>): Promise<T> {
  const client = new Client({ name: 'ticket-desk-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url);
  await client.connect(transport);
  try {
    return await run(sessionOf(client));
  } finally {
    await transport.terminateSession();
    await client.close();
  }
}

/** Plays calls in a fresh desk and returns the episode record the verifier gets. */
async function episode(task: TicketDeskTask, calls: Call[], answer: string | null): Promise<EpisodeRecord> {
  return withSession(async (s) => {
    const toolCalls = [];
    for (const c of calls) toolCalls.push({ ...c, ...(await s.call(c)) });
    return { suite: 'ticket-desk', task, toolCalls, answer, dialogue: [], state: await s.state() };
  });
}

/** Runs `work` over items, `limit` at a time (the server handles sessions concurrently). */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  }));
  return out;
}

const MUTATING = new Set(['create_ticket', 'update_ticket', 'add_comment', 'assign_team', 'close_ticket', 'reopen_ticket']);
const OTHER_VALUE: Record<string, Record<string, string>> = {
  priority: { low: 'normal', normal: 'high', high: 'normal', urgent: 'high' },
  team: { hardware: 'network', security: 'service-desk', network: 'hardware', identity: 'network' },
  status: { in_progress: 'waiting_on_user', waiting_on_user: 'in_progress', open: 'in_progress' },
};
const WRONG_ANSWER: Record<string, string> = {
  ticket_ids: 'It is T-1013.',
  number: 'There are 5 of them.',
  agent: 'Dana Kim.',
  team: 'The Network team.',
  status: 'It is closed.',
  text: 'They rebooted the laptop.',
};

/** Wrong solutions of a task: the last change left out, one value changed, the wrong answer. */
function corruptionsOf(task: TicketDeskTask & { metadata: { expect: Record<string, any> } }): Array<{ kind: string; calls: Call[]; answer: string | null }> {
  const out: Array<{ kind: string; calls: Call[]; answer: string | null }> = [];
  const answer = task.referenceAnswer ?? 'Done.';
  const lastChange = task.reference.map((c) => c.name).reduce((last, name, i) => (MUTATING.has(name) ? i : last), -1);
  if (lastChange >= 0) out.push({ kind: 'missing step', calls: task.reference.filter((_, i) => i !== lastChange), answer });
  const changed = task.reference.findIndex((c) => MUTATING.has(c.name) && Object.keys(OTHER_VALUE).some((k) => typeof c.args[k] === 'string'));
  if (changed >= 0) {
    const c = task.reference[changed];
    const key = Object.keys(OTHER_VALUE).find((k) => typeof c.args[k] === 'string')!;
    const wrong = OTHER_VALUE[key][c.args[key] as string];
    out.push({ kind: `wrong ${key}`, calls: task.reference.map((x, i) => (i === changed ? { ...x, args: { ...x.args, [key]: wrong } } : x)), answer });
  }
  const assignee = task.reference.findIndex((c) => typeof c.args.assignee === 'string');
  if (assignee >= 0) out.push({ kind: 'wrong assignee', calls: task.reference.map((x, i) => (i === assignee ? { ...x, args: { ...x.args, assignee: 'amir.haddad' } } : x)), answer });
  if (task.metadata.expect.answer) {
    out.push({ kind: 'wrong answer', calls: task.reference, answer: WRONG_ANSWER[task.metadata.expect.answer.kind] });
    out.push({ kind: 'no answer', calls: task.reference, answer: null });
  }
  return out;
}

describe('the ticket-desk example', () => {
  test('has 30+ well-formed tasks with unique ids, of every kind the issue asks for', () => {
    expect(tasks.length).toBeGreaterThanOrEqual(30);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
    for (const t of tasks) checkTaskMetadata(t);
    const kinds = {
      triage: tasks.filter((t) => t.metadata.expect.tickets && Object.values(t.metadata.expect.tickets as Record<string, object>).some((e) => 'priority' in e)).length,
      question: tasks.filter((t) => t.metadata.expect.answer && !t.metadata.expect.tickets).length,
      multiStep: tasks.filter((t) => t.reference.filter((c) => MUTATING.has(c.name)).length >= 2).length,
      searchFirst: tasks.filter((t) => t.reference[0].name === 'search_tickets' && t.reference.some((c) => MUTATING.has(c.name))).length,
      creates: tasks.filter((t) => t.metadata.expect.created).length,
    };
    expect(kinds.triage).toBeGreaterThanOrEqual(8);
    expect(kinds.question).toBeGreaterThanOrEqual(8);
    expect(kinds.multiStep).toBeGreaterThanOrEqual(8);
    expect(kinds.searchFirst).toBeGreaterThanOrEqual(5);
    expect(kinds.creates).toBeGreaterThanOrEqual(2);
    // Question tasks carry the answer the gold solution gives.
    for (const t of tasks) if (t.metadata.expect.answer) expect(t.referenceAnswer).toEqual(expect.any(String));
  });

  test('a malformed expectation is refused, naming the task and field', () => {
    const task = tasks[0];
    expect(() => checkTaskMetadata({ ...task, metadata: {} })).toThrow(`ticket-desk task "${task.id}": metadata.expect is missing`);
    expect(() => checkTaskMetadata({ ...task, metadata: { expect: { tickets: { 'T-1005': { priority: 'High' } } } } })).toThrow('metadata.expect.tickets.T-1005.priority: "High" is not one of low, normal, high, urgent');
    expect(() => checkTaskMetadata({ ...task, metadata: { expect: { tickets: { 'T-1005': { priority: 'normal' } } } } })).toThrow('already its value in desk.json');
    expect(() => checkTaskMetadata({ ...task, metadata: { expect: { tickets: { 'T-9999': { priority: 'high' } } } } })).toThrow('tickets.T-9999: no such ticket');
  });

  test('the server lists its tools with JSON Schemas through the MCP SDK client', async () => {
    const tools = await withSession(async (s) => (await s.client.listTools()).tools);
    expect(tools.map((t) => t.name).sort()).toEqual(['add_comment', 'assign_team', 'close_ticket', 'create_ticket', 'get_desk_state', 'get_ticket', 'list_agents', 'list_teams', 'reopen_ticket', 'search_tickets', 'update_ticket']);
    const update = tools.find((t) => t.name === 'update_ticket')!;
    expect(update.inputSchema.required).toEqual(['ticket_id']);
    expect((update.inputSchema.properties as Record<string, { enum?: string[] }>).priority.enum).toEqual(['low', 'normal', 'high', 'urgent']);
    expect(tools.every((t) => typeof t.description === 'string' && t.description.length > 20)).toBe(true);
  });

  test('the desk refuses what a real desk refuses, as MCP tool errors', async () => {
    const results = await withSession(async (s) => ({
      unknown: await s.call({ name: 'get_ticket', args: { ticket_id: 'T-9999' } }),
      closedAgain: await s.call({ name: 'close_ticket', args: { ticket_id: 'T-1009', resolution: 'Replaced the cable again.' } }),
      updateClosed: await s.call({ name: 'update_ticket', args: { ticket_id: 'T-1015', priority: 'high' } }),
      startUnassigned: await s.call({ name: 'update_ticket', args: { ticket_id: 'T-1002', status: 'in_progress' } }),
      wrongTeam: await s.call({ name: 'update_ticket', args: { ticket_id: 'T-1002', assignee: 'dana.kim' } }),
      reopenOpen: await s.call({ name: 'reopen_ticket', args: { ticket_id: 'T-1001', reason: 'because' } }),
      capitalised: await s.call({ name: 'update_ticket', args: { ticket_id: 'T-1005', priority: 'High' } }),
      lowercaseId: await s.call({ name: 'get_ticket', args: { ticket_id: 't-1005' } }),
    }));
    expect(results.unknown).toEqual({ ok: false, output: expect.stringContaining('no ticket T-9999') });
    expect(results.closedAgain).toEqual({ ok: false, output: expect.stringContaining('T-1009 is already closed') });
    expect(results.updateClosed).toEqual({ ok: false, output: expect.stringContaining('T-1015 is closed; reopen it with reopen_ticket') });
    expect(results.startUnassigned).toEqual({ ok: false, output: expect.stringContaining('T-1002 has no assignee') });
    expect(results.wrongTeam).toEqual({ ok: false, output: expect.stringContaining('dana.kim is on the network team, but T-1002 belongs to hardware') });
    expect(results.reopenOpen).toEqual({ ok: false, output: expect.stringContaining('T-1001 is not closed') });
    // The SDK validates arguments against the zod schema before the desk sees them.
    expect(results.capitalised).toEqual({ ok: false, output: expect.stringMatching(/Input validation error.*priority/) });
    expect(results.lowercaseId.ok).toBe(true);
  });

  test('every task: the gold solution replayed through the server scores 1; each corruption of it scores below 1', async () => {
    const started = Date.now();
    const outcomes = await pool(tasks, 6, async (task) => {
      const gold = await episode(task, task.reference, task.referenceAnswer ?? 'Done.');
      const failedCalls = gold.toolCalls.filter((c) => !c.ok).map((c) => `${c.name}: ${c.output}`);
      const corruptions = corruptionsOf(task);
      const scores = await Promise.all(corruptions.map(async (c) => ({ kind: c.kind, ...verify(await episode(task, c.calls, c.answer)) })));
      return { id: task.id, gold: verify(gold), failedCalls, corruptions: scores };
    });
    for (const o of outcomes) {
      expect({ id: o.id, failedCalls: o.failedCalls, score: o.gold.score, reason: o.gold.reason }).toEqual({ id: o.id, failedCalls: [], score: 1, reason: expect.stringMatching(/^all \d+ checks hold$/) });
      expect(o.corruptions.length).toBeGreaterThan(0);
      for (const c of o.corruptions) expect({ id: o.id, kind: c.kind, below1: c.score < 1 }).toEqual({ id: o.id, kind: c.kind, below1: true });
    }
    const corruptionCount = outcomes.reduce((n, o) => n + o.corruptions.length, 0);
    // Partial credit exists: some corruptions keep part of the checks (a triage with only the team right).
    expect(outcomes.some((o) => o.corruptions.some((c) => c.score > 0 && c.score < 1))).toBe(true);
    process.stdout.write(`ticket-desk: ${tasks.length} gold solutions and ${corruptionCount} corruptions replayed over MCP in ${Date.now() - started} ms\n`);
  }, 120_000);

  describe('cannot be fooled', () => {
    const task = (id: string) => tasks.find((t) => t.id === id)!;

    test('a final answer claiming the work, with the desk unchanged, scores 0', async () => {
      const record = await episode(task('close-atlas-projector'), [], 'I have closed ticket T-1012 with the resolution "reseated the loose HDMI input board".');
      const verdict = verify(record);
      expect(verdict.score).toBe(0);
      expect(verdict.reason).toContain('T-1012.status: is "in_progress", expected "closed"');
    });

    test('a tool-call list claiming calls that never reached the desk scores 0 on every task that changes the desk', async () => {
      const untouched = await withSession((s) => s.state());
      for (const t of tasks.filter((x) => x.metadata.expect.tickets || x.metadata.expect.created)) {
        const claimed = t.reference.map((c) => ({ ...c, ok: true, output: '{"ok":true}' }));
        const verdict = verify({ suite: 'ticket-desk', task: t, toolCalls: claimed, answer: null, dialogue: [], state: untouched });
        expect({ id: t.id, score: verdict.score }).toEqual({ id: t.id, score: 0 });
      }
    });

    test('tampering through the tools the model can see cannot close a ticket without close_ticket', async () => {
      const attempts: Call[] = [
        { name: 'update_ticket', args: { ticket_id: 'T-1012', status: 'closed' } },
        { name: 'update_ticket', args: { ticket_id: 'T-1012', resolution: 'Reseated the loose HDMI input board.' } },
        { name: 'add_comment', args: { ticket_id: 'T-1012', body: 'status: closed\nresolution: Reseated the loose HDMI input board.' } },
        { name: 'create_ticket', args: { title: 'T-1012 closed: HDMI board reseated', description: 'status closed, resolution HDMI', requester: 'sara.nilsson' } },
      ];
      const record = await episode(task('close-atlas-projector'), attempts, 'Closed T-1012.');
      expect(record.toolCalls.map((c) => c.ok)).toEqual([false, false, true, true]);
      expect(record.toolCalls[0].output).toMatch(/Input validation error/);
      expect(record.toolCalls[1].output).toContain('nothing to update');
      const verdict = verify(record);
      expect(verdict.score).toBe(0);
      expect(verdict.breakdown).toMatchObject({ checks: { 'T-1012.status': false, 'T-1012.resolution': false } });
      expect(verdict.reason).toMatch(/T-1012 got an unrequested comment; T-1021 was opened but the task asked for no such ticket/);
    });

    test('doing the work plus unrequested changes scores 0, naming what else changed', async () => {
      const t = task('triage-swollen-battery');
      const record = await episode(t, [...t.reference, { name: 'update_ticket', args: { ticket_id: 'T-1018', priority: 'urgent' } }], 'Done.');
      const verdict = verify(record);
      expect(verdict.score).toBe(0);
      expect(verdict.breakdown).toMatchObject({ checks: { 'T-1005.team': true, 'T-1005.priority': true }, collateral: ['T-1018.priority changed to "urgent"'] });
    });

    test('an answer that names every candidate is not an answer', async () => {
      const state = await withSession((s) => s.state());
      const record = (id: string, answer: string): EpisodeRecord => ({ suite: 'ticket-desk', task: task(id), toolCalls: [], answer, dialogue: [], state });
      const allTickets = Array.from({ length: 20 }, (_, i) => `T-${1001 + i}`).join(', ');
      expect(verify(record('q-unassigned-high', `One of ${allTickets}.`)).score).toBe(0);
      expect(verify(record('q-urgent-count', 'Either 1, 2 or 3.')).score).toBe(0);
      expect(verify(record('q-outlook-owner', 'Dana Kim, Ben Carter or Mei Lin.')).score).toBe(0);
      expect(verify(record('q-payroll-status', 'It is open or in progress or closed.')).score).toBe(0);
      // The right value alone, in any wording, passes.
      expect(verify(record('q-unassigned-high', 'just t-1008')).score).toBe(1);
      expect(verify(record('q-urgent-count', 'Two.')).score).toBe(1);
      expect(verify(record('q-payroll-status', 'in_progress')).score).toBe(1);
    });

    test('a record without desk state scores 0 with the reason', () => {
      const verdict = verify({ suite: 'ticket-desk', task: task('q-outlook-owner'), toolCalls: [], answer: 'Ben Carter', dialogue: [], state: null });
      expect(verdict).toEqual({ score: 0, breakdown: { state: 'missing' }, reason: expect.stringContaining('no ticket desk state') });
    });
  });

  test('the verifier reads the state however the provider hands it over: object, JSON text, resource read, hidden-tool result, keyed by provider', async () => {
    const t = tasks.find((x) => x.id === 'close-atlas-projector')!;
    const record = await episode(t, t.reference, 'Closed.');
    const text = JSON.stringify(record.state);
    for (const state of [record.state, text, { contents: [{ uri: 'ticketdesk://state', text }] }, { content: [{ type: 'text', text }] }, { 'mcp stdio `node server.mjs`': { contents: [{ text }] } }])
      expect(verify({ ...record, state }).score).toBe(1);
  });

  test('over stdio, as a config with `command` runs it: one process per session, sessions never share a desk', async () => {
    const open = async () => {
      const client = new Client({ name: 'ticket-desk-test', version: '1.0.0' });
      await client.connect(new StdioClientTransport({ command: process.execPath, args: ['server.mjs'], cwd: TICKET_DESK_DIR, stderr: 'pipe' }));
      return { client, s: sessionOf(client) };
    };
    const [a, b] = await Promise.all([open(), open()]);
    try {
      const t = tasks.find((x) => x.id === 'close-git-502')!;
      for (const c of t.reference) expect((await a.s.call(c)).ok).toBe(true);
      const record: EpisodeRecord = { suite: 'ticket-desk', task: t, toolCalls: [], answer: 'Done.', dialogue: [], state: await a.s.state() };
      expect(verify(record).score).toBe(1);
      // The other process never saw those calls.
      expect(verify({ ...record, state: await b.s.state() }).score).toBe(0);
      // The hidden state tool returns the same desk as the resource.
      const viaTool = (await a.client.callTool({ name: 'get_desk_state', arguments: {} })) as { content: Array<{ text: string }> };
      expect(JSON.parse(viaTool.content[0].text)).toEqual(record.state);
    } finally {
      await Promise.all([a.client.close(), b.client.close()]);
    }
  }, 30_000);

  test('as a command verifier: `node verify.mjs` reads one record on stdin and prints its score', async () => {
    const t = tasks.find((x) => x.id === 'q-identity-team')!;
    const record = await episode(t, t.reference, t.referenceAnswer!);
    const good = spawnSync(process.execPath, ['verify.mjs'], { cwd: TICKET_DESK_DIR, input: JSON.stringify(record), encoding: 'utf8' });
    expect(good.status).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ score: 1, reason: 'all 1 checks hold' });
    const wrong = spawnSync(process.execPath, ['verify.mjs'], { cwd: TICKET_DESK_DIR, input: JSON.stringify({ ...record, answer: 'Sofia Rossi only.' }), encoding: 'utf8' });
    expect(JSON.parse(wrong.stdout)).toMatchObject({ score: 0, reason: expect.stringContaining('expected sofia.rossi, jonas.berg; the answer names sofia.rossi') });
    const bad = spawnSync(process.execPath, ['verify.mjs'], { cwd: TICKET_DESK_DIR, input: 'not json', encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('verify.mjs: stdin is not one JSON episode record');
  }, 30_000);

  test('both config forms declare the suite: TypeScript with the verify function, JSON with the command verifier', async () => {
    const suite = tsConfig.suites['ticket-desk'];
    expect(suite).toMatchObject({ tasks: './tasks.jsonl', tools: [{ mcp: { command: 'node', args: ['server.mjs'] }, state: { resource: 'ticketdesk://state' }, hidden: ['get_desk_state'] }] });
    // The config's verifier is verify.mjs's verify, loaded on first use.
    const t = tasks.find((x) => x.id === 'q-outlook-owner')!;
    const record = await episode(t, t.reference, 'Ben Carter has it.');
    expect(await suite.verifier(record)).toEqual(verify(record));
    expect((await suite.verifier({ ...record, answer: 'Dana Kim has it.' })).score).toBe(0);
    const json = JSON.parse(readFileSync(join(TICKET_DESK_DIR, 'harnessx.config.json'), 'utf8'));
    expect(json.suites['ticket-desk']).toMatchObject({
      tasks: './tasks.jsonl',
      tools: [{ mcp: { command: 'node', args: ['server.mjs'] }, state: { tool: 'get_desk_state' }, hidden: ['get_desk_state'] }],
      verifier: { command: 'node', args: ['verify.mjs'] },
    });
  });
});

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateToolArgs } from '../../harness/processors/tools';
import { closeSharedMcpConnections, mcpToolProvider } from '../../suites/mcp';
import { schemaProblem } from '../../suites/mcp/check-schema';
import { isRunning } from '../../suites/mcp/stop-process-tree';
import type { McpToolsConfig, ToolSession } from '../../suites/types';
import { startHttpNotesServer } from '../fixtures/mcp/http-notes-server';

/**
 * MCP tools against real servers built with the official SDK: a stdio one (`node stdio-notes-server.mjs`), a
 * low-level one for pagination and JSON-RPC errors, one served over Streamable HTTP in this process, and the
 * npm package @modelcontextprotocol/server-memory.
 */
const FIXTURES = path.resolve(__dirname, '../fixtures/mcp');
const where = (index = 0) => ({ configFile: 'harnessx.config.ts', suite: 'notes', index, configDir: FIXTURES });
const notesStdio = (extra: Partial<McpToolsConfig> = {}, env: Record<string, string> = {}): McpToolsConfig => ({
  mcp: { command: process.execPath, args: ['stdio-notes-server.mjs'], env },
  state: { tool: 'snapshot' },
  ...extra,
});
const open = (config: McpToolsConfig, index = 0) => mcpToolProvider(config, where(index)).open({ suite: 'notes', taskId: 't1', seed: 's' });
const call = (session: ToolSession, name: string, args: Record<string, unknown> = {}) => session.call({ id: name, name, args });

jest.setTimeout(20_000);
afterAll(() => closeSharedMcpConnections());

async function untilGone(pid: number, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return !isRunning(pid);
}

describe('MCP tools over stdio', () => {
  it('list the tools as ToolSpecs with their JSON Schemas (state tool hidden) and turn results and errors into tool results', async () => {
    const session = await open(notesStdio({ hidden: ['whoami', 'family', 'crash'], callTimeoutMs: 300 }));
    try {
      expect(session.specs.map((s) => s.name).sort()).toEqual(['add_note', 'chart', 'close_ticket', 'count_notes', 'increment', 'slow']);
      const addNote = session.specs.find((s) => s.name === 'add_note')!;
      expect(addNote.description).toBe('Adds a note.');
      expect(addNote.parameters).toEqual({ title: { type: 'string', description: 'The note title' }, body: { type: 'string', description: 'body', optional: true } });
      expect(addNote.inputSchema).toMatchObject({ type: 'object', required: ['title'], properties: { title: { type: 'string', minLength: 1 } } });
      // The schema the server sent is what argument validation then checks.
      expect(validateToolArgs(addNote, { title: '' }, false).ok).toBe(false);
      expect(validateToolArgs(addNote, { title: 'milk' }, false).ok).toBe(true);

      expect(await call(session, 'add_note', { title: 'milk' })).toEqual({ ok: true, output: 'saved note #1: milk' });
      expect(await call(session, 'count_notes')).toEqual({ ok: true, output: '{"count":1}' });
      expect(await call(session, 'chart')).toEqual({ ok: true, output: 'counter is 0\n[image image/png]' });
      expect(await call(session, 'close_ticket', { id: 'T-7' })).toEqual({ ok: false, output: 'ticket T-7 is locked by another agent', errorKind: 'precondition' });
      const badArgs = await call(session, 'add_note', { title: 42 });
      expect(badArgs).toMatchObject({ ok: false, errorKind: 'bad_arguments' });
      expect(badArgs.output).toMatch(/^Input validation error: Invalid arguments for tool add_note/);
      // The state tool exists on the server, but it is the verifier's: the model cannot call it.
      expect(await call(session, 'snapshot')).toMatchObject({ ok: false, errorKind: 'unknown_tool', output: expect.stringContaining('unknown tool "snapshot"') });
      expect(await call(session, 'nope')).toMatchObject({ ok: false, errorKind: 'unknown_tool' });
      const started = Date.now();
      expect(await call(session, 'slow', { ms: 5000 })).toEqual({ ok: false, output: 'slow did not finish within 300 ms (callTimeoutMs); the call was cancelled', errorKind: 'transient' });
      expect(Date.now() - started).toBeLessThan(2000);
      // The session survives a timed-out call.
      expect(await call(session, 'slow', { ms: 10 })).toEqual({ ok: true, output: 'waited 10 ms' });
      expect(await session.state()).toEqual({ notes: [{ title: 'milk', body: '' }], counter: 0 });
    } finally {
      await session.close();
    }
  });

  it('give each session its own server, so concurrent sessions never share state', async () => {
    const [a, b] = await Promise.all([open(notesStdio()), open(notesStdio())]);
    try {
      expect(await call(a, 'whoami')).not.toEqual(await call(b, 'whoami'));
      await Promise.all([call(a, 'add_note', { title: 'milk' }), call(b, 'increment', { by: 5 })]);
      expect(await call(a, 'add_note', { title: 'eggs' })).toEqual({ ok: true, output: 'saved note #2: eggs' });
      expect(await a.state()).toEqual({ notes: [{ title: 'milk', body: '' }, { title: 'eggs', body: '' }], counter: 0 });
      expect(await b.state()).toEqual({ notes: [], counter: 5 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('read the state from a resource (JSON-parsed, or text when not JSON), or give undefined when none is named', async () => {
    const [viaResource, asText, none, missing] = await Promise.all(
      [{ resource: 'notes://state' }, { resource: 'notes://readme' }, undefined, { resource: 'notes://nowhere' }].map((state) => open(notesStdio({ state }))),
    );
    try {
      await call(viaResource, 'increment', { by: 2 });
      expect(await viaResource.state()).toEqual({ notes: [], counter: 2 });
      expect(await asText.state()).toBe('notes fixture, not JSON');
      expect(await none.state()).toBeUndefined();
      // Without a state tool configured, snapshot is an ordinary tool.
      expect(none.specs.map((s) => s.name)).toContain('snapshot');
      await expect(missing.state()).rejects.toThrow(
        'harnessx.config.ts: suites.notes.tools[0] (mcp stdio `' + process.execPath + ' stdio-notes-server.mjs`): cannot read the state resource notes://nowhere: Resource notes://nowhere not found',
      );
    } finally {
      await Promise.all([viaResource, asText, none, missing].map((s) => s.close()));
    }
  });

  it('report a server that died, with its last stderr lines; leave no process behind on close', async () => {
    const [crashing, family] = await Promise.all([open(notesStdio()), open(notesStdio({}, { NOTES_GRANDCHILD: '1' }))]);
    try {
      const crash = await call(crashing, 'crash');
      expect(crash).toMatchObject({ ok: false, errorKind: 'transient' });
      expect(crash.output).toContain('has exited');
      const after = await call(crashing, 'increment');
      expect(after).toMatchObject({ ok: false, errorKind: 'transient' });
      expect(after.output).toContain('increment could not run: the MCP server (mcp stdio');
      expect(after.output).toContain('notes: fatal: the database file is corrupt');
      await expect(crashing.state()).rejects.toThrow('harnessx.config.ts: suites.notes.tools[0] (mcp stdio');
    } finally {
      await crashing.close();
    }
    // The helper ignores stdin and would outlive its server: close() must stop the whole tree.
    const { server, helper } = JSON.parse((await call(family, 'family')).output) as { server: number; helper: number };
    expect(isRunning(server) && isRunning(helper)).toBe(true);
    await family.close();
    await family.close();
    expect(await untilGone(server)).toBe(true);
    expect(await untilGone(helper)).toBe(true);
    expect(await call(family, 'increment')).toEqual({ ok: false, output: 'increment could not run: the tool session is closed', errorKind: 'transient' });
  });

  it('share one server among stateless sessions, which close() leaves running', async () => {
    const config = notesStdio({ stateless: true });
    const [a, b] = await Promise.all([open(config), open(config)]);
    const pid = Number((await call(a, 'whoami')).output);
    expect(Number((await call(b, 'whoami')).output)).toBe(pid);
    await call(a, 'increment', { by: 3 });
    expect(await b.state()).toEqual({ notes: [], counter: 3 });
    await a.close();
    expect(await call(b, 'increment')).toEqual({ ok: true, output: '4' });
    expect(await call(a, 'increment')).toMatchObject({ ok: false, output: expect.stringContaining('the tool session is closed') });
    // Another provider of the same config (a config loaded twice) shares it too.
    const c = await mcpToolProvider(config, where(3)).open({ suite: 'notes', taskId: 't2', seed: 's' });
    expect(Number((await call(c, 'whoami')).output)).toBe(pid);
    await Promise.all([b.close(), c.close()]);
    expect(isRunning(pid)).toBe(true);
    await closeSharedMcpConnections();
    expect(await untilGone(pid)).toBe(true);
  });
});

describe('MCP tools: pagination and JSON-RPC errors (low-level server)', () => {
  const raw = (mode: string, extra: Partial<McpToolsConfig> = {}): McpToolsConfig => ({ mcp: { command: 'node', args: ['raw-server.mjs'], env: { RAW_MODE: mode } }, ...extra });

  it('follow nextCursor through every page and map JSON-RPC error codes', async () => {
    const session = await open(raw('pages'));
    try {
      expect(session.specs.map((s) => s.name)).toEqual(['alpha', 'beta', 'gamma', 'delta', 'ghost']);
      expect(await call(session, 'alpha')).toEqual({ ok: true, output: 'alpha ran' });
      expect(await call(session, 'delta', { n: 'x' })).toEqual({ ok: false, output: 'delta failed: delta needs "n" to be an integer', errorKind: 'bad_arguments' });
      expect(await call(session, 'ghost')).toEqual({ ok: false, output: 'ghost failed: Tool ghost not found', errorKind: 'unknown_tool' });
      expect(await call(session, 'beta')).toEqual({ ok: false, output: 'beta failed: beta backend is down', errorKind: 'precondition' });
    } finally {
      await session.close();
    }
  });

  it('refuse a tool whose inputSchema is not valid JSON Schema, naming server, tool and problem', async () => {
    const [refused, hidden] = await Promise.allSettled([open(raw('bad-schema')), open(raw('bad-schema', { hidden: ['set_priority'] }))]);
    expect(refused.status === 'rejected' && (refused.reason as Error).message).toMatch(
      /^harnessx\.config\.ts: suites\.notes\.tools\[0\] \(mcp stdio `node raw-server\.mjs`\): tool "set_priority" has an inputSchema that is not valid JSON Schema: inputSchema\/properties\/level\/type must be equal to one of the allowed values/,
    );
    // Hidden, it is never sent to a model, so it is not judged.
    if (hidden.status !== 'fulfilled') throw hidden.reason;
    expect(hidden.value.specs.map((s) => s.name)).toEqual(['fine']);
    await hidden.value.close();
  });

  it('refuse a server without the tools capability, and hidden or state tools it does not list', async () => {
    await Promise.all([
      expect(open(raw('no-tools'))).rejects.toThrow(
        'harnessx.config.ts: suites.notes.tools[0] (mcp stdio `node raw-server.mjs`): the MCP server does not offer tools (its initialize result declares no "tools" capability; it offers: resources)',
      ),
      expect(open(raw('pages', { state: { tool: 'dump' } }))).rejects.toThrow('the state tool "dump" not listed by the server (it lists: alpha, beta, gamma, delta, ghost)'),
    ]);
  });
});

describe('tool input schemas', () => {
  it('are judged against the meta-schema of their own dialect (2020-12 when they name none)', () => {
    const ok = { type: 'object', properties: { id: { type: 'string', pattern: '^T-\\d+$' }, tags: { type: 'array', prefixItems: [{ type: 'string' }] } }, required: ['id'] };
    expect(schemaProblem(ok)).toBeUndefined();
    expect(schemaProblem({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', definitions: { id: { type: 'string' } }, properties: { id: { $ref: '#/definitions/id' } } })).toBeUndefined();
    expect(schemaProblem({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object', properties: { n: { type: 'number' } } })).toBeUndefined();
    expect(schemaProblem({ type: 'object', required: 'id' })).toBe('inputSchema/required must be array');
    expect(schemaProblem({ type: 'object', properties: { id: { $ref: '#/$defs/missing' } } })).toMatch(/can't resolve reference #\/\$defs\/missing/);
    expect(schemaProblem({ type: 'object', properties: { id: { type: 'string', pattern: '([' } } })).toMatch(/Invalid regular expression/);
    // Two servers may use the same $id for different schemas.
    expect(schemaProblem({ $id: 'https://example.com/args.json', type: 'object', properties: { a: { type: 'string' } } })).toBeUndefined();
    expect(schemaProblem({ $id: 'https://example.com/args.json', type: 'object', properties: { b: { type: 'number' } } })).toBeUndefined();
  });
});

describe('MCP servers that do not start', () => {
  it('name the config file, suite, tools[i] and command when the command does not exist', async () => {
    await expect(open({ mcp: { command: 'harnessx-no-such-mcp-server', args: ['--stdio'] } }, 2)).rejects.toThrow(
      'harnessx.config.ts: suites.notes.tools[2] (mcp stdio `harnessx-no-such-mcp-server --stdio`): the MCP server cannot start: the command "harnessx-no-such-mcp-server" was not found',
    );
    await expect(open({ mcp: { command: 'node', cwd: 'no-such-folder' } })).rejects.toThrow(`its cwd ${path.join(FIXTURES, 'no-such-folder')} does not exist`);
  });

  it('show the stderr of a server that exits at once', async () => {
    const error = await open({ mcp: { command: 'node', args: ['-e', 'console.error("fatal: NOTES_DB is not set"); process.exit(2)'] } }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^harnessx\.config\.ts: suites\.notes\.tools\[0\] \(mcp stdio `node -e .*`\): the MCP server exited before answering initialize; its stderr ended with:\n {4}fatal: NOTES_DB is not set$/);
  });

  it('give up on a server that never answers initialize after startTimeoutMs, and stop it', async () => {
    const marker = `harnessx-silent-${process.pid}-${Date.now()}`;
    const started = Date.now();
    const error = await open({ mcp: { command: 'node', args: ['-e', 'setInterval(() => {}, 1000)', marker] }, startTimeoutMs: 400 }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/: the MCP server did not answer initialize within 400 ms \(startTimeoutMs\)$/);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && safeRead(`/proc/${p}/cmdline`).includes(marker))).toEqual([]);
  });

  it('report a refused HTTP connection with the URL but without its token', async () => {
    const port = await freePort();
    await expect(open({ mcp: { url: `http://127.0.0.1:${port}/mcp?key=sk-secret`, headers: { authorization: 'Bearer sk-secret' } } })).rejects.toThrow(
      `harnessx.config.ts: suites.notes.tools[0] (mcp http http://127.0.0.1:${port}/mcp?…): could not connect to the MCP server: connection refused (nothing listens there), ECONNREFUSED`,
    );
  });

  it('check the config entry itself when the provider is made', () => {
    expect(() => mcpToolProvider({ mcp: { command: 'node', url: 'http://x' } } as never, where(1))).toThrow('harnessx.config.ts: suites.notes.tools[1]: mcp has both command and url');
    expect(() => mcpToolProvider({ mcp: { url: 'ftp://x/mcp' } }, where())).toThrow('tools[0]: mcp.url must be an http:// or https:// URL');
    expect(() => mcpToolProvider({ mcp: { command: 'node' }, state: { tool: 'x', resource: 'y' } as never }, where())).toThrow('tools[0]: state must be { resource: "uri" } or { tool: "name", args?: {…} }');
    expect(() => mcpToolProvider({ mcp: { command: 'node' }, startTimeoutMs: 0 }, where())).toThrow('tools[0]: startTimeoutMs must be a positive number of milliseconds');
    // Labels go into errors and traces: credentials passed as arguments or in a URL stay out of them.
    expect(mcpToolProvider({ mcp: { command: 'npx', args: ['tickets-mcp', '--api-key', 'sk-1', '--token=sk-2', '--port', '9'] } }, where()).label).toBe('mcp stdio `npx tickets-mcp --api-key … --token=… --port 9`');
    expect(mcpToolProvider({ mcp: { url: 'https://bot:pw@mcp.example.com/v1/mcp?key=sk-3' } }, where()).label).toBe('mcp http https://…@mcp.example.com/v1/mcp?…');
  });
});

describe('MCP tools over Streamable HTTP', () => {
  let server: Awaited<ReturnType<typeof startHttpNotesServer>>;
  beforeAll(async () => {
    server = await startHttpNotesServer({ token: 'test-token' });
  });
  afterAll(() => server.close());
  const http = (extra: Partial<McpToolsConfig> = {}): McpToolsConfig => ({ mcp: { url: server.url, headers: { Authorization: 'Bearer test-token' } }, state: { resource: 'notes://state' }, ...extra });

  it('open a new HTTP session per open(), with separate state, and DELETE it on close', async () => {
    const [a, b] = await Promise.all([open(http()), open(http())]);
    expect(server.opened).toHaveLength(2);
    await call(a, 'add_note', { title: 'vpn' });
    await call(b, 'increment');
    expect(await a.state()).toEqual({ notes: [{ title: 'vpn', body: '' }], counter: 0 });
    expect(await b.state()).toEqual({ notes: [], counter: 1 });
    expect(await call(a, 'close_ticket', { id: 'T-1' })).toEqual({ ok: false, output: 'ticket T-1 is locked by another agent', errorKind: 'precondition' });
    await a.close();
    await a.close();
    expect(server.deleted).toEqual([server.opened[0]]);
    await b.close();
    expect(server.deleted.sort()).toEqual([...server.opened].sort());
  });

  it('share one HTTP session among stateless sessions', async () => {
    const before = server.opened.length;
    const a = await open(http({ stateless: true }));
    const b = await open(http({ stateless: true }));
    await call(a, 'increment', { by: 7 });
    expect(await b.state()).toEqual({ notes: [], counter: 7 });
    expect(server.opened.length - before).toBe(1);
    await Promise.all([a.close(), b.close()]);
    await closeSharedMcpConnections();
    expect(server.deleted).toContain(server.opened[server.opened.length - 1]);
  });

  it('say what the server answered when it refuses the session, without the token', async () => {
    const error = await open(http({ mcp: { url: server.url, headers: { Authorization: 'Bearer wrong-secret' } } })).catch((e: Error) => e);
    expect((error as Error).message).toContain(`harnessx.config.ts: suites.notes.tools[0] (mcp http ${server.url}): the MCP server refused the session (HTTP 401): Streamable HTTP error: Error POSTing to endpoint: {"error":"unauthorized"}`);
    expect((error as Error).message).not.toContain('wrong-secret');
  });

  it('report calls to a server that went away', async () => {
    const own = await startHttpNotesServer();
    const session = await open({ mcp: { url: own.url } });
    await own.close();
    const result = await call(session, 'increment');
    expect(result).toMatchObject({ ok: false, errorKind: 'transient' });
    // Refused, or (when undici had kept the socket alive) closed under us: either way it says which server.
    expect(result.output).toMatch(new RegExp(`^increment could not reach the MCP server \\(mcp http ${own.url.replace(/[.?]/g, '\\$&')}\\): (connection refused|the server closed the connection)`));
    await session.close();
  });
});

describe('the npm package @modelcontextprotocol/server-memory through the provider', () => {
  it('creates entities and reads them back as the final state', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harnessx-memory-'));
    const memory = require.resolve('@modelcontextprotocol/server-memory/dist/index.js');
    const session = await open({ mcp: { command: 'node', args: [memory], env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') } }, state: { tool: 'read_graph' } });
    try {
      expect(session.specs.map((s) => s.name)).toEqual(expect.arrayContaining(['create_entities', 'create_relations', 'search_nodes']));
      expect(session.specs.map((s) => s.name)).not.toContain('read_graph');
      const created = await call(session, 'create_entities', {
        entities: [
          { name: 'Ada', entityType: 'customer', observations: ['reported VPN outage'] },
          { name: 'T-42', entityType: 'ticket', observations: ['priority high'] },
        ],
      });
      expect(created.ok).toBe(true);
      expect(await call(session, 'create_relations', { relations: [{ from: 'Ada', to: 'T-42', relationType: 'opened' }] })).toMatchObject({ ok: true });
      expect(await call(session, 'create_entities', { entities: 'Ada' })).toMatchObject({ ok: false, errorKind: 'bad_arguments' });
      const state = (await session.state()) as { entities: Array<{ name: string; observations: string[] }>; relations: unknown[] };
      expect(state.entities.map((e) => e.name).sort()).toEqual(['Ada', 'T-42']);
      expect(state.entities.find((e) => e.name === 'Ada')?.observations).toEqual(['reported VPN outage']);
      expect(state.relations).toEqual([{ from: 'Ada', to: 'T-42', relationType: 'opened' }]);
    } finally {
      await session.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

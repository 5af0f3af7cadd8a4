import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { closeSharedMcpConnections, mcpToolProvider } from '../../suites/mcp';
import { boundedFetch, MAX_MCP_RESPONSE_BYTES, requestIds } from '../../suites/mcp/bounded-fetch';
import type { ToolSession } from '../../suites/types';

/**
 * Issue 28: an MCP tool result over Streamable HTTP is bounded like one over stdio (10 MiB). A real SDK
 * server (McpServer + StreamableHTTPServerTransport, event-stream and JSON responses) answers `big` with as
 * many bytes as asked; past the limit the call is a tool error that says the result was too large, the
 * worker's memory does not grow with the answer, and the session keeps working.
 */
jest.setTimeout(30_000);
afterAll(() => closeSharedMcpConnections());

async function startServer(json: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const sessionId = req.headers['mcp-session-id'] as string | undefined;
    let transport = sessionId ? sessions.get(sessionId) : undefined;
    if (!transport && req.method === 'POST' && isInitializeRequest(body)) {
      const fresh: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: json,
        onsessioninitialized: (id) => void sessions.set(id, fresh),
      });
      const mcp = new McpServer({ name: 'big-fixture', version: '1.0.0' });
      mcp.registerTool('big', { description: 'Answers with `bytes` bytes of text.', inputSchema: { bytes: z.number().int() } }, async ({ bytes }) => ({
        content: [{ type: 'text', text: 'x'.repeat(bytes) }],
      }));
      await mcp.connect(fresh);
      transport = fresh;
    }
    if (!transport) {
      res.writeHead(404).end();
      return;
    }
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const where = { configFile: 'harnessx.config.ts', suite: 'big', index: 0, configDir: __dirname };
const call = (session: ToolSession, bytes: number) => session.call({ id: 'c', name: 'big', args: { bytes } });

describe.each([
  ['an event stream', false],
  ['a JSON body', true],
])('MCP over HTTP answering with %s', (_label, json) => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer(json);
  });
  afterAll(() => server.close());

  it('passes a result under the limit, refuses one over it as a tool error saying it was too large, and the session keeps working', async () => {
    const session = await mcpToolProvider({ mcp: { url: server.url } }, where).open({ suite: 'big', taskId: 't1', seed: 's' });
    try {
      const small = await call(session, 1000);
      expect(small).toEqual({ ok: true, output: 'x'.repeat(1000) });
      // Just under the limit once framed as JSON-RPC: accepted whole.
      const near = await call(session, MAX_MCP_RESPONSE_BYTES - 4096);
      expect(near.ok).toBe(true);
      expect(near.output).toHaveLength(MAX_MCP_RESPONSE_BYTES - 4096);

      const before = process.memoryUsage().rss;
      const big = await call(session, MAX_MCP_RESPONSE_BYTES + 1024 * 1024);
      expect(big.ok).toBe(false);
      expect(big.errorKind).toBe('precondition');
      expect(big.output).toBe(
        'big failed: the result was too large: the MCP server sent more than 10 MiB for this call, and results are limited to 10 MiB (ask the tool for less, e.g. one page or a filter)',
      );
      // The answer was not kept: far less than its 11 MiB (as a JS string, 22+ MiB) stayed behind.
      expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);

      const after = await call(session, 10);
      expect(after).toEqual({ ok: true, output: 'xxxxxxxxxx' });
    } finally {
      await session.close();
    }
  });
});

describe('boundedFetch', () => {
  it('reads the JSON-RPC request ids of a POST body (one message or a batch), none from notifications or junk', () => {
    expect(requestIds(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call' }))).toEqual([7]);
    expect(requestIds(JSON.stringify([{ jsonrpc: '2.0', id: 'a', method: 'x' }, { jsonrpc: '2.0', method: 'notifications/initialized' }]))).toEqual(['a']);
    expect(requestIds('{not json')).toEqual([]);
    expect(requestIds(undefined)).toEqual([]);
  });

  it('refuses a response that declares (content-length) or streams more than the limit, even when it lies about its length', async () => {
    const post = { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call' }) };
    const reply = (body: string, headers: Record<string, string>) => async () => new Response(body, { headers });
    const declared = await boundedFetch(100, reply('{}', { 'content-type': 'application/json', 'content-length': '5000' }))('http://x/mcp', post);
    expect(await declared.json()).toEqual({ jsonrpc: '2.0', id: 3, error: { code: -32090, message: expect.stringContaining('the result was too large') } });
    const lying = await boundedFetch(100, reply('y'.repeat(500), { 'content-type': 'application/json', 'content-length': '10' }))('http://x/mcp', post);
    expect(((await lying.json()) as { error: { message: string } }).error.message).toContain('more than 100 bytes');
    const fits = await boundedFetch(100, reply('{"ok":1}', { 'content-type': 'application/json' }))('http://x/mcp', post);
    expect(await fits.json()).toEqual({ ok: 1 });
    const stream = await boundedFetch(100, reply(`event: message\ndata: ${'z'.repeat(400)}\n\n`, { 'content-type': 'text/event-stream' }))('http://x/mcp', post);
    const text = await stream.text();
    expect(text).not.toContain('z'.repeat(101));
    expect(text).toContain('"id":3,"error":{"code":-32090');
  });
});

describe('MCP over stdio', () => {
  it('a result past the 10 MiB message limit is reported as too large, not as a server that exited', async () => {
    const script = [
      "const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');",
      "const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');",
      "const { z } = require('zod');",
      "const s = new McpServer({ name: 'big', version: '1.0.0' });",
      "s.registerTool('big', { inputSchema: { bytes: z.number().int() } }, async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }));",
      's.connect(new StdioServerTransport());',
    ].join('\n');
    const session = await mcpToolProvider({ mcp: { command: process.execPath, args: ['-e', script] } }, { ...where, configDir: process.cwd() }).open({ suite: 'big', taskId: 't1', seed: 's' });
    try {
      expect(await call(session, 100)).toEqual({ ok: true, output: 'x'.repeat(100) });
      const big = await call(session, MAX_MCP_RESPONSE_BYTES + 1024);
      expect(big.ok).toBe(false);
      expect(big.output).toMatch(/^big could not finish: the result was too large: the MCP server \(mcp stdio .*\) sent a message of more than 10 MiB, and messages are limited to 10 MiB; the session was closed$/s);
    } finally {
      await session.close();
    }
  });
});

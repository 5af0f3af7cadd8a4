import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WireReply {
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is (for malformed bodies). */
  body: unknown;
}
export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * A local HTTP server that speaks a provider's wire protocol, scripted per test: the real SDK clients talk
 * to it over HTTP. It fails loudly (500 with a message, and `unexpected` recorded) on unscripted calls.
 */
export async function startWireServer(reply: (req: RecordedRequest) => WireReply | undefined): Promise<{ url: string; requests: RecordedRequest[]; unexpected: string[]; close: () => Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const unexpected: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const recorded: RecordedRequest = { path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : {} };
    requests.push(recorded);
    const r = reply(recorded);
    if (!r) {
      unexpected.push(`${req.method} ${req.url}`);
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `unscripted call ${req.method} ${req.url}` } }));
      return;
    }
    res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
    res.end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, unexpected, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export const anthropicToolUse = (name: string, input: Record<string, unknown>) => ({
  id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-test',
  content: [{ type: 'text', text: 'Acting.' }, { type: 'tool_use', id: 'toolu_1', name, input }],
  stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 321, output_tokens: 12 },
});

export const openaiToolCall = (name: string, args: string) => ({
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-test',
  choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name, arguments: args } }] } }],
  usage: { prompt_tokens: 200, completion_tokens: 9, total_tokens: 209 },
});

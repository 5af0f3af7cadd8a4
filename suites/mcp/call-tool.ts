import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ToolCall, ToolResult } from '../../harness/types';
import type { McpOptions } from './check-config';
import { stripMcpPrefix } from './connect';
import { RESULT_TOO_LARGE } from './bounded-fetch';
import { describeNetworkError } from './connect-http';

type CallToolResult = ReturnType<typeof CallToolResultSchema.parse>;

/**
 * One tools/call as a ToolResult. Never throws: a tool error, a protocol error, a timeout or a dead server
 * all come back as { ok: false } with words the model (and the trace reader) can act on.
 */
export async function callTool(
  client: Client,
  call: ToolCall,
  options: McpOptions,
  session: { visible: Set<string>; lostReason(): string | undefined },
): Promise<ToolResult> {
  const gone = session.lostReason();
  if (gone) return { ok: false, output: `${call.name} could not run: ${gone}`, errorKind: 'transient' };
  // Checked here rather than by the server: hidden tools (the verifier's state tool) exist on the server.
  if (!session.visible.has(call.name))
    return { ok: false, output: `unknown tool "${call.name}"; tools: ${[...session.visible].join(', ')}`, errorKind: 'unknown_tool' };
  try {
    const result = await client.callTool({ name: call.name, arguments: call.args ?? {} }, CallToolResultSchema, { timeout: options.callTimeoutMs });
    return fromCallResult(call.name, result as CallToolResult);
  } catch (error) {
    return fromCallError(call.name, error, options, session.lostReason());
  }
}

/** A tools/call result as text: text parts joined, other content named, structured content when there is no text. */
export function fromCallResult(name: string, result: CallToolResult): ToolResult {
  const content = Array.isArray(result.content) ? result.content : [];
  const parts = content.map(describeContent);
  const hasText = content.some((c) => c.type === 'text' || (c.type === 'resource' && 'text' in c.resource));
  if (!hasText && result.structuredContent !== undefined) parts.unshift(JSON.stringify(result.structuredContent));
  const output = parts.join('\n');
  if (result.isError) {
    const message = output || `${name} reported an error without a message`;
    // The SDK's McpServer turns its own protocol errors (unknown tool, arguments that fail the schema) into
    // isError results that keep the JSON-RPC code in the text; those are the caller's mistakes, not the tool's.
    const protocol = /^MCP error (-?\d+): ([\s\S]*)$/.exec(message);
    if (protocol) return { ok: false, output: protocol[2], errorKind: kindOfProtocolError(Number(protocol[1]), protocol[2]) };
    return { ok: false, output: message, errorKind: 'precondition' };
  }
  return { ok: true, output: output || 'ok' };
}

function describeContent(c: CallToolResult['content'][number]): string {
  switch (c.type) {
    case 'text':
      return c.text;
    case 'image':
      return `[image ${c.mimeType}]`;
    case 'audio':
      return `[audio ${c.mimeType}]`;
    case 'resource_link':
      return `[resource ${c.uri}${c.name ? ` "${c.name}"` : ''}${c.mimeType ? ` ${c.mimeType}` : ''}]`;
    case 'resource':
      return 'text' in c.resource ? c.resource.text : `[resource ${c.resource.uri}${c.resource.mimeType ? ` ${c.resource.mimeType}` : ''}]`;
    default:
      return `[${(c as { type: string }).type} content]`;
  }
}

function fromCallError(name: string, error: unknown, options: McpOptions, lost: string | undefined): ToolResult {
  if (error instanceof McpError) {
    const words = stripMcpPrefix(error.message);
    if (error.code === ErrorCode.RequestTimeout)
      return { ok: false, output: `${name} did not finish within ${options.callTimeoutMs} ms (callTimeoutMs); the call was cancelled`, errorKind: 'transient' };
    if (error.code === ErrorCode.ConnectionClosed)
      return { ok: false, output: `${name} could not finish: ${lost ?? `the MCP server (${options.label}) closed the connection`}`, errorKind: 'transient' };
    // Our own reply to a response past the byte limit (bounded-fetch.ts): the tool ran, its answer was dropped.
    if (error.code === RESULT_TOO_LARGE) return { ok: false, output: `${name} failed: ${words}`, errorKind: 'precondition' };
    return { ok: false, output: `${name} failed: ${words}`, errorKind: kindOfProtocolError(error.code, words) };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (lost) return { ok: false, output: `${name} could not run: ${lost}`, errorKind: 'transient' };
  const network = describeNetworkError(error);
  if (network) return { ok: false, output: `${name} could not reach the MCP server (${options.label}): ${network}`, errorKind: 'transient' };
  if (/not connected/i.test(message)) return { ok: false, output: `${name} could not run: the MCP server (${options.label}) is not connected`, errorKind: 'transient' };
  // The SDK's StreamableHTTPError keeps the HTTP status (404: the server forgot the session) in .code only.
  const code = (error as { code?: unknown })?.code;
  const status = typeof code === 'number' && code >= 100 && code < 600 ? ` (HTTP ${code})` : '';
  return { ok: false, output: `${name} failed${status}: ${message}`, errorKind: 'transient' };
}

/** JSON-RPC codes of a failed tools/call: invalid params is the caller's arguments, unless the tool itself is unknown. */
function kindOfProtocolError(code: number, words: string): ToolResult['errorKind'] {
  if (code === ErrorCode.InvalidParams) return /\b(tool\b.*\bnot found|unknown tool)/i.test(words) ? 'unknown_tool' : 'bad_arguments';
  if (code === ErrorCode.MethodNotFound) return 'unknown_tool';
  if (code === ErrorCode.RequestTimeout || code === ErrorCode.ConnectionClosed) return 'transient';
  return 'precondition';
}

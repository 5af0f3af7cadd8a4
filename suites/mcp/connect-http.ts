import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { boundedFetch, MAX_MCP_RESPONSE_BYTES } from './bounded-fetch';

/**
 * A Streamable HTTP transport for one session. Headers (API keys, bearer tokens) go on every request and
 * nowhere else: never into labels, errors or traces. Each response is bounded like a stdio message (see
 * bounded-fetch.ts): a larger tool result fails that call with "the result was too large".
 */
export function httpTransport(url: URL, headers: Record<string, string>, maxResponseBytes = MAX_MCP_RESPONSE_BYTES): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: boundedFetch(maxResponseBytes) });
}

/** Ends the server-side session (HTTP DELETE with its session id) before dropping the connection. */
export async function endHttpSession(transport: StreamableHTTPClientTransport): Promise<void> {
  try {
    await transport.terminateSession();
  } catch {
    // A server that is already gone has no session left to end; closing must still succeed.
  }
}

/** Why a request to an HTTP server failed at the network level, in words ("connection refused"). */
export function describeNetworkError(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (error as { code?: string })?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listens there)',
    ENOTFOUND: 'host not found',
    ECONNRESET: 'connection reset by the server',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    // undici's word for a kept-alive socket the server closed: the server stopped or restarted.
    UND_ERR_SOCKET: 'the server closed the connection',
  };
  if (code && words[code]) return `${words[code]}, ${code}`;
  if (cause?.message) return cause.message;
  return undefined;
}

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { McpOptions } from './check-config';
import { describeNetworkError, endHttpSession, httpTransport } from './connect-http';
import { checkStdioCwd, TrackedStdioTransport } from './connect-stdio';

/** One live MCP connection: a stdio server process or an HTTP session. */
export interface McpConnection {
  readonly client: Client;
  /** Why the connection is gone (the server exited, the HTTP stream closed), or undefined while it is up. */
  lostReason(): string | undefined;
  /** Stops the server process tree or deletes the HTTP session. Safe to call twice. */
  close(): Promise<void>;
  /** The stdio server's pid (tests check that none outlives close()); null for HTTP. */
  readonly pid: number | null;
}

const CLIENT_INFO = { name: 'harnessx', version: '0.1.0' };

/**
 * Starts a server (or opens an HTTP session), runs the MCP handshake within startTimeoutMs, and checks that
 * the server offers tools. Every failure is one Error naming the config file, suite, tools[i] and the
 * command or URL, with the server's stderr tail when it wrote one.
 */
export async function connectMcp(options: McpOptions): Promise<McpConnection> {
  const { server, where, startTimeoutMs } = options;
  const fail = (what: string): Error => new Error(`${where}: ${what}`);

  let transport: Transport;
  let stdio: TrackedStdioTransport | undefined;
  if (server.transport === 'stdio') {
    const cwdProblem = checkStdioCwd(server.cwd);
    if (cwdProblem) throw fail(`the MCP server cannot start: ${cwdProblem}`);
    stdio = new TrackedStdioTransport({ command: server.command, args: server.args, env: server.env, cwd: server.cwd });
    transport = stdio;
  } else {
    transport = httpTransport(server.url, server.headers);
  }

  const client = new Client(CLIENT_INFO, { capabilities: {} });
  let lost: string | undefined;
  client.onclose = () => {
    if (stdio?.oversized) lost ??= `the result was too large: the MCP server (${options.label}) sent a message of more than 10 MiB, and messages are limited to 10 MiB; the session was closed`;
    lost ??= stdio ? `the MCP server (${options.label}) has exited${stdio.stderrTail.describe(6)}` : `the connection to the MCP server (${options.label}) has closed`;
  };
  // The SDK reports stray protocol errors here; without a handler they would be dropped silently anyway,
  // and printing them would spill onto the CLI's output. They surface through the failing request instead.
  client.onerror = () => {};

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      lost ??= 'the tool session is closed';
      if (server.transport === 'http') await endHttpSession(transport as ReturnType<typeof httpTransport>);
      await client.close().catch(() => {});
      // client.close() closes the transport; closing it again waits for the same (idempotent) process stop.
      await transport.close().catch(() => {});
    })());

  try {
    await client.connect(transport, { timeout: startTimeoutMs });
  } catch (error) {
    await close();
    throw fail(await describeStartFailure(error, options, stdio));
  }
  const capabilities = client.getServerCapabilities() ?? {};
  if (!capabilities.tools) {
    await close();
    const offered = Object.keys(capabilities).filter((k) => k !== 'experimental');
    throw fail(`the MCP server does not offer tools (its initialize result declares no "tools" capability; it offers: ${offered.join(', ') || 'nothing'})`);
  }
  return { client, lostReason: () => lost, close, pid: stdio?.serverPid ?? null };
}

async function describeStartFailure(error: unknown, options: McpOptions, stdio: TrackedStdioTransport | undefined): Promise<string> {
  const { server, startTimeoutMs } = options;
  // An exited process's last stderr lines may still be in flight when the SDK reports the close.
  if (stdio) await stdio.stderrTail.settled(500);
  const stderr = stdio ? stdio.stderrTail.describe() : '';
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (server.transport === 'stdio') {
    if (code === 'ENOENT') return `the MCP server cannot start: the command "${server.command}" was not found (not on PATH and not a file relative to ${server.cwd})`;
    if (code === 'EACCES') return `the MCP server cannot start: the command "${server.command}" is not executable`;
    if (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) return `the MCP server exited before answering initialize${stderr || ' (it wrote nothing to stderr)'}`;
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) return `the MCP server did not answer initialize within ${startTimeoutMs} ms (startTimeoutMs)${stderr}`;
    return `the MCP server failed to start: ${stripMcpPrefix(message)}${stderr}`;
  }
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) return `the MCP server did not answer initialize within ${startTimeoutMs} ms (startTimeoutMs)`;
  const network = describeNetworkError(error);
  if (network) return `could not connect to the MCP server: ${network}`;
  // The SDK's StreamableHTTPError keeps the HTTP status in .code but not in its message.
  const status = typeof code === 'number' && code >= 100 && code < 600 ? ` (HTTP ${code})` : '';
  return `the MCP server refused the session${status}: ${stripMcpPrefix(message)}`;
}

/**
 * McpError messages read "MCP error -32602: …" (twice over when a server's McpError is re-raised by the
 * client); the code is kept apart, the words are for people.
 */
export function stripMcpPrefix(message: string): string {
  return message.replace(/^(MCP error -?\d+: )+/, '');
}

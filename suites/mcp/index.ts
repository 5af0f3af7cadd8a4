import type { ToolCall, ToolResult } from '../../harness/types';
import type { McpToolsConfig, ToolProvider, ToolSession } from '../types';
import { checkMcpConfig, type McpOptions } from './check-config';
import { callTool } from './call-tool';
import { connectMcp, type McpConnection } from './connect';
import { forEpisode } from './episode-placeholders';
import { listTools, type ListedTools } from './list-tools';
import { readState } from './read-state';

/**
 * Tools from one MCP server (stdio command or Streamable HTTP URL) through the official SDK client. Each
 * open() starts a fresh server process or HTTP session. A fresh process is not fresh state for a server that
 * writes to disk: its settings give each episode its own folder or file through placeholders
 * (episode-placeholders.ts), which the session removes when it closes. With
 * `stateless: true` one connection, opened on first use, serves every session of this process (close it
 * at exit with closeSharedMcpConnections()).
 *
 * The config is checked now, so a malformed entry fails when the config loads; the server is first
 * contacted by open().
 */
export function mcpToolProvider(config: McpToolsConfig, where: { configFile: string; suite: string; index: number; configDir: string }): ToolProvider {
  const options = checkMcpConfig(config, where);
  return {
    label: options.label,
    startsProcessPerEpisode: options.server.transport === 'stdio' && !options.stateless,
    async open(context) {
      if (options.stateless) {
        const shared = await sharedConnection(options);
        return session(options, shared.connection, shared.tools, { ownsConnection: false, teardown: async () => undefined });
      }
      // Placeholders ({episodeDir}, {taskId}, {episodeId}) filled for this episode; its folder goes with the session.
      const episode = await forEpisode(options.server, context, options.setup).catch((e: Error) => {
        throw new Error(`${options.where}: ${e.message}`);
      });
      try {
        const { connection, tools } = await startConnection({ ...options, server: episode.server });
        return session(options, connection, tools, { ownsConnection: true, teardown: episode.teardown });
      } catch (e) {
        await episode.teardown();
        throw e;
      }
    },
  };
}

/** Closes every connection that stateless providers share; call once when the worker or CLI shuts down. */
export async function closeSharedMcpConnections(): Promise<void> {
  const pending = [...sharedConnections.values()];
  sharedConnections.clear();
  await Promise.all(pending.map((p) => p.then((s) => s.connection.close()).catch(() => {})));
}

interface Started {
  connection: McpConnection;
  tools: ListedTools;
}

async function startConnection(options: McpOptions): Promise<Started> {
  const connection = await connectMcp(options);
  try {
    return { connection, tools: await listTools(connection.client, options) };
  } catch (e) {
    await connection.close();
    throw e;
  }
}

/**
 * Shared by the same server config (command, args, env, cwd or URL, headers) with the same hidden and
 * state tools, so a config loaded twice in one worker still starts the server once.
 */
const sharedConnections = new Map<string, Promise<Started>>();

async function sharedConnection(options: McpOptions): Promise<Started> {
  const key = JSON.stringify({ server: options.server, hidden: [...options.hidden].sort(), state: options.state });
  let pending = sharedConnections.get(key);
  if (pending) {
    const started = await pending.catch(() => undefined);
    // A shared server that died (or failed to start) is started again by the next episode, not mourned forever.
    if (started && !started.connection.lostReason()) return started;
    void started?.connection.close();
    if (sharedConnections.get(key) === pending) sharedConnections.delete(key);
    pending = undefined;
  }
  pending = sharedConnections.get(key) ?? startConnection(options);
  sharedConnections.set(key, pending);
  try {
    return await pending;
  } catch (e) {
    if (sharedConnections.get(key) === pending) sharedConnections.delete(key);
    throw e;
  }
}

function session(options: McpOptions, connection: McpConnection, tools: ListedTools, how: { ownsConnection: boolean; teardown: () => Promise<void> }): ToolSession {
  const visible = new Set(tools.specs.map((s) => s.name));
  let closed = false;
  const lostReason = (): string | undefined => (closed ? 'the tool session is closed' : connection.lostReason());
  return {
    specs: tools.specs,
    call(call: ToolCall): Promise<ToolResult> {
      return callTool(connection.client, call, options, { visible, lostReason });
    },
    state(): Promise<unknown> {
      return readState(connection.client, options, lostReason);
    },
    async close(): Promise<void> {
      closed = true;
      // The server first (it may still be writing to the episode's folder), then what the episode created.
      try {
        if (how.ownsConnection) await connection.close();
      } finally {
        await how.teardown();
      }
    },
  };
}

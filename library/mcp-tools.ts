import { mcpToolProvider } from '../suites/mcp';
import type { McpToolsConfig, ToolProvider } from '../suites/types';

/**
 * Tools from an MCP server for createAgent, as a suite's config declares them: `mcpTools({ mcp: { command:
 * 'node', args: ['server.mjs'] } })` or `mcpTools({ mcp: { url: 'http://localhost:3000/mcp' } })`. Each run
 * gets its own server process or HTTP session unless `stateless` is set. A stdio server's relative `cwd`
 * is resolved against `options.dir` (default: the process's working directory); `options.name` names the
 * tools in errors.
 */
export function mcpTools(config: McpToolsConfig, options: { name?: string; dir?: string } = {}): ToolProvider {
  return mcpToolProvider(config, { configFile: 'mcpTools', suite: options.name ?? 'agent', index: 0, configDir: options.dir ?? process.cwd() });
}

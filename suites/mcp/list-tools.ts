import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ToolSpec } from '../../harness/types';
import { toolSpecFromJsonSchema } from '../tool-spec';
import type { McpOptions } from './check-config';
import { schemaProblem } from './check-schema';
import { stripMcpPrefix } from './connect';

/** What providers accept as a tool name (OpenAI's rule, the strictest); MCP itself also allows "." and "/". */
const MODEL_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** A server whose cursors never end would otherwise keep us listing forever. */
const MAX_PAGES = 100;

/**
 * Pages are fetched with a permissive result schema and each tool is then checked on its own with the SDK's
 * ToolSchema, so one malformed tool is reported by name instead of as a parse error of the whole page.
 */
const PageSchema = z.looseObject({ tools: z.array(z.unknown()), nextCursor: z.string().optional() });

export interface ListedTools {
  /** What the model sees: every tool but the hidden ones and the state tool. */
  specs: ToolSpec[];
  /** Every tool name the server lists, hidden ones included. */
  all: Set<string>;
}

/** tools/list, every page, as ToolSpecs; throws one clear error naming the server and the tool at fault. */
export async function listTools(client: Client, options: McpOptions): Promise<ListedTools> {
  const { where, hidden, startTimeoutMs } = options;
  const raw: unknown[] = [];
  const cursors = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; ; page++) {
    if (page >= MAX_PAGES) throw new Error(`${where}: tools/list still had a nextCursor after ${MAX_PAGES} pages`);
    let result: z.infer<typeof PageSchema>;
    try {
      result = await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, PageSchema, { timeout: startTimeoutMs });
    } catch (e) {
      throw new Error(`${where}: tools/list failed${page ? ` on page ${page + 1}` : ''}: ${stripMcpPrefix(e instanceof Error ? e.message : String(e))}`);
    }
    raw.push(...result.tools);
    cursor = result.nextCursor;
    if (cursor === undefined) break;
    if (cursors.has(cursor)) throw new Error(`${where}: tools/list returned the cursor "${cursor}" twice; the server's pagination loops`);
    cursors.add(cursor);
  }

  const specs: ToolSpec[] = [];
  const all = new Set<string>();
  raw.forEach((entry, i) => {
    const name = typeof (entry as { name?: unknown })?.name === 'string' ? (entry as { name: string }).name : undefined;
    const at = `${where}: tool ${name ? `"${name}"` : `#${i + 1} of tools/list`}`;
    const parsed = ToolSchema.safeParse(entry);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(tool)'}: ${issue.message}`).join('; ');
      throw new Error(`${at} is not a valid MCP tool definition: ${problems}`);
    }
    const tool = parsed.data;
    if (all.has(tool.name)) throw new Error(`${at} is listed twice`);
    all.add(tool.name);
    if (hidden.has(tool.name)) return;
    if (!MODEL_TOOL_NAME.test(tool.name))
      throw new Error(`${at}: model providers accept only tool names of 1–64 letters, digits, "_" or "-"; add it to hidden if the model does not need it`);
    const schema = tool.inputSchema as Record<string, unknown>;
    const problem = schemaProblem(schema);
    if (problem) throw new Error(`${at} has an inputSchema that is not valid JSON Schema: ${problem}`);
    specs.push(toolSpecFromJsonSchema(tool.name, tool.description ?? tool.annotations?.title ?? tool.title ?? tool.name, schema));
  });

  const missing = [...hidden].filter((h) => !all.has(h));
  if (missing.length) {
    const field = options.state && 'tool' in options.state && missing.includes(options.state.tool) ? `the state tool "${options.state.tool}"` : `hidden tool(s) ${missing.map((m) => `"${m}"`).join(', ')}`;
    throw new Error(`${where}: ${field} not listed by the server (it lists: ${[...all].join(', ') || 'no tools'})`);
  }
  return { specs, all };
}

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { McpOptions } from './check-config';
import { stripMcpPrefix } from './connect';

/**
 * The tools' final state for the verifier: a resource read or a call of the hidden state tool, JSON-parsed
 * when it is JSON. undefined when the suite names no state. Throws a clear error when the state cannot be
 * read, because a verifier judging a missing state would score the episode on nothing.
 */
export async function readState(client: Client, options: McpOptions, lostReason: () => string | undefined): Promise<unknown> {
  const { state, where, callTimeoutMs } = options;
  if (!state) return undefined;
  const gone = lostReason();
  const what = 'resource' in state ? `the state resource ${state.resource}` : `the state tool "${state.tool}"`;
  if (gone) throw new Error(`${where}: cannot read ${what}: ${gone}`);
  try {
    if ('resource' in state) {
      const result = await client.readResource({ uri: state.resource }, { timeout: callTimeoutMs });
      const values = result.contents.map((c) => ('text' in c ? parseMaybeJson(c.text) : { uri: c.uri, mimeType: c.mimeType, blob: c.blob }));
      return values.length === 1 ? values[0] : values;
    }
    const result = await client.callTool({ name: state.tool, arguments: state.args }, CallToolResultSchema, { timeout: callTimeoutMs });
    const texts = (result.content as Array<{ type: string; text?: string }>).filter((c) => c.type === 'text').map((c) => c.text ?? '');
    if (result.isError) throw new Error(`it reported an error: ${texts.join('\n') || '(no message)'}`);
    if (result.structuredContent !== undefined) return result.structuredContent;
    return parseMaybeJson(texts.join('\n'));
  } catch (e) {
    const message = stripMcpPrefix(e instanceof Error ? e.message : String(e));
    throw new Error(`${where}: cannot read ${what}: ${lostReason() ?? message}`);
  }
}

function parseMaybeJson(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed) return text;
  try {
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
}

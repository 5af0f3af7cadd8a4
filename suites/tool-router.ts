import type { ToolCall, ToolResult, ToolSpec } from '../harness/types';
import type { ToolSession } from './types';

/**
 * Several tool sessions as one set of tools: the model sees every session's specs, and a call goes to the
 * session that offers its tool. Names must be unique across sessions — `clash` words the error for the
 * caller (a suite, an agent). Shared by a suite's episodes and createAgent's runs.
 */
export class ToolRouter {
  readonly specs: ToolSpec[] = [];
  private readonly owners = new Map<string, { label: string; session: ToolSession }>();

  constructor(sessions: ReadonlyArray<{ label: string; session: ToolSession }>, clash: (tool: string, first: string, second: string) => string) {
    for (const entry of sessions) {
      for (const spec of entry.session.specs) {
        const other = this.owners.get(spec.name);
        if (other) throw new Error(clash(spec.name, other.label, entry.label));
        this.owners.set(spec.name, entry);
        this.specs.push(spec);
      }
    }
  }

  /** The session offering `name`, with its provider's label; undefined for a tool no session offers. */
  ownerOf(name: string): { label: string; session: ToolSession } | undefined {
    return this.owners.get(name);
  }

  /** What the model is told when it calls a tool no session offers. */
  unknownTool(call: ToolCall): ToolResult {
    return { ok: false, output: `unknown tool "${call.name}"; tools: ${[...this.owners.keys()].join(', ') || 'none'}`, errorKind: 'unknown_tool' };
  }
}

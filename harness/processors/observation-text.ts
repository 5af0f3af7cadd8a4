import type { Message } from '../types';

/** Environments end each observation with "Current state: …"; memory and control processors key on it. */
export const STATE_MARKER = 'Current state:';

export function stateOf(text: string): string | null {
  const at = text.lastIndexOf(STATE_MARKER);
  if (at === -1) return null;
  return text
    .slice(at + STATE_MARKER.length)
    .replace(/^\s*-\s*/gm, '')
    .split(/[\n,.]+|\band\b/)
    .map((s) => s.trim())
    .filter(Boolean)
    .sort()
    .join('; ');
}

export interface ActionRecord {
  id: string;
  name: string;
  args: Record<string, unknown>;
  ok: boolean;
  output: string;
}

/** The tool calls in a history paired with their results, oldest first. */
export function actionsIn(history: Message[]): ActionRecord[] {
  const results = new Map<string, Message>();
  for (const m of history) if (m.role === 'tool' && m.toolCallId) results.set(m.toolCallId, m);
  const out: ActionRecord[] = [];
  for (const m of history) {
    if (m.role !== 'assistant') continue;
    for (const call of m.toolCalls ?? []) {
      const result = results.get(call.id);
      if (result) out.push({ id: call.id, name: call.name, args: call.args, ok: !result.isError, output: result.content });
    }
  }
  return out;
}

export function describeCall(name: string, args: Record<string, unknown>): string {
  return `${name}(${Object.entries(args)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ')})`;
}

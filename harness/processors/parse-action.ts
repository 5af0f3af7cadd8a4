import type { ToolCall, ToolSpec } from '../types';

/**
 * Reads one action out of free text, given the tools: `name(k=v, …)`, `name {json}`, or one of a tool's
 * natural-language phrases. Returns null when nothing matches; never guesses a tool that is not listed.
 */
export function parseActionText(text: string, tools: ToolSpec[], id: string): ToolCall | null {
  for (const tool of tools) {
    const fn = new RegExp(`\\b${escape(tool.name)}\\s*\\(([^)]*)\\)`, 'i').exec(text);
    if (fn) return { id, name: tool.name, args: parseKeyValues(fn[1], Object.keys(tool.parameters)) };
    const json = new RegExp(`\\b${escape(tool.name)}\\s*(\\{[^}]*\\})`, 'i').exec(text);
    if (json) {
      const args = safeJsonObject(json[1]);
      if (args) return { id, name: tool.name, args };
    }
  }
  let best: { call: ToolCall; index: number } | null = null;
  for (const tool of tools) {
    for (const phrase of tool.phrases ?? []) {
      const names: string[] = [];
      const pattern = escape(phrase).replace(/\\\{(\w+)\\\}/g, (_m, name: string) => {
        names.push(name);
        return '([\\w-]+)';
      });
      const match = new RegExp(pattern, 'i').exec(text);
      if (match && (!best || match.index < best.index)) {
        const args = Object.fromEntries(names.map((n, i) => [n, match[i + 1].toLowerCase()]));
        best = { call: { id, name: tool.name, args }, index: match.index };
      }
    }
  }
  return best?.call ?? null;
}

function parseKeyValues(body: string, positional: string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  body
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .forEach((piece, i) => {
      const kv = /^(\w+)\s*[=:]\s*(.+)$/.exec(piece);
      const clean = (v: string) => v.trim().replace(/^["']|["']$/g, '');
      if (kv) args[kv[1]] = clean(kv[2]);
      else if (positional[i]) args[positional[i]] = clean(piece);
    });
  return args;
}

function safeJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

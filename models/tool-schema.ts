import type { ToolSpec } from '../harness/types';

/** A tool's parameters as JSON Schema, the shape both wire protocols take. */
export function toJsonSchema(tool: ToolSpec): Record<string, unknown> & { type: 'object' } {
  if (tool.inputSchema) return { ...tool.inputSchema, type: 'object' };
  const properties = Object.fromEntries(
    Object.entries(tool.parameters).map(([name, p]) => [name, { type: p.type, description: p.description, ...(p.type === 'array' ? { items: { type: 'string' } } : {}), ...(p.enum ? { enum: p.enum } : {}) }]),
  );
  return { type: 'object' as const, properties, required: Object.entries(tool.parameters).filter(([, p]) => !p.optional).map(([name]) => name), additionalProperties: false };
}

/** Context parts become one final user text, so providers without structured parts still see them. */
export function renderParts(parts: Array<{ kind: string; text: string }>): string | null {
  if (!parts.length) return null;
  return parts.map((p) => `<context kind="${p.kind}">\n${p.text}\n</context>`).join('\n');
}

import type { ToolParameter, ToolSpec } from '../harness/types';

const JSON_TYPES = new Set<ToolParameter['type']>(['string', 'array', 'number', 'integer', 'boolean', 'object']);

/**
 * A user tool (MCP tools/list entry, zod-typed function) as the model and the processors see it: the JSON
 * Schema is kept whole for providers and validation; its top-level properties become `parameters` so the
 * tool-docs and argument-repair processors work on user tools as on built-in ones.
 */
export function toolSpecFromJsonSchema(name: string, description: string, schema: Record<string, unknown>): ToolSpec {
  const properties = (isObject(schema.properties) ? schema.properties : {}) as Record<string, unknown>;
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
  const parameters: Record<string, ToolParameter> = {};
  for (const [key, raw] of Object.entries(properties)) {
    const p = isObject(raw) ? raw : {};
    const declared = Array.isArray(p.type) ? p.type.find((t) => t !== 'null') : p.type;
    const type = JSON_TYPES.has(declared as ToolParameter['type']) ? (declared as ToolParameter['type']) : 'string';
    const enumValues = Array.isArray(p.enum) && p.enum.every((v) => typeof v === 'string') ? (p.enum as string[]) : undefined;
    parameters[key] = {
      type,
      description: typeof p.description === 'string' ? p.description : typeof p.title === 'string' ? p.title : key,
      ...(enumValues ? { enum: enumValues } : {}),
      ...(required.has(key) ? {} : { optional: true }),
    };
  }
  return { name, description, parameters, inputSchema: { ...schema, type: 'object' } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

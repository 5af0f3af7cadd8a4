import { z } from 'zod';
import type { ToolCall, ToolResult, ToolSpec } from '../harness/types';
import { toolSpecFromJsonSchema } from './tool-spec';
import type { FunctionToolConfig, SuiteTask, ToolProvider, ToolSession } from './types';

/** A function tool with its types checked: `functionTool({ name, description, parameters: z.object({…}), execute })`. */
export function functionTool<Shape extends z.ZodRawShape, State = unknown>(tool: {
  name: string;
  description: string;
  parameters: z.ZodObject<Shape>;
  execute(args: z.infer<z.ZodObject<Shape>>, context: { state: State; taskId: string }): unknown | Promise<unknown>;
}): FunctionToolConfig<State> {
  return tool as FunctionToolConfig<State>;
}

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks a set of function tools once, at load: names, duplicates, and that each schema is a zod object. */
export function checkFunctionTools(tools: FunctionToolConfig[], where: string): Array<{ tool: FunctionToolConfig; spec: ToolSpec; schema: z.ZodType }> {
  const seen = new Set<string>();
  return tools.map((tool, i) => {
    const at = `${where}: tools[${i}]${typeof tool?.name === 'string' ? ` ("${tool.name}")` : ''}`;
    if (typeof tool?.name !== 'string' || !TOOL_NAME.test(tool.name)) throw new Error(`${at}: name must be 1–64 letters, digits, "_" or "-"`);
    if (seen.has(tool.name)) throw new Error(`${at}: a second tool named "${tool.name}"`);
    seen.add(tool.name);
    if (typeof tool.description !== 'string' || !tool.description.trim()) throw new Error(`${at}: description must be a non-empty string`);
    if (typeof tool.execute !== 'function') throw new Error(`${at}: execute must be a function`);
    if (!(tool.parameters instanceof z.ZodObject)) throw new Error(`${at}: parameters must be a zod object schema, e.g. z.object({ id: z.string() })`);
    let json: Record<string, unknown>;
    try {
      json = z.toJSONSchema(tool.parameters, { io: 'input' }) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${at}: parameters cannot be expressed as JSON Schema: ${(e as Error).message}`);
    }
    delete json.$schema;
    return { tool, spec: toolSpecFromJsonSchema(tool.name, tool.description, json), schema: tool.parameters };
  });
}

/** Whatever a tool function returns, as the text the model reads. */
function asOutput(value: unknown): string {
  if (value === undefined || value === null) return 'ok';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Plain TypeScript tools. Each session gets a fresh state from `initialState(task)` (or an empty object);
 * tools mutate it, and the verifier reads it as the final tool state. A thrown error or arguments that do
 * not match the schema come back to the model as a tool error, never as a crash.
 */
export function functionToolProvider(tools: FunctionToolConfig[], options: { where: string; initialState?: (task: SuiteTask) => unknown; task?: (taskId: string) => SuiteTask }): ToolProvider {
  const checked = checkFunctionTools(tools, options.where);
  const specs = checked.map((c) => c.spec);
  const byName = new Map(checked.map((c) => [c.tool.name, c]));
  return {
    label: 'functions',
    async open({ taskId }) {
      const task = options.task?.(taskId) ?? { id: taskId, instruction: '' };
      const state = options.initialState ? options.initialState(structuredClone(task)) : {};
      let closed = false;
      const session: ToolSession = {
        specs,
        async call(call: ToolCall): Promise<ToolResult> {
          if (closed) return { ok: false, output: 'the tool session is closed', errorKind: 'transient' };
          const entry = byName.get(call.name);
          if (!entry) return { ok: false, output: `unknown tool "${call.name}"; tools: ${[...byName.keys()].join(', ')}`, errorKind: 'unknown_tool' };
          const parsed = entry.schema.safeParse(call.args ?? {});
          if (!parsed.success) return { ok: false, output: `bad arguments for ${call.name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message}`).join('; ')}`, errorKind: 'bad_arguments' };
          try {
            return { ok: true, output: asOutput(await entry.tool.execute(parsed.data as Record<string, unknown>, { state, taskId })) };
          } catch (e) {
            return { ok: false, output: `${call.name} failed: ${e instanceof Error ? e.message : String(e)}`, errorKind: 'precondition' };
          }
        },
        async state() {
          return state;
        },
        async close() {
          closed = true;
        },
      };
      return session;
    },
  };
}

import type { ToolCall, ToolResult } from '../harness/types';

/**
 * A tool never crashes a rollout: whatever a tool throws (a TypeError from an odd name, a DOMException from
 * structuredClone, a bug) becomes a failed tool result the model sees, errorKind 'tool_crashed', and the
 * episode goes on to be scored like any other, instead of the exception failing the whole batch's activity.
 * Only the error's class and message reach the model and the trace, never its stack.
 */
export function toolCrashResult(call: Pick<ToolCall, 'name'>, error: unknown): ToolResult {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, errorKind: 'tool_crashed', output: `The tool ${JSON.stringify(String(call.name))} failed: ${what.slice(0, 500)}` };
}

interface Executes {
  execute(call: ToolCall): ToolResult | Promise<ToolResult>;
}

/** The environment with its execute guarded (in place, so a class's other methods and fields are untouched). */
export function guardTools<E extends Executes>(env: E): E {
  const execute = env.execute.bind(env);
  env.execute = (call: ToolCall) => {
    try {
      const result = execute(call);
      return result instanceof Promise ? result.catch((error: unknown) => toolCrashResult(call, error)) : result;
    } catch (error) {
      return toolCrashResult(call, error);
    }
  };
  return env;
}

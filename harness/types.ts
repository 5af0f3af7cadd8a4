/**
 * The vocabulary of a harness run: messages, model requests/responses, tool calls, and the typed events
 * that flow through the eight lifecycle hooks. Pure data; no I/O.
 */

export const HOOKS = [
  'task_start',
  'step_start',
  'before_model',
  'after_model',
  'before_tool',
  'after_tool',
  'step_end',
  'task_end',
] as const;
export type HookName = (typeof HOOKS)[number];

export interface ToolCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

export interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  /** On tool messages: the call failed. */
  isError?: boolean;
}

/** A structured part a processor attaches to a model request (rendered into text for real providers). */
export interface ContextPart {
  kind: string;
  text: string;
  data?: unknown;
}

export interface ToolParameter {
  /** 'array' is a list of strings (ids) unless the tool's inputSchema says otherwise. */
  type: 'string' | 'array' | 'number' | 'integer' | 'boolean' | 'object';
  description: string;
  enum?: string[];
  /** The model may leave it out (user tools: not in the schema's required list). */
  optional?: boolean;
}

export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, ToolParameter>;
  /**
   * The tool's full JSON Schema where it came from outside (an MCP server's tools/list, a zod schema): what
   * providers send and what argument validation checks. `parameters` then lists its top-level properties
   * for processors that document or repair arguments. Built-in benchmarks leave it out.
   */
  inputSchema?: Record<string, unknown>;
  /** Natural-language templates, e.g. "stack the {block} block on top of the {target} block", used by repair. */
  phrases?: string[];
}

export interface ModelRequest {
  purpose: 'act' | 'plan' | 'summarize';
  messages: Message[];
  parts: ContextPart[];
  tools: ToolSpec[];
  temperature?: number;
  maxTokens?: number;
  /**
   * The model role that answers this request instead of the main model (a router processor sets it on an
   * act request); the loop uses it only when the harness config names that role.
   */
  route?: 'main' | 'judge' | 'evaluator';
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ModelResponse {
  text: string;
  toolCalls: ToolCall[];
  usage: Usage;
  stopReason: 'end_turn' | 'tool_use' | 'max_tokens' | 'error';
  model: string;
  /** Provider extras worth keeping in traces (the simulator's policy decisions, for GRPO). */
  meta?: Record<string, unknown>;
}

export interface ToolResult {
  ok: boolean;
  output: string;
  /** Why a call failed: the environment's precondition, bad arguments, a transient fault, a block, or the tool itself threw (tool_crashed). */
  errorKind?: 'precondition' | 'bad_arguments' | 'transient' | 'blocked' | 'unknown_tool' | 'tool_crashed';
}

export interface TaskView {
  id: string;
  instruction: string;
}

export type HookEvent =
  | { hook: 'task_start'; task: TaskView; systemPrompt: string; tools: ToolSpec[] }
  | { hook: 'step_start'; step: number; history: Message[] }
  | { hook: 'before_model'; step: number; request: ModelRequest }
  | { hook: 'after_model'; step: number; response: ModelResponse }
  | { hook: 'before_tool'; step: number; call: ToolCall; approved: boolean; rejection?: string }
  | { hook: 'after_tool'; step: number; call: ToolCall; result: ToolResult }
  | { hook: 'step_end'; step: number; observation: string; done: boolean }
  | { hook: 'task_end'; steps: number; success: boolean; reason: EpisodeEndReason };

export type EventOf<H extends HookName> = Extract<HookEvent, { hook: H }>;

export type EpisodeEndReason = 'goal_reached' | 'step_budget_exhausted' | 'interrupted' | 'hard_step_cap' | 'harness_error';

/** A processor may end the episode instead of yielding events. */
export interface Interrupt {
  interrupt: true;
  reason: string;
}

export function isInterrupt(value: unknown): value is Interrupt {
  return typeof value === 'object' && value !== null && (value as Interrupt).interrupt === true;
}

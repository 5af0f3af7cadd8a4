import type { z } from 'zod';
import type { HookEvent, HookName, Interrupt, ModelRequest, ModelResponse, TaskView, ToolCall, ToolResult, ToolSpec } from './types';

/** The harness's view of a model: one call, one response. Providers in models/ implement it. */
export interface Model {
  readonly id: string;
  generate(request: ModelRequest): Promise<ModelResponse>;
}

/** What a processor may see of the environment: never its hidden state or verifier. */
export interface EnvironmentView {
  tools(): ToolSpec[];
  /** Actions valid in the current state, where the environment offers them (as ALFWorld does). */
  admissibleActions(): string[] | null;
}

export interface TraceNotes {
  note(kind: string, data: unknown): void;
}

/**
 * Lessons kept across episodes, already bound by the run's wiring to one harness and one suite (the
 * artifact store keeps them, so they survive restarts and span hosts). harness/ never opens a store itself.
 */
export interface EpisodeMemory {
  recall(): Promise<string[]>;
  remember(lessons: string[]): Promise<void>;
}

/** The harness's model roles a processor may call besides the main model (harness config `model`). */
export type ModelRole = 'judge' | 'evaluator';

export interface ProcessorContext {
  readonly task: TaskView;
  readonly model: Model;
  /**
   * The harness's other model roles, when its config names them: each call goes through the worker's
   * endpoint limiter and is counted in the episode's usage (the run's spend) like the main model's.
   */
  readonly models?: Partial<Record<ModelRole, Model>>;
  /** Cross-episode memory, when the run wires a store (absent in smoke tests and unit runs). */
  readonly memory?: EpisodeMemory;
  /** Skill files the suite declares, by name (loaded by the suite, not by the harness). */
  readonly skills?: Readonly<Record<string, string>>;
  readonly env: EnvironmentView;
  readonly trace: TraceNotes;
  /** Re-executes a tool call (through before_tool checks of the environment only); for retry processors. */
  retryTool(call: ToolCall): Promise<ToolResult>;
}

export type ProcessorOutput = HookEvent | Interrupt;

/**
 * One processor instance lives for one episode. It consumes one event and yields zero or more events of
 * the same hook (pass-through, transform, split, intercept) or an Interrupt that ends the episode.
 */
export interface ProcessorInstance {
  process(event: HookEvent, ctx: ProcessorContext): AsyncIterable<ProcessorOutput>;
}

export type ProcessorOrder = 'pre' | 'normal' | 'post';
export interface ProcessorMeta {
  /** At most one processor of a group per hook; `replace` swaps it. */
  singletonGroup?: string;
  order: ProcessorOrder;
  /** Soft dependencies: run after these processor types when they are present on the same hook. */
  after?: string[];
}

export type Dimension = 'context' | 'memory' | 'tools' | 'control' | 'observability';

export interface ProcessorDefinition<P = Record<string, unknown>> {
  type: string;
  dimension: Dimension;
  description: string;
  hooks: readonly HookName[];
  meta: ProcessorMeta;
  params: z.ZodType<P>;
  create(params: P): ProcessorInstance;
}

/** Convenience for the common case: a processor that maps one event of its hook to one (possibly new) event. */
export function mapProcessor<E extends HookEvent>(
  fn: (event: E, ctx: ProcessorContext) => Promise<E | Interrupt> | E | Interrupt,
): ProcessorInstance {
  return {
    async *process(event, ctx) {
      yield await fn(event as E, ctx);
    },
  };
}

export function defineProcessor<P>(def: ProcessorDefinition<P>): ProcessorDefinition<P> {
  return def;
}

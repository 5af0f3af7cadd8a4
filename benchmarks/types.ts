import type { Environment } from '../harness/run-loop';
import type { Model } from '../harness/processor';
import type { SimulatorBrief } from '../harness/task-brief';
import type { ToolCall, ToolResult } from '../harness/types';

export type Split = 'train' | 'validation' | 'test';

export interface BenchmarkTask {
  id: string;
  instruction: string;
  split: Split;
}

export interface ScoredEnvironment extends Environment {
  /**
   * The fixed verifier's reward for the environment's current state: 1 solved, 0 not. User suites' verifiers
   * (a command, an LLM judge) answer asynchronously; built-in benchmarks answer at once.
   */
  score(): number | Promise<number>;
  /** Releases what the environment holds (a user suite's MCP server process); called once the episode is scored, even when it failed. */
  close?(): Promise<void> | void;
  /** The reward with its components (e.g. tau2's DB, COMMUNICATE, NL_ASSERTION), for traces and reports. */
  breakdown?(): Record<string, unknown>;
  /** The reward including components an LLM judge decides; used when the harness names a judge model. */
  scoreWithJudge?(judge: Model): Promise<number>;
}

/** A wrong solution the verifier must reject (check-benchmark). */
export interface Corruption {
  kind: string;
  actions: ToolCall[];
}

/** An environment scored at once (every built-in benchmark's): its tests and the gold-plan replays need no await. */
export interface ImmediateScoredEnvironment extends ScoredEnvironment {
  score(): number;
}

/** An environment that answers at once (everything but networked ones): replays and tests need no await. */
export interface SyncScoredEnvironment extends ImmediateScoredEnvironment {
  execute(call: ToolCall): ToolResult;
}

export interface Verdict {
  valid: boolean;
  reason: string;
}

/** Everything AEGIS needs from a benchmark; one implementation per folder under benchmarks/. */
export interface Benchmark {
  readonly name: string;
  readonly description: string;
  tasks(): BenchmarkTask[];
  task(id: string): BenchmarkTask;
  /**
   * Environments of this benchmark hold a conversation with a simulated user (tau2-retail). The run wiring
   * then gives createEnvironment a `userModel` when one is configured; a benchmark never creates a model.
   */
  readonly hasSimulatedUser?: boolean;
  /**
   * Each episode starts a process of its own (a user suite's MCP server that keeps per-episode state): a
   * rollout against a remote endpoint then keeps fewer episodes open (defaultRolloutConcurrency).
   */
  readonly episodesStartProcesses?: boolean;
  /**
   * `userModel`: the LLM that plays the simulated user (without one, a scripted user plays it); others ignore
   * it. User suites open their tools (MCP servers) here, so the environment may come as a promise; the run
   * wiring awaits it and calls `close` when the episode is over.
   */
  createEnvironment(taskId: string, options: { seed: string; userModel?: Model }): ScoredEnvironment | Promise<ScoredEnvironment>;
  /**
   * What the simulator (sim:small / sim:large) may know about a task, as plain data; the run wiring passes it
   * to the task model's factory. Benchmarks whose prompt alone suffices for the simulator have none.
   */
  simulatorBrief?(taskId: string): SimulatorBrief;
  /** The shipped gold solution as tool calls. */
  referenceSolution(taskId: string): ToolCall[];
  /** Scores a whole action sequence from the task's initial state with the fixed verifier (user suites: asynchronously). */
  verifyPlan(taskId: string, actions: ToolCall[]): Verdict | Promise<Verdict>;
  /** A tiny synthetic task for gate smoke tests; never part of any split. */
  smokeTaskId(): string;
  /** Wrong solutions of a task that the verifier must reject; defaults: empty plan, last action dropped. */
  corruptSolutions?(taskId: string): Corruption[];
  /** A coarse grouping of similar tasks (variant routing); benchmarks without one put every task in one. */
  cluster?(taskId: string): string;
  /**
   * Skill files the benchmark declares (a user suite's `skills`), by name → text, read when the suite was
   * loaded; the run wiring hands them to each episode for the skill_loader processor.
   */
  skills?(): Readonly<Record<string, string>>;
}

/**
 * A benchmark that ships with HarnessX: its environments are created and scored at once and its verifier
 * answers at once, so the built-in benchmarks' tests and replays need no await.
 */
export interface BuiltinBenchmark extends Benchmark {
  createEnvironment(taskId: string, options: { seed: string; userModel?: Model }): ImmediateScoredEnvironment;
  verifyPlan(taskId: string, actions: ToolCall[]): Verdict;
}

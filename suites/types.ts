import type { ToolCall, ToolResult, ToolSpec } from '../harness/types';
import type { Split } from '../benchmarks/types';

/**
 * The contract of user task suites (issue #13): what a user's harnessx.config.* declares, and the two
 * interfaces the rest of HarnessX meets them through — a ToolProvider (MCP servers, function tools) and a
 * SuiteVerifier (function, command, LLM judge). A loaded suite is a Benchmark (benchmarks/types.ts), so
 * everything built-in benchmarks have (gate, splits, audit, compare, coevolve) works on it unchanged.
 */

/** One task of a suite, as a line of its JSONL file (or an element of what its tasks function returns). */
export interface SuiteTask {
  id: string;
  instruction: string;
  /** Anything the verifier needs (expected values, rubric notes); never shown to the model. */
  metadata?: Record<string, unknown>;
  /** Overrides the deterministic split by task id. */
  split?: Split;
  /** The gold solution as tool calls, for check-benchmark (also settable in the suite's references). */
  reference?: Array<{ name: string; args: Record<string, unknown> }>;
  /** The final answer the gold solution gives, where the suite's tasks end with one. */
  referenceAnswer?: string;
}

/**
 * One open set of tools for one episode. Concurrent episodes never share a session unless the suite says
 * its tools are stateless.
 */
export interface ToolSession {
  /** The tools as the model sees them (MCP tools/list: name, description, JSON Schema). */
  readonly specs: ToolSpec[];
  /** Runs one call; tool errors (MCP isError, a thrown function) come back as { ok: false }, never thrown. */
  call(call: ToolCall): Promise<ToolResult>;
  /** The tools' final state for the verifier (MCP: a resource read or a hidden tool; functions: the state object); undefined when none. */
  state(): Promise<unknown>;
  /** Ends the session (stops a stdio server, deletes an HTTP session). Safe to call twice. */
  close(): Promise<void>;
}

/** Opens tool sessions; one per configured MCP server or set of function tools. */
export interface ToolProvider {
  /** For errors: "mcp stdio `node server.mjs`", "mcp http http://…", "functions". */
  readonly label: string;
  /** open() starts a process for each episode (a stdio MCP server that is not stateless). */
  readonly startsProcessPerEpisode?: boolean;
  open(context: { suite: string; taskId: string; seed: string }): Promise<ToolSession>;
}

/** What a verifier is given: one finished episode, as one JSON-serialisable record (a command verifier reads it on stdin). */
export interface EpisodeRecord {
  suite: string;
  task: SuiteTask;
  /** Every tool call the episode made, in order, with its result. */
  toolCalls: Array<{ name: string; args: Record<string, unknown>; ok: boolean; output: string }>;
  /** The agent's final text answer (a reply without a tool call), or null. */
  answer: string | null;
  /** Conversational suites: the dialogue turns with the user. */
  dialogue: Array<{ agent: string; user: string }>;
  /** The final tool state (ToolSession.state of every provider, keyed by provider label when several). */
  state: unknown;
}

/** A verifier's verdict. score in [0, 1]; 1 counts as solved. */
export interface SuiteScore {
  score: number;
  breakdown?: Record<string, unknown>;
  reason?: string;
}

export interface SuiteVerifier {
  readonly label: string;
  /** judge: the harness's judge role model when the harness names one (LLM-judge verifiers need it). */
  verify(record: EpisodeRecord, context: { judge?: import('../harness/processor').Model; signal?: AbortSignal }): Promise<SuiteScore>;
}

// ---------------------------------------------------------------------------------------------------------
// The user's configuration (harnessx.config.ts / .js / .mjs / .json). JSON configs hold the declarative
// parts only (tasks file, MCP servers, command or judge verifier); functions need a JS/TS module.
// ---------------------------------------------------------------------------------------------------------

export type McpServerConfig =
  | { command: string; args?: string[]; env?: Record<string, string>; cwd?: string }
  | { url: string; headers?: Record<string, string> };

export interface McpToolsConfig {
  mcp: McpServerConfig;
  /** Tools keep no per-episode state: one session is shared by every episode of the worker. Default false. */
  stateless?: boolean;
  /** How the verifier reads the final state: an MCP resource URI, or a tool the model never sees. */
  state?: { resource: string } | { tool: string; args?: Record<string, unknown> };
  /** Tool names the model never sees (e.g. the state tool). */
  hidden?: string[];
  /** Milliseconds to wait for the server to start and answer initialize. Default 20000. */
  startTimeoutMs?: number;
  /** Milliseconds one tools/call may take. Default 60000. */
  callTimeoutMs?: number;
  /**
   * Seeds an episode's state before its stdio server starts: a command run in the config file's folder with
   * the placeholders filled in its args and HARNESSX_TASK_ID, HARNESSX_EPISODE_ID and HARNESSX_EPISODE_DIR
   * set; a non-zero exit fails the episode's start with its stderr. Needs a per-episode server (not stateless).
   */
  setup?: { command: string; args?: string[]; timeoutMs?: number };
}

/** A plain TypeScript tool; `parameters` is a zod object schema (its JSON Schema is what the model sees). */
export interface FunctionToolConfig<State = unknown> {
  name: string;
  description: string;
  parameters: unknown;
  execute(args: Record<string, unknown>, context: { state: State; taskId: string }): unknown | Promise<unknown>;
}

export type VerifierConfig =
  | ((record: EpisodeRecord) => number | SuiteScore | Promise<number | SuiteScore>)
  | { command: string; args?: string[]; cwd?: string; timeoutMs?: number }
  | { judge: { rubric: string } };

export interface SuiteConfig {
  description?: string;
  /** A JSONL file (relative to the config file) or a function returning the tasks. */
  tasks: string | (() => SuiteTask[] | Promise<SuiteTask[]>);
  tools?: Array<McpToolsConfig | FunctionToolConfig>;
  /** Function tools' initial state per episode (a fresh object each time). */
  initialState?: (task: SuiteTask) => unknown;
  verifier: VerifierConfig;
  /** Reference solutions by task id (or a JSONL file of { id, reference, referenceAnswer }). */
  references?: string | Record<string, SuiteTask['reference']>;
  /** Dialogue tasks: a scripted user (turns in order) or an LLM playing a persona (the harness's evaluator role). */
  user?: { script: string[] } | { persona: string };
  /** Milliseconds a verifier may take per episode. Default 30000. */
  verifierTimeoutMs?: number;
  /**
   * Skill files (instructions the skill_loader processor may add to the system prompt), by name → a path
   * relative to the config file (text, at most 200,000 characters each). Read once when the config loads.
   */
  skills?: Record<string, string>;
}

export interface HarnessxConfig {
  suites: Record<string, SuiteConfig>;
}

/** Identity, for type checking a config file: `export default defineConfig({ suites: { … } })`. */
export function defineConfig(config: HarnessxConfig): HarnessxConfig {
  return config;
}

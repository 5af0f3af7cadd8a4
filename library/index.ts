/**
 * The `harnessx` package entry: run an evolved harness in your own product, build and edit harnesses, and
 * declare task suites. Only what runs in a user's process is reachable from here — no Temporal worker, CLI
 * or test code (tests/unit/library-entry.test.ts checks the import graph).
 */

// Running a harness.
export { createAgent } from './create-agent';
export type { Agent, AgentOptions, AgentResult, AgentStep, AgentTask } from './create-agent';
export { loadHarness, HarnessLoadError } from './load-harness';
export type { DeploymentClient, DeploymentOptions, DeploymentStats } from './deployment';
export { runEpisode, ProcessorError } from '../harness/run-loop';
export type { Environment, EpisodeInput } from '../harness/run-loop';
export type { EpisodeTrace, TraceRecord } from '../harness/trace';

// The harness config H = (M, C): schema, canonical form and content id; the seed; the builder algebra.
export {
  HarnessConfigSchema,
  ModelConfigSchema,
  ModelRoleSchema,
  ProcessorSpecSchema,
  SlotsSchema,
  HarnessConfigError,
  parseHarnessConfig,
  canonicalize,
  harnessId,
  toJson,
} from '../harness/config';
export type { HarnessConfig, ProcessorSpec } from '../harness/config';
export { seedHarness } from '../harness/seed';
export * as builder from '../harness/builder';
export { EditSchema, applyEdit, applyEdits } from '../harness/builder';
export type { Edit, BuildResult, BuilderError, BuilderRule } from '../harness/builder';
export { diffHarnesses, formatDiff } from '../harness/diff';

// Hooks, events and the processor protocol; the processor library.
export { HOOKS, isInterrupt } from '../harness/types';
export type {
  HookName,
  HookEvent,
  EventOf,
  Interrupt,
  Message,
  ContextPart,
  ModelRequest,
  ModelResponse,
  ToolCall,
  ToolResult,
  ToolSpec,
  ToolParameter,
  TaskView,
  Usage,
  EpisodeEndReason,
} from '../harness/types';
export { defineProcessor, mapProcessor } from '../harness/processor';
export type {
  Model,
  EnvironmentView,
  ProcessorContext,
  ProcessorDefinition,
  ProcessorInstance,
  ProcessorMeta,
  ProcessorOrder,
  ProcessorOutput,
  Dimension,
} from '../harness/processor';
export { PROCESSOR_LIBRARY, getProcessorDefinition } from '../harness/processors';

// Model providers.
export { createModel, checkModelString, PROVIDER_NAMES } from '../models/registry';
export { parseModelString } from '../models/types';
export type { ModelOptions, ModelProvider, ModelRef } from '../models/types';
export { ProviderError } from '../models/errors';
export { withFallback } from '../models/fallback-model';

// Task suites: the config file's types, function tools, tool specs from JSON Schema.
export { defineConfig } from '../suites/types';
export type {
  HarnessxConfig,
  SuiteConfig,
  SuiteTask,
  ToolProvider,
  ToolSession,
  EpisodeRecord,
  SuiteScore,
  SuiteVerifier,
  McpServerConfig,
  McpToolsConfig,
  FunctionToolConfig,
  VerifierConfig,
} from '../suites/types';
export { functionTool, functionToolProvider } from '../suites/function-tools';
export { mcpTools } from './mcp-tools';
export { mcpToolProvider, closeSharedMcpConnections } from '../suites/mcp';
export { toolSpecFromJsonSchema } from '../suites/tool-spec';
export { startTelemetry, shutdownTelemetry, type Telemetry, type TelemetryOptions } from '../telemetry';

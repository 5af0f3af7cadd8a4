import { sha256Hex } from '../harness/canonical';
import { HarnessConfig, harnessId as harnessIdOf } from '../harness/config';
import type { Model, ModelRole } from '../harness/processor';
import { Environment, runEpisode } from '../harness/run-loop';
import type { EpisodeTrace, TraceRecord } from '../harness/trace';
import type { EpisodeEndReason, ModelRequest, ModelResponse, ToolCall, ToolResult, ToolSpec, Usage } from '../harness/types';
import { classifyProviderError, ProviderError } from '../models/errors';
import { withFallback } from '../models/fallback-model';
import { createModel } from '../models/registry';
import { functionToolProvider } from '../suites/function-tools';
import { ToolRouter } from '../suites/tool-router';
import type { FunctionToolConfig, SuiteTask, ToolProvider, ToolSession } from '../suites/types';
import { startTelemetry } from '../telemetry';
import { DeploymentLink, DeploymentOptions, DeploymentStats } from './deployment';
import { judgeRun } from './live-judge';
import { loadHarness } from './load-harness';
import { LessonBacking, RolloutMemory, usesEpisodeMemory } from '../aegis/episode-memory';
import { dataDir } from '../store/data-dir';
import { openStore } from '../store/open-store';

/** One thing that happened in a run, streamed to onStep as it happens. */
export type AgentStep =
  | {
      type: 'model';
      step: number;
      /** "act" for the agent's turns; processors may call the model to plan or summarise. */
      purpose: string;
      text: string;
      toolCalls: ToolCall[];
      stopReason: string;
      usage: Usage;
      latencyMs: number;
      model: string;
    }
  /** A tool call as it ran (after the harness's before_tool/after_tool processors), or as the harness refused it. */
  | { type: 'tool'; step: number; call: ToolCall; approved: boolean; rejection?: string; result: ToolResult }
  /** The final answer: the model's reply without a tool call. */
  | { type: 'answer'; step: number; text: string }
  /** A processor failed or the loop recorded a problem. */
  | { type: 'error'; step: number; message: string; processorId?: string; hook?: string }
  /** A processor's note (the tracer, evolved code processors). */
  | { type: 'note'; step: number; note: string; data: unknown };

export interface AgentResult {
  /** The final answer, or null when the episode ended without one (step budget, harness error). */
  answer: string | null;
  steps: number;
  /** Every tool call in order, with its result (the shape a suite verifier reads in EpisodeRecord.toolCalls). */
  toolCalls: Array<{ name: string; args: Record<string, unknown>; ok: boolean; output: string }>;
  usage: Usage;
  /** The full episode trace, as evolution stores it. */
  trace: EpisodeTrace;
  /** goal_reached when the model answered; step_budget_exhausted, interrupted, hard_step_cap or harness_error otherwise. */
  endReason: EpisodeEndReason;
  /** This run's id (for agent.feedback) and the harness that ran its last step. */
  runId: string;
  harnessId: string;
}

export interface AgentOptions {
  /**
   * A harness config (as loadHarness returns it, or a plain object to validate), or a path to a harness file.
   * With `deployment`: the harness served until the deployment first answers (and if it never does).
   */
  harness?: HarnessConfig | string | object;
  /**
   * Serve a deployment's current harness (`harnessx deploy start <name>`), kept current without a restart,
   * and report each run to it (library/deployment.ts).
   */
  deployment?: DeploymentOptions;
  /** With a deployment: the verifier's score of a finished run where the product can check it (the most trusted outcome). */
  verify?: (result: AgentResult, task: { id: string; instruction: string }) => number | null | Promise<number | null>;
  /**
   * The model: a model string ("openai-compatible:qwen3@http://localhost:8000/v1", "anthropic:claude-…",
   * "sim:small"), a Model object, or a function giving each run its model (per task or tenant). Left out:
   * the harness's own main model, with its fallback.
   */
  model?: string | Model | ((run: { taskId: string; seed: string }) => Model);
  /** Tool providers (MCP servers, function tool providers) and/or function tools. Each run opens its own sessions. */
  tools?: Array<ToolProvider | FunctionToolConfig>;
  /** Function tools' state for one run (a fresh object per run); default an empty object. */
  initialState?: (task: SuiteTask) => unknown;
  /** Called synchronously with each step as it happens. If it throws, the run stops and rejects with that error. */
  onStep?: (step: AgentStep) => void;
  /** A cap on steps above any step_budget processor in the harness. Default 100. */
  maxSteps?: number;
  /** Seeds sampling where the provider supports it (the simulator always does). Default "harnessx". */
  seed?: string;
  /** Passed to tool providers as the suite name when they open sessions; also the suite episodic memory's lessons are keyed by. Default "agent". */
  name?: string;
  /**
   * Where a harness's `episodic_memory` processor keeps its lessons across this product's runs, keyed by
   * the served harness's id and `name` (as rollouts key them by harness and suite). Default: the project's
   * HarnessX artifact store, the one the CLI uses — HARNESSX_STORE (a folder or s3://bucket/prefix), else
   * the data folder (HARNESSX_DATA_DIR, default .harnessx/data) — opened the first time a harness with
   * episodic_memory runs. A store of your own (anything with cacheGet/cacheSet, e.g. an ArtifactStore), or
   * false: no memory (the processor then passes events on and stores nothing).
   */
  memory?: LessonBacking | false;
}

export type AgentTask = string | { id?: string; instruction: string };

export interface Agent {
  /** The harness's content id (hx-…). */
  readonly harnessId: string;
  readonly harness: HarnessConfig;
  /** `runKey` keeps a user or conversation on one version during a canary (default: the run's id). */
  run(task: AgentTask, options?: { signal?: AbortSignal; runKey?: string; runId?: string }): Promise<AgentResult>;
  /** With a deployment: a run's outcome as the product learned it later (1 = solved). Never throws on HarnessX's behalf. */
  feedback(runId: string, score: number, note?: string): void;
  /** With a deployment: its link's counters (reports sent, dropped, fail-static); null without one. */
  deploymentStats(): DeploymentStats | null;
  /** Sends what is queued (bounded by timeoutMs) and stops the reporter. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * An evolved harness in your product: the same run loop and processors as evolution (harness/run-loop.ts),
 * over the given tools, without Temporal. A reply without a tool call is the final answer. Each run opens
 * its own tool sessions and closes them when it ends, whether it succeeded or failed.
 *
 *   const agent = createAgent({ harness: loadHarness('hx-….json'), model: 'openai-compatible:qwen3@http://localhost:8000/v1', tools: [notesTool] });
 *   const { answer } = await agent.run('Summarise my notes about the launch', { signal });
 */
export function createAgent(options: AgentOptions): Agent {
  const link = options.deployment ? new DeploymentLink(options.deployment) : null;
  if (!link && options.harness === undefined) throw new Error('createAgent: give a harness, or a deployment to serve');
  const fallback = options.harness === undefined ? null : typeof options.harness === 'string' ? loadHarness(options.harness) : loadHarness(options.harness as object);
  // Without a fallback, the model is checked against the deployment's first harness, once known.
  const harness = fallback ?? (null as unknown as HarnessConfig);
  const id = fallback ? harnessIdOf(fallback) : '';
  const providers = toolProviders(options.tools ?? [], options.initialState);
  const maxSteps = options.maxSteps ?? 100;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new Error(`createAgent: maxSteps must be a whole number ≥ 1, got ${options.maxSteps}`);
  const seed = options.seed ?? 'harnessx';
  const suite = options.name ?? 'agent';
  // Model strings are checked now, so a bad one fails at createAgent rather than at the first run.
  if (typeof options.model === 'string') createModel(options.model, { seed: 'check' });
  else if (options.model === undefined && fallback) createModel(harness.model.main.model, { seed: 'check' });
  // With OTEL_EXPORTER_OTLP_ENDPOINT set, episodes are exported; a host application's own SDK, registered
  // first, gets the spans instead (startTelemetry then registers nothing).
  startTelemetry();
  let runs = 0;
  const lessons = lessonStore(options.memory);

  const modelFor = (episodeSeed: string, served: HarnessConfig, taskId: string): Model => {
    if (typeof options.model === 'function') return options.model({ taskId, seed: episodeSeed });
    if (typeof options.model === 'object') return options.model;
    if (typeof options.model === 'string') return createModel(options.model, { seed: episodeSeed });
    const { model, fallback } = served.model.main;
    return withFallback(createModel(model, { seed: episodeSeed }), fallback ? createModel(fallback, { seed: episodeSeed }) : null);
  };

  return {
    get harnessId() {
      return link?.serve('')?.harnessId ?? id;
    },
    get harness() {
      return (link?.serve('')?.config ?? harness) as HarnessConfig;
    },
    feedback: (runId, score, note) => {
      if (!link) throw new Error('agent.feedback: this agent serves no deployment (createAgent({ deployment }))');
      link.feedback(runId, score, note);
    },
    deploymentStats: () => (link ? { ...link.stats } : null),
    close: async (timeoutMs) => link?.close(timeoutMs),
    async run(task, runOptions = {}) {
      const view = taskView(task);
      const attempt = runs++;
      const runId = runOptions.runId ?? `${seed}|${view.id}|${attempt}|${Date.now().toString(36)}`;
      const runKey = runOptions.runKey ?? runId;
      // The deployment's harness for this key, or the static one; the run never waits on HarnessX unless no harness is known at all.
      if (link && !fallback && !link.serve(runKey)) await link.ready();
      const served = link?.serve(runKey) ?? { harnessId: id, config: harness, arm: 'champion' as const };
      const episodeSeed = `${seed}|${view.id}|${attempt}`;
      let result: AgentResult | null = null;
      let lastHarnessId = served.harnessId;
      const harnessIds = [served.harnessId];
      try {
        result = await runOnce(view, attempt, episodeSeed, runOptions, served.config, served.harnessId, (step) => {
          const next = link?.newerChampion(lastHarnessId, served.arm) ?? null;
          if (next) {
            lastHarnessId = next.harnessId;
            harnessIds.push(next.harnessId);
          }
          return next;
        });
        return Object.assign(result, { runId, harnessId: lastHarnessId });
      } catch (e) {
        link?.report({ runId, runKey, harnessId: lastHarnessId, harnessIds, taskId: view.id, endReason: 'crashed', steps: 0, failed: (e as Error)?.message ?? String(e) }, null);
        throw e;
      } finally {
        if (link && result) {
          // The judge model of the harness the run was served, seeded by the run.
          const judgeRole = served.config.model.judge;
          void reportRun(link, options.verify, result, view, { runId, runKey, harnessIds }, judgeRole ? () => createModel(judgeRole.model, { seed: `${episodeSeed}|judge` }) : null);
        }
      }
    },
  };

  async function runOnce(view: { id: string; instruction: string }, attempt: number, episodeSeed: string, runOptions: { signal?: AbortSignal }, harness: HarnessConfig, id: string, nextHarness: (step: number) => { config: HarnessConfig; harnessId: string } | null): Promise<AgentResult> {
    {
      // One controller for the caller's signal and for a failing onStep: both stop the run the same way.
      const stop = new AbortController();
      const outer = runOptions.signal;
      const onOuterAbort = () => stop.abort(outer?.reason ?? abortError());
      if (outer?.aborted) onOuterAbort();
      else outer?.addEventListener('abort', onOuterAbort, { once: true });
      const emit = (step: AgentStep) => {
        if (!options.onStep || stop.signal.aborted) return;
        try {
          options.onStep(step);
        } catch (e) {
          stop.abort(e);
        }
      };

      const sessions: Array<{ label: string; session: ToolSession }> = [];
      let failure: { error: unknown } | null = null;
      try {
        throwIfAborted(stop.signal);
        for (const provider of providers) {
          try {
            sessions.push({ label: provider.label, session: await raceAbort(provider.open({ suite, taskId: view.id, seed: episodeSeed }), stop.signal) });
          } catch (e) {
            if (stop.signal.aborted) throw stop.signal.reason;
            throw new Error(`tools "${provider.label}": could not open a session: ${(e as Error)?.message ?? String(e)}`, { cause: e });
          }
        }
        // The step an answer belongs to: the run loop's records carry it, the environment does not see it.
        let currentStep = 0;
        const env = new AgentEnvironment(view.instruction, sessions, stop.signal, (text) => emit({ type: 'answer', step: currentStep, text }));
        const model = guardedModel(modelFor(episodeSeed, harness, view.id), stop.signal);
        // The harness's judge and evaluator roles, for processors that call them (llm_judge, context_compaction's summariser, a router).
        const models: Partial<Record<ModelRole, Model>> = {};
        for (const r of ['judge', 'evaluator'] as const) {
          const role = harness.model[r];
          if (role) models[r] = guardedModel(withFallback(createModel(role.model, { seed: `${episodeSeed}|${r}` }), role.fallback ? createModel(role.fallback, { seed: `${episodeSeed}|${r}` }) : null), stop.signal);
        }
        // Episodic memory: the lessons stored for (this harness, this product's suite), and this run's, stored when it ends.
        const memory = usesEpisodeMemory(harness) ? await lessons.open(id, suite) : null;
        const trace = await runEpisode({
          config: harness,
          harnessId: id,
          env,
          model,
          ...(Object.keys(models).length ? { models } : {}),
          ...(memory ? { memory: memory.forEpisode(0) } : {}),
          task: view,
          seed: episodeSeed,
          attempt,
          hardStepCap: maxSteps,
          ...(link ? { nextHarness } : {}),
          onRecord: (record) => {
            currentStep = record.step;
            const step = stepOf(record);
            if (step) emit(step);
          },
        });
        // A stop inside a processor's own model call ends the episode as a harness error; it is still a stop.
        throwIfAborted(stop.signal);
        if (memory) await lessons.flush(memory);
        return {
          answer: env.finalAnswer,
          steps: trace.steps,
          toolCalls: trace.records.flatMap((r) => (r.kind === 'tool_call' ? [{ name: r.call.name, args: r.call.args, ok: r.result.ok, output: r.result.output }] : [])),
          usage: { ...trace.usage },
          trace,
          endReason: trace.endReason,
          runId: '',
          harnessId: trace.harnessId,
        };
      } catch (e) {
        failure = { error: stop.signal.aborted ? stop.signal.reason : e };
        throw failure.error;
      } finally {
        outer?.removeEventListener('abort', onOuterAbort);
        const closed = await Promise.allSettled(sessions.map((s) => s.session.close()));
        const notClosed = closed.flatMap((c, i) => (c.status === 'rejected' ? [`tools "${sessions[i].label}": ${(c.reason as Error)?.message ?? String(c.reason)}`] : []));
        // A session that does not close may leave a server process behind: say so, unless the run already failed for another reason.
        if (notClosed.length && !failure) throw new Error(`the run finished but its tool sessions did not close: ${notClosed.join('; ')}`);
      }
    }
  }
}

/**
 * Episodic memory for createAgent's runs: the store (the given one, or the project's artifact store, opened
 * on first use so an agent without episodic_memory never touches it), and flushes one at a time per
 * (harness, suite) in this process — a flush reads, appends and writes, so two runs ending together would
 * otherwise lose one run's lessons. Runs in other processes sharing the store can still race (the cache has
 * no compare-and-set), as rollouts on two hosts can.
 */
function lessonStore(option: AgentOptions['memory']): { open(harnessId: string, suite: string): Promise<RolloutMemory | null>; flush(memory: RolloutMemory): Promise<void> } {
  let backing: LessonBacking | null = option === false ? null : option ?? null;
  const queues = new Map<string, Promise<unknown>>();
  const store = (): LessonBacking => (backing ??= openStore({ defaultDir: dataDir() }));
  return {
    async open(harnessId, suite) {
      if (option === false) return null;
      return RolloutMemory.open(store(), { harnessId, suite });
    },
    async flush(memory) {
      const key = JSON.stringify(memory.key);
      const next = (queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => memory.flush());
      queues.set(key, next);
      try {
        await next;
      } finally {
        if (queues.get(key) === next) queues.delete(key);
      }
    },
  };
}

/**
 * A finished run's report: its verifier score where the product can check it; else, when the deployment has a
 * rubric and the served harness a judge model, the judge's score; and its execution signals (from the trace).
 * Never throws.
 */
async function reportRun(link: DeploymentLink, verify: AgentOptions['verify'], result: AgentResult, task: { id: string; instruction: string }, ids: { runId: string; runKey: string; harnessIds: string[] }, judgeModel: (() => Model) | null): Promise<void> {
  let verifier: number | null = null;
  try {
    verifier = verify ? await verify(result, task) : null;
  } catch {
    verifier = null;
  }
  const scored = typeof verifier === 'number' && verifier >= 0 && verifier <= 1;
  const rubric = link.rubric();
  const judge = !scored && rubric && judgeModel ? await judgeRun(judgeModel(), rubric, { task: task.instruction, answer: result.answer, toolCalls: result.toolCalls, endReason: result.endReason }) : null;
  link.report({ ...ids, harnessId: result.harnessId, taskId: task.id, endReason: result.endReason, steps: result.steps, ...(scored ? { verifier: verifier as number } : {}), ...(judge !== null ? { judge } : {}) }, result.trace);
}

/** The tools of one run, as the run loop drives them: calls routed by tool name, and the model's plain reply as the answer. */
class AgentEnvironment implements Environment {
  finalAnswer: string | null = null;
  private readonly router: ToolRouter;

  constructor(
    private readonly task: string,
    sessions: Array<{ label: string; session: ToolSession }>,
    private readonly signal: AbortSignal,
    private readonly onAnswer: (text: string) => void,
  ) {
    this.router = new ToolRouter(sessions, (tool, first, second) => `tool "${tool}" is offered by both "${first}" and "${second}"; tool names must be unique across an agent's tools`);
  }

  instruction(): string {
    return this.task;
  }
  tools(): ToolSpec[] {
    return this.router.specs;
  }
  admissibleActions(): null {
    return null;
  }

  async execute(call: ToolCall): Promise<ToolResult> {
    throwIfAborted(this.signal);
    const entry = this.router.ownerOf(call.name);
    if (!entry) return this.router.unknownTool(call);
    try {
      return await raceAbort(entry.session.call(call), this.signal);
    } catch (e) {
      if (this.signal.aborted) throw this.signal.reason;
      // ToolSession.call reports tool errors as results; a throw is the session itself failing (a dead server).
      throw new Error(`tools "${entry.label}": call of "${call.name}" failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }

  isDone(): boolean {
    return this.finalAnswer !== null;
  }

  /** A reply without a tool call is the final answer; the episode ends at this step's end (isDone). */
  answer(text: string): void {
    this.finalAnswer = text;
    this.onAnswer(text);
  }
}

/** What a trace record means to someone watching the run; hook records (which processors ran) are left out. */
function stepOf(record: TraceRecord): AgentStep | null {
  switch (record.kind) {
    case 'model_call':
      return { type: 'model', step: record.step, purpose: record.purpose, text: record.response.text, toolCalls: record.response.toolCalls, stopReason: record.response.stopReason, usage: record.usage, latencyMs: record.latencyMs, model: record.model };
    case 'tool_call':
      return { type: 'tool', step: record.step, call: record.call, approved: record.approved, ...(record.rejection !== undefined ? { rejection: record.rejection } : {}), result: record.result };
    case 'error':
      return { type: 'error', step: record.step, message: record.message, ...(record.processorId ? { processorId: record.processorId } : {}), ...(record.hook ? { hook: record.hook } : {}) };
    case 'note':
      // The run loop notes the final answer in the trace; watchers get it once, as the answer step.
      if (record.note === 'final answer') return null;
      return { type: 'note', step: record.step, note: record.note, data: record.data };
    default:
      return null;
  }
}

/**
 * The model as the run uses it: a stop ends a call at once (the request itself is not cancelled: Model has
 * no signal), and any failure comes out as a ProviderError naming provider, model and cause.
 */
function guardedModel(model: Model, signal: AbortSignal): Model {
  const colon = model.id.indexOf(':');
  const provider = colon > 0 ? model.id.slice(0, colon) : 'custom';
  const name = colon > 0 ? model.id.slice(colon + 1) : model.id;
  return {
    id: model.id,
    async generate(request: ModelRequest): Promise<ModelResponse> {
      throwIfAborted(signal);
      try {
        return await raceAbort(model.generate(request), signal);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (e instanceof ProviderError) throw e;
        const error = classifyProviderError(e, provider, name);
        Object.defineProperty(error, 'cause', { value: e, enumerable: false });
        throw error;
      }
    },
  };
}

function toolProviders(tools: Array<ToolProvider | FunctionToolConfig>, initialState: AgentOptions['initialState']): ToolProvider[] {
  const providers: ToolProvider[] = [];
  const functions: FunctionToolConfig[] = [];
  tools.forEach((tool, i) => {
    if (isToolProvider(tool)) providers.push(tool);
    else if (tool && typeof (tool as FunctionToolConfig).execute === 'function') functions.push(tool as FunctionToolConfig);
    else throw new Error(`createAgent: tools[${i}] is neither a ToolProvider (label, open) nor a function tool (name, description, parameters, execute)`);
  });
  // All function tools share one provider, so they share one state object per run, as in a suite.
  if (functions.length) providers.unshift(functionToolProvider(functions, { where: 'createAgent', ...(initialState ? { initialState } : {}) }));
  return providers;
}

function isToolProvider(tool: unknown): tool is ToolProvider {
  return typeof tool === 'object' && tool !== null && typeof (tool as ToolProvider).open === 'function' && typeof (tool as ToolProvider).label === 'string';
}

function taskView(task: AgentTask): { id: string; instruction: string } {
  const instruction = typeof task === 'string' ? task : task?.instruction;
  if (typeof instruction !== 'string' || !instruction.trim()) throw new Error('agent.run: the task needs a non-empty instruction');
  const id = typeof task === 'object' && task.id !== undefined ? task.id : `task-${sha256Hex(instruction).slice(0, 12)}`;
  if (typeof id !== 'string' || !id) throw new Error('agent.run: task.id must be a non-empty string when given');
  return { id, instruction };
}

function abortError(): Error {
  const error = new Error('the run was aborted');
  error.name = 'AbortError';
  return error;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}

/** The promise, or the signal's reason as soon as it aborts (whichever comes first). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

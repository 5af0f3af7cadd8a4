import type { HarnessConfig } from './config';
import { checkContract, HookContractViolation } from './contracts';
import { EpisodeTelemetry } from './genai-telemetry';
import type { EnvironmentView, EpisodeMemory, Model, ModelRole, ProcessorContext, ProcessorInstance } from './processor';
import { getProcessorDefinition } from './processors';
import { EpisodeTrace, TraceRecord, TraceRecorder } from './trace';
import {
  EpisodeEndReason,
  EventOf,
  HOOKS,
  HookEvent,
  HookName,
  isInterrupt,
  Message,
  ModelRequest,
  ModelResponse,
  TaskView,
  ToolCall,
  ToolResult,
  Usage,
} from './types';

/** An environment as the run loop drives it. Processors only see its EnvironmentView side. */
export interface Environment extends EnvironmentView {
  /** The task statement and initial observation, sent as the first user message. */
  instruction(): string;
  /** Environments behind a network (the WebShop store) answer asynchronously. */
  execute(call: ToolCall): ToolResult | Promise<ToolResult>;
  isDone(): boolean;
  /** Conversational environments: the user's answer to an agent message without a tool call. */
  respond?(agentText: string): Promise<string> | string;
  /** Environments whose tasks end with a text answer (user suites): a reply without a tool call is that answer. */
  answer?(text: string): void;
}

export interface EpisodeInput {
  config: HarnessConfig;
  harnessId: string;
  env: Environment;
  model: Model;
  /** The harness's other model roles for processors and routed steps (limited and wrapped by the caller). */
  models?: Partial<Record<ModelRole, Model>>;
  /** Cross-episode memory bound to this harness and suite, and the suite's skill files, for processors. */
  memory?: EpisodeMemory;
  skills?: Record<string, string>;
  task: TaskView;
  seed: string;
  attempt: number;
  /** A safety net above any step_budget processor. */
  hardStepCap?: number;
  /**
   * Sees each trace record as the loop adds it (model calls, tool calls, notes, errors), so a caller can
   * show an episode while it runs. It must not throw: an exception inside a hook would count as the hook's
   * processor failing.
   */
  onRecord?: (record: TraceRecord) => void;
  /**
   * The episode's OpenTelemetry agent span, when the caller opened it (to record the verifier's reward on it
   * after scoring); the caller then ends it. Otherwise runEpisode opens and ends its own.
   */
  telemetry?: EpisodeTelemetry;
  /**
   * Mid-task swap (a deployment's `swap: 'between-steps'`): asked at each step boundary after the first, it
   * may hand the loop a newer harness. The conversation is kept; processors with the same id, type and
   * params keep their instance and state; the others start fresh; removed ones get their task_end. With it
   * set, every trace record carries the harness id its step ran under.
   */
  nextHarness?: (step: number) => { config: HarnessConfig; harnessId: string } | null;
}

/** A processor failed (threw, or broke its hook contract); the episode ends with reason harness_error. */
export class ProcessorError extends Error {
  constructor(readonly processorId: string, readonly hook: HookName, cause: unknown) {
    super(`processor "${processorId}" at ${hook}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'ProcessorError';
  }
}

class EpisodeInterrupted extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

interface Attached {
  id: string;
  instance: ProcessorInstance;
  /** The spec it was built from (type and params), to tell at a swap whether it carries over. */
  spec: string;
}

const SINGLE_EVENT_HOOKS = new Set<HookName>(HOOKS.filter((h) => h !== 'before_tool'));

/**
 * Runs one episode of a harness on an environment. Every processor output is checked against its hook's
 * contract; a violation ends the episode as a harness error naming processor, hook and field. The
 * environment's verifier is not called here: the benchmark scores the finished environment.
 *
 * Task start, then steps until the environment is done (or a processor interrupts), then task end. One step
 * is: step start (processors may rewrite the history) → the model's turn (before_model, the call,
 * after_model) → acting on the reply (a tool turn through before_tool/after_tool, the user's answer in a
 * conversation, or a reminder that no action was taken) → step end. Each is a method of EpisodeRun below.
 */
export async function runEpisode(input: EpisodeInput): Promise<EpisodeTrace> {
  const telemetry = input.telemetry ?? EpisodeTelemetry.start(episodeSpanInfo(input));
  try {
    return await telemetry.within(() => runEpisodeTraced(input, telemetry));
  } catch (error) {
    // A caller's span is the caller's to mark (it sees the same error).
    if (!input.telemetry) telemetry.failed(error);
    throw error;
  } finally {
    if (!input.telemetry) telemetry.end();
  }
}

/** What names an episode's agent span. */
export function episodeSpanInfo(input: Pick<EpisodeInput, 'config' | 'harnessId' | 'task' | 'seed' | 'attempt' | 'model'>) {
  // The model the agent calls, which a run or createAgent may set apart from the harness file's model.main.
  return { agentName: input.config.name, harnessId: input.harnessId, taskId: input.task.id, seed: input.seed, attempt: input.attempt, model: input.model.id };
}

async function runEpisodeTraced(input: EpisodeInput, telemetry: EpisodeTelemetry): Promise<EpisodeTrace> {
  const started = Date.now();
  const hardCap = input.hardStepCap ?? 100;
  const run = new EpisodeRun(input, telemetry);
  let endReason: EpisodeEndReason = 'hard_step_cap';
  let step = 0;
  // Steps that got past step_start. A step_start processor that ends the episode (the step budget: maxSteps
  // 14 interrupts at the start of step 15) ends it before that step reaches the model: it is not a step taken.
  let stepsTaken = 0;
  try {
    await run.taskStart();
    for (step = 1; step <= hardCap; step++) {
      if (step > 1) await run.maybeSwap(step);
      await run.stepStart(step);
      stepsTaken = step;
      const response = await run.modelTurn(step);
      const observation = await run.act(step, response);
      if (await run.stepEnd(step, observation)) {
        endReason = 'goal_reached';
        break;
      }
    }
  } catch (error) {
    endReason = run.stopped(error, step);
  }
  const success = input.env.isDone();
  await run.taskEnd(stepsTaken, success, endReason);
  telemetry.finished({ endReason, steps: stepsTaken, usage: run.usage });
  return {
    taskId: input.task.id,
    harnessId: run.harnessId,
    ...(run.swaps.length ? { harnessSwaps: run.swaps } : {}),
    model: input.model.id,
    seed: input.seed,
    attempt: input.attempt,
    systemPrompt: run.systemPrompt,
    instruction: input.task.instruction,
    records: run.trace.records,
    steps: stepsTaken,
    endReason,
    success,
    reward: success ? 1 : 0,
    usage: run.usage,
    durationMs: Date.now() - started,
  };
}

/** One episode in progress: the conversation so far, the attached processors, the trace and the token count. */
class EpisodeRun {
  readonly trace: TraceRecorder;
  readonly usage: Usage = { inputTokens: 0, outputTokens: 0 };
  systemPrompt = '';
  private history: Message[] = [];
  private readonly env: Environment;
  private readonly task: TaskView;
  /** The model as processors and the loop call it: every call is counted and traced. */
  private readonly model: Model;
  private readonly roles: Partial<Record<ModelRole, Model>>;
  private readonly ctx: ProcessorContext;
  private attached = {} as Record<HookName, Attached[]>;
  private fullTrace: boolean;
  /** The harness's cap on tool calls run per reply (unset: all). */
  private maxCallsPerStep: number | undefined;
  /** Compact traces: the context parts of the previous act call (see compactParts). */
  private previousParts = new Set<string>();
  /** The harness the current step runs under, and each mid-task swap so far. */
  harnessId: string;
  readonly swaps: Array<{ step: number; from: string; to: string }> = [];

  constructor(private readonly input: EpisodeInput, private readonly telemetry: EpisodeTelemetry) {
    const { config, env, task } = input;
    this.harnessId = input.harnessId;
    // Episodes that may swap stamp every record with its step's harness id, so a replay knows which version ran which step.
    this.trace = new TraceRecorder(input.onRecord, input.nextHarness ? () => this.harnessId : undefined);
    this.env = env;
    this.task = task;
    this.fullTrace = config.slots.tracer.level === 'full';
    this.maxCallsPerStep = config.slots.toolRegistry.maxCallsPerStep;
    this.model = this.traced(input.model);
    // Every role a processor or a routed step calls is counted and traced like the main model.
    this.roles = Object.fromEntries(Object.entries(input.models ?? {}).map(([role, m]) => [role, this.traced(m)]));
    this.ctx = {
      task,
      model: this.model,
      models: this.roles,
      ...(input.memory ? { memory: input.memory } : {}),
      ...(input.skills ? { skills: input.skills } : {}),
      env: { tools: () => env.tools(), admissibleActions: () => env.admissibleActions() },
      trace: this.trace,
      retryTool: async (call) => env.execute(call),
    };
    for (const hook of HOOKS) this.attached[hook] = this.attach(config, hook, []);
  }

  /** A hook's processors for `config`: those in `kept` with the same id, type and params carry over, with their state. */
  private attach(config: HarnessConfig, hook: HookName, kept: Attached[]): Attached[] {
    return config.hooks[hook].map((spec) => {
      const key = JSON.stringify([spec.type, spec.params ?? {}]);
      const same = kept.find((a) => a.id === spec.id && a.spec === key);
      if (same) return same;
      const def = getProcessorDefinition(spec.type);
      if (!def) throw new Error(`unknown processor type "${spec.type}" (processor "${spec.id}")`);
      return { id: spec.id, instance: def.create(def.params.parse(spec.params)), spec: key };
    });
  }

  /**
   * A step boundary where the deployment may have promoted a newer harness: the history stays; processors
   * carry over or start fresh (attach); task_end processors that leave get their task_end now; the system
   * prompt is rebuilt when the new harness's task_start processors differ.
   */
  async maybeSwap(step: number): Promise<void> {
    const next = this.input.nextHarness?.(step);
    if (!next || next.harnessId === this.harnessId) return;
    const previous = this.attached;
    const fresh = {} as Record<HookName, Attached[]>;
    for (const hook of HOOKS) fresh[hook] = this.attach(next.config, hook, previous[hook]);
    const leaving = previous.task_end.filter((a) => !fresh.task_end.includes(a));
    if (leaving.length) {
      this.attached.task_end = leaving;
      await this.taskEnd(step - 1, false, 'interrupted');
    }
    const startChanged = previous.task_start.length !== fresh.task_start.length || fresh.task_start.some((a, i) => a !== previous.task_start[i]);
    this.attached = fresh;
    const from = this.harnessId;
    this.harnessId = next.harnessId;
    this.swaps.push({ step, from, to: next.harnessId });
    this.trace.add({ kind: 'note', step, note: 'harness swap', data: { from, to: next.harnessId } });
    this.fullTrace = next.config.slots.tracer.level === 'full';
    this.maxCallsPerStep = next.config.slots.toolRegistry.maxCallsPerStep;
    if (startChanged) {
      const [start] = await this.runHook('task_start', { hook: 'task_start', task: this.task, systemPrompt: '', tools: this.env.tools() });
      this.systemPrompt = start.systemPrompt;
    }
  }

  /** task_start: processors set the system prompt; the task statement becomes the first user message. */
  async taskStart(): Promise<void> {
    const [start] = await this.runHook('task_start', { hook: 'task_start', task: this.task, systemPrompt: '', tools: this.env.tools() });
    this.systemPrompt = start.systemPrompt;
    this.history = [{ role: 'user', content: this.env.instruction() }];
  }

  /** step_start: processors may rewrite the history (windows, summaries) before the model sees it. */
  async stepStart(step: number): Promise<void> {
    this.trace.step = step;
    [{ history: this.history }] = await this.runHook('step_start', { hook: 'step_start', step, history: this.history });
  }

  /** The model's turn: before_model shapes the request, after_model the reply; the reply joins the history. */
  async modelTurn(step: number): Promise<ModelResponse> {
    const request: ModelRequest = {
      purpose: 'act',
      messages: [...(this.systemPrompt ? [{ role: 'system' as const, content: this.systemPrompt }] : []), ...this.history],
      parts: [],
      tools: this.env.tools(),
    };
    const [prepared] = await this.runHook('before_model', { hook: 'before_model', step, request });
    // A router processor may hand the step to another role of the harness; a role it lacks falls back to main.
    const route = prepared.request.route;
    const raw = await ((route && route !== 'main' ? this.roles[route] : undefined) ?? this.model).generate(prepared.request);
    const [{ response }] = await this.runHook('after_model', { hook: 'after_model', step, response: raw });
    // Every call stays in the history: the providers' protocols expect a result for each call id.
    this.history = [...this.history, { role: 'assistant', content: response.text, toolCalls: response.toolCalls }];
    return response;
  }

  /** Acting on the model's reply (its tool calls, else its text); returns the step's observation. */
  async act(step: number, response: ModelResponse): Promise<string> {
    if (response.toolCalls.length) return this.toolTurns(step, response.toolCalls);
    // An after_model processor (self_verify) held a final answer back: it reaches neither the user nor the task.
    if (response.meta?.heldBack) return this.heldBackTurn(step, String(response.meta.heldBack));
    if (this.env.respond) return this.userTurn(step, response.text);
    if (this.env.answer) return this.answerTurn(step, response.text);
    return this.noActionTurn(step);
  }

  /** A reply without a tool call where the task takes a final answer: it is given; isDone decides whether that ends the episode. */
  private answerTurn(step: number, text: string): string {
    this.env.answer!(text);
    this.trace.add({ kind: 'note', step, note: 'final answer', data: { answer: text } });
    return text;
  }

  /** A final answer an after_model processor held back (response.meta.heldBack names it): the model is asked to fix it and answer again. */
  private heldBackTurn(step: number, by: string): string {
    const observation = `Your answer was held back by the harness (${by}) and not given: fix what your last message says is missing, then give your final answer.`;
    this.history.push({ role: 'user', content: observation });
    this.trace.add({ kind: 'note', step, note: 'answer held back', data: { by } });
    return observation;
  }

  /** A reply without a tool call where no one listens: the model is reminded to act. */
  private noActionTurn(step: number): string {
    const observation = 'No action was taken: reply with exactly one tool call.';
    this.history.push({ role: 'user', content: observation });
    this.trace.add({ kind: 'error', step, message: 'model reply had no tool call' });
    return observation;
  }

  /** Conversational environments (customer service): a reply without a tool call goes to the user. */
  private async userTurn(step: number, agentText: string): Promise<string> {
    const answer = await this.env.respond!(agentText);
    this.history.push({ role: 'user', content: answer });
    this.trace.add({ kind: 'dialogue', step, agent: agentText, user: answer });
    return answer;
  }

  /**
   * A reply's tool calls, in the model's order, each a tool turn of its own with a result for its own call
   * id. Calls past the harness's per-step cap, or after a call that finished the task (a later move could
   * undo the goal), do not run: each is answered with an error result saying why, as the protocols need.
   */
  private async toolTurns(step: number, calls: ToolCall[]): Promise<string> {
    const cap = this.maxCallsPerStep ?? Infinity;
    const outputs: string[] = [];
    let finishedBy: number | null = null;
    for (const [index, call] of calls.entries()) {
      const why =
        index >= cap
          ? `Tool call not run: this harness runs at most ${cap} tool call${cap === 1 ? '' : 's'} per reply and this was call ${index + 1} of ${calls.length}. Send it again in your next reply if it is still needed.`
          : finishedBy !== null
            ? `Tool call not run: the task was already finished by call ${finishedBy} of ${calls.length} in this reply.`
            : undefined;
      outputs.push(why === undefined ? await this.toolTurn(step, call) : this.notRun(step, call, why));
      if (finishedBy === null && why === undefined && this.env.isDone()) finishedBy = index + 1;
    }
    return outputs.join('\n');
  }

  /** A call of the reply that the loop does not run: traced as refused, answered to its own id. */
  private notRun(step: number, call: ToolCall, why: string): string {
    const result: ToolResult = { ok: false, output: why, errorKind: 'blocked' };
    this.trace.add({ kind: 'tool_call', step, call, approved: false, rejection: why, result });
    this.history.push({ role: 'tool', content: why, toolCallId: call.id, isError: true });
    return why;
  }

  /**
   * The tool turn: before_tool may approve, rewrite, reject, split or intercept the call; each resulting
   * call runs (or is refused) and passes after_tool. Every result is answered to this call's id.
   */
  private async toolTurn(step: number, call: ToolCall): Promise<string> {
    const outputs: string[] = [];
    for (const checked of await this.runHook('before_tool', { hook: 'before_tool', step, call, approved: true })) {
      const result: ToolResult = await this.telemetry.tool(checked.call, () =>
        checked.approved
          ? this.env.execute(checked.call)
          : { ok: false, output: `Tool call rejected by the harness: ${checked.rejection ?? 'not approved'}`, errorKind: 'blocked' },
      );
      const [after] = await this.runHook('after_tool', { hook: 'after_tool', step, call: checked.call, result });
      this.trace.add({ kind: 'tool_call', step, call: checked.call, approved: checked.approved, rejection: checked.rejection, result: after.result });
      outputs.push(after.result.output);
      this.history.push({ role: 'tool', content: after.result.output, toolCallId: call.id, isError: !after.result.ok });
    }
    if (outputs.length === 0) {
      const text = 'The tool call was intercepted by the harness; nothing happened.';
      this.history.push({ role: 'tool', content: text, toolCallId: call.id, isError: true });
      outputs.push(text);
    }
    return outputs.join('\n');
  }

  /** step_end: processors see the observation (notes, tracing); returns whether the environment is done. */
  async stepEnd(step: number, observation: string): Promise<boolean> {
    const done = this.env.isDone();
    await this.runHook('step_end', { hook: 'step_end', step, observation, done });
    return done;
  }

  /** Why the episode stopped early: an interrupt (a step budget) or a processor failure; anything else is a bug and propagates. */
  stopped(error: unknown, step: number): EpisodeEndReason {
    if (error instanceof EpisodeInterrupted) return error.reason === 'step_budget_exhausted' ? 'step_budget_exhausted' : 'interrupted';
    if (!(error instanceof ProcessorError)) throw error;
    this.trace.add({ kind: 'error', step, message: error.message, processorId: error.processorId, hook: error.hook });
    return 'harness_error';
  }

  /** task_end: processors see the outcome; a failure here is recorded, never changes it. */
  async taskEnd(steps: number, success: boolean, reason: EpisodeEndReason): Promise<void> {
    try {
      await this.runHook('task_end', { hook: 'task_end', steps, success, reason });
    } catch (error) {
      if (!(error instanceof ProcessorError || error instanceof EpisodeInterrupted)) throw error;
      this.trace.add({ kind: 'error', step: steps, message: error.message });
    }
  }

  /**
   * One hook's processors, in order, each over every event the previous one yielded. Outputs are checked
   * against the hook's contract; only before_tool may yield other than one event (split or intercept).
   */
  private async runHook<H extends HookName>(hook: H, event: EventOf<H>): Promise<EventOf<H>[]> {
    const attached = this.attached[hook];
    let events: HookEvent[] = [event];
    let outcome: 'ok' | 'split' | 'intercept' = 'ok';
    for (const p of attached) {
      const next: HookEvent[] = [];
      for (const e of events) {
        try {
          for await (const out of p.instance.process(e, this.ctx)) {
            if (isInterrupt(out)) {
              this.trace.add({ kind: 'hook', hook, step: this.trace.step, processors: attached.map((x) => x.id), outcome: 'interrupt' });
              throw new EpisodeInterrupted(out.reason);
            }
            checkContract(p.id, e, out);
            next.push(out);
          }
        } catch (error) {
          if (error instanceof EpisodeInterrupted) throw error;
          throw new ProcessorError(p.id, hook, error);
        }
      }
      if (SINGLE_EVENT_HOOKS.has(hook) && next.length !== 1)
        throw new ProcessorError(p.id, hook, new HookContractViolation(p.id, hook, 'events', `yielded ${next.length} events; only before_tool may split or intercept`));
      if (next.length > events.length) outcome = 'split';
      if (next.length < events.length) outcome = 'intercept';
      events = next;
    }
    // Compact traces (the default) keep only hook records where something happened besides pass-through.
    if (attached.length && (this.fullTrace || outcome !== 'ok')) this.trace.add({ kind: 'hook', hook, step: this.trace.step, processors: attached.map((x) => x.id), outcome });
    return events as EventOf<H>[];
  }

  /** The model, with each call's tokens counted and the call recorded in the trace. */
  private traced(model: Model): Model {
    return {
      id: model.id,
      generate: async (request: ModelRequest) => {
        const t0 = Date.now();
        const response = await this.telemetry.chat(model.id, request, () => model.generate(request));
        this.usage.inputTokens += response.usage.inputTokens;
        this.usage.outputTokens += response.usage.outputTokens;
        this.trace.add({
          kind: 'model_call',
          step: this.trace.step,
          purpose: request.purpose,
          request: {
            messageCount: request.messages.length,
            newMessages: request.purpose === 'act' ? this.trace.newMessages(request.messages) : request.messages,
            ...this.compactParts(request),
          },
          response: { text: response.text, toolCalls: response.toolCalls, stopReason: response.stopReason, ...(response.meta ? { meta: response.meta } : {}) },
          usage: response.usage,
          latencyMs: Date.now() - t0,
          model: response.model,
        });
        return response;
      },
    };
  }

  /**
   * Context parts as the trace keeps them. Full: all of them, with their data. Compact: what the model read
   * (kind and text, not the processors' structured data, which mirrors the text), and of act calls only
   * the parts that differ from the previous act call's (the others are counted in carriedParts):
   * processors such as plans and notes resend the same part every step, and the trace should not store
   * it every step.
   */
  private compactParts(request: ModelRequest): { parts: ModelRequest['parts']; carriedParts?: number } {
    if (this.fullTrace) return { parts: request.parts };
    const textOnly = (parts: ModelRequest['parts']) => parts.map((p) => ({ kind: p.kind, text: p.text }));
    if (request.purpose !== 'act') return { parts: textOnly(request.parts) };
    const keys = request.parts.map((p) => `${p.kind}\u0000${p.text}`);
    const fresh = request.parts.filter((_, i) => !this.previousParts.has(keys[i]));
    const carried = request.parts.length - fresh.length;
    this.previousParts = new Set(keys);
    return carried ? { parts: textOnly(fresh), carriedParts: carried } : { parts: textOnly(fresh) };
  }
}

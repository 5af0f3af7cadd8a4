import type { HarnessConfig } from './config';
import { checkContract, HookContractViolation } from './contracts';
import type { EnvironmentView, Model, ProcessorContext, ProcessorInstance } from './processor';
import { getProcessorDefinition } from './processors';
import { EpisodeTrace, TraceRecorder } from './trace';
import {
  EpisodeEndReason,
  EventOf,
  HOOKS,
  HookEvent,
  HookName,
  isInterrupt,
  Message,
  ModelRequest,
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
}

export interface EpisodeInput {
  config: HarnessConfig;
  harnessId: string;
  env: Environment;
  model: Model;
  task: TaskView;
  seed: string;
  attempt: number;
  /** A safety net above any step_budget processor. */
  hardStepCap?: number;
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
}

const SINGLE_EVENT_HOOKS = new Set<HookName>(HOOKS.filter((h) => h !== 'before_tool'));

/**
 * Runs one episode of a harness on an environment. Every processor output is checked against its hook's
 * contract; a violation ends the episode as a harness error naming processor, hook and field. The
 * environment's verifier is not called here: the benchmark scores the finished environment.
 */
export async function runEpisode(input: EpisodeInput): Promise<EpisodeTrace> {
  const started = Date.now();
  const { config, env, model, task } = input;
  const trace = new TraceRecorder();
  const usage: Usage = { inputTokens: 0, outputTokens: 0 };
  const hardCap = input.hardStepCap ?? 100;

  const fullTrace = config.slots.tracer.level === 'full';
  /**
   * Context parts as the trace keeps them. Full: all of them, with their data. Compact: what the model read
   * (kind and text, not the processors' structured data, which mirrors the text), and of act calls only
   * the parts that differ from the previous act call's (the others are counted in carriedParts):
   * processors such as plans and notes resend the same part every step, and the trace should not store
   * it every step.
   */
  let previousParts = new Set<string>();
  const compactParts = (request: ModelRequest): { parts: ModelRequest['parts']; carriedParts?: number } => {
    if (fullTrace) return { parts: request.parts };
    const textOnly = (parts: ModelRequest['parts']) => parts.map((p) => ({ kind: p.kind, text: p.text }));
    if (request.purpose !== 'act') return { parts: textOnly(request.parts) };
    const keys = request.parts.map((p) => `${p.kind}\u0000${p.text}`);
    const fresh = request.parts.filter((_, i) => !previousParts.has(keys[i]));
    const carried = request.parts.length - fresh.length;
    previousParts = new Set(keys);
    return carried ? { parts: textOnly(fresh), carriedParts: carried } : { parts: textOnly(fresh) };
  };

  const tracedModel: Model = {
    id: model.id,
    async generate(request: ModelRequest) {
      const t0 = Date.now();
      const response = await model.generate(request);
      usage.inputTokens += response.usage.inputTokens;
      usage.outputTokens += response.usage.outputTokens;
      trace.add({
        kind: 'model_call',
        step: trace.step,
        purpose: request.purpose,
        request: {
          messageCount: request.messages.length,
          newMessages: request.purpose === 'act' ? trace.newMessages(request.messages) : request.messages,
          ...compactParts(request),
        },
        response: { text: response.text, toolCalls: response.toolCalls, stopReason: response.stopReason, ...(response.meta ? { meta: response.meta } : {}) },
        usage: response.usage,
        latencyMs: Date.now() - t0,
        model: response.model,
      });
      return response;
    },
  };

  const ctx: ProcessorContext = {
    task,
    model: tracedModel,
    env: { tools: () => env.tools(), admissibleActions: () => env.admissibleActions() },
    trace,
    retryTool: async (call) => env.execute(call),
  };

  const attached = {} as Record<HookName, Attached[]>;
  for (const hook of HOOKS) {
    attached[hook] = config.hooks[hook].map((spec) => {
      const def = getProcessorDefinition(spec.type);
      if (!def) throw new Error(`unknown processor type "${spec.type}" (processor "${spec.id}")`);
      return { id: spec.id, instance: def.create(def.params.parse(spec.params)) };
    });
  }

  async function runHook<H extends HookName>(hook: H, event: EventOf<H>): Promise<EventOf<H>[]> {
    let events: HookEvent[] = [event];
    let outcome: 'ok' | 'split' | 'intercept' = 'ok';
    for (const p of attached[hook]) {
      const next: HookEvent[] = [];
      for (const e of events) {
        try {
          for await (const out of p.instance.process(e, ctx)) {
            if (isInterrupt(out)) {
              trace.add({ kind: 'hook', hook, step: trace.step, processors: attached[hook].map((x) => x.id), outcome: 'interrupt' });
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
    if (attached[hook].length && (fullTrace || outcome !== 'ok')) trace.add({ kind: 'hook', hook, step: trace.step, processors: attached[hook].map((x) => x.id), outcome });
    return events as EventOf<H>[];
  }

  let endReason: EpisodeEndReason = 'hard_step_cap';
  let systemPrompt = '';
  let step = 0;
  try {
    const [start] = await runHook('task_start', { hook: 'task_start', task, systemPrompt: '', tools: env.tools() });
    systemPrompt = start.systemPrompt;
    let history: Message[] = [{ role: 'user', content: env.instruction() }];
    for (step = 1; step <= hardCap; step++) {
      trace.step = step;
      [{ history }] = await runHook('step_start', { hook: 'step_start', step, history });
      const request: ModelRequest = {
        purpose: 'act',
        messages: [...(systemPrompt ? [{ role: 'system' as const, content: systemPrompt }] : []), ...history],
        parts: [],
        tools: env.tools(),
      };
      const [prepared] = await runHook('before_model', { hook: 'before_model', step, request });
      const raw = await tracedModel.generate(prepared.request);
      const [{ response }] = await runHook('after_model', { hook: 'after_model', step, response: raw });
      // Only the first tool call acts: the environments take one action per step.
      const calls = response.toolCalls.slice(0, 1);
      history = [...history, { role: 'assistant', content: response.text, toolCalls: calls }];
      let observation: string;
      if (calls.length === 0 && env.respond) {
        // Conversational environments (customer service): a reply without a tool call goes to the user.
        observation = await env.respond(response.text);
        history.push({ role: 'user', content: observation });
        trace.add({ kind: 'dialogue', step, agent: response.text, user: observation });
      } else if (calls.length === 0) {
        observation = 'No action was taken: reply with exactly one tool call.';
        history.push({ role: 'user', content: observation });
        trace.add({ kind: 'error', step, message: 'model reply had no tool call' });
      } else {
        const outputs: string[] = [];
        for (const checked of await runHook('before_tool', { hook: 'before_tool', step, call: calls[0], approved: true })) {
          const result: ToolResult = checked.approved
            ? await env.execute(checked.call)
            : { ok: false, output: `Tool call rejected by the harness: ${checked.rejection ?? 'not approved'}`, errorKind: 'blocked' };
          const [after] = await runHook('after_tool', { hook: 'after_tool', step, call: checked.call, result });
          trace.add({ kind: 'tool_call', step, call: checked.call, approved: checked.approved, rejection: checked.rejection, result: after.result });
          outputs.push(after.result.output);
          history.push({ role: 'tool', content: after.result.output, toolCallId: calls[0].id, isError: !after.result.ok });
        }
        if (outputs.length === 0) {
          const text = 'The tool call was intercepted by the harness; nothing happened.';
          history.push({ role: 'tool', content: text, toolCallId: calls[0].id, isError: true });
          outputs.push(text);
        }
        observation = outputs.join('\n');
      }
      const done = env.isDone();
      await runHook('step_end', { hook: 'step_end', step, observation, done });
      if (done) {
        endReason = 'goal_reached';
        break;
      }
    }
  } catch (error) {
    if (error instanceof EpisodeInterrupted) endReason = error.reason === 'step_budget_exhausted' ? 'step_budget_exhausted' : 'interrupted';
    else if (error instanceof ProcessorError) {
      endReason = 'harness_error';
      trace.add({ kind: 'error', step, message: error.message, processorId: error.processorId, hook: error.hook });
    } else throw error;
  }
  const success = env.isDone();
  try {
    await runHook('task_end', { hook: 'task_end', steps: step, success, reason: endReason });
  } catch (error) {
    if (!(error instanceof ProcessorError || error instanceof EpisodeInterrupted)) throw error;
    trace.add({ kind: 'error', step, message: error.message });
  }
  return {
    taskId: task.id,
    harnessId: input.harnessId,
    model: model.id,
    seed: input.seed,
    attempt: input.attempt,
    systemPrompt,
    instruction: task.instruction,
    records: trace.records,
    steps: Math.min(step, hardCap),
    endReason,
    success,
    reward: success ? 1 : 0,
    usage,
    durationMs: Date.now() - started,
  };
}

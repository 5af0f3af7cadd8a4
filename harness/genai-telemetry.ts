/**
 * OpenTelemetry spans for episodes, following the GenAI semantic conventions (agent spans and model/tool
 * spans; development status, attribute names as of the semantic-conventions-genai repository): one
 * `invoke_agent {harness name}` span per episode, a `chat {model}` span per model call and an
 * `execute_tool {tool}` span per tool call, nested under it.
 *
 * Only @opentelemetry/api is used here: without a registered SDK (telemetry/start-telemetry.ts registers
 * one when OTEL_EXPORTER_OTLP_ENDPOINT is set) every span is a no-op. An episode whose span does not
 * record (no SDK, or sampled out) creates no child spans at all, so turning tracing off costs one no-op
 * span per episode.
 *
 * Children are parented explicitly on the episode's context rather than on the active context, so they
 * nest correctly across awaits and concurrent episodes whatever context manager (if any) is installed.
 *
 * Message content (prompts, replies, tool arguments and results) is recorded only when the user opts in
 * with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true, and then redacted against the process's
 * credentials (harness/redact.ts).
 */
import { type Attributes, context, type Context, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { redact, secretsFromEnvironment } from './redact';
import type { EpisodeEndReason, Message, ModelRequest, ModelResponse, ToolCall, ToolResult, Usage } from './types';

/** The instrumentation scope of every HarnessX span. */
export const TRACER_NAME = 'harnessx';

/** The environment variable of the GenAI instrumentations that opts in to recording message content. */
export const CAPTURE_CONTENT_ENV = 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT';

/** Our model-string providers → gen_ai.provider.name (the convention's value where it has one). */
const PROVIDER_NAMES: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  // An OpenAI-protocol server (vLLM, Ollama, …) whose real provider we cannot know: a custom value, as the
  // convention allows, rather than claiming it is OpenAI.
  'openai-compatible': 'openai-compatible',
  sim: 'harnessx.simulator',
};

/**
 * gen_ai.provider.name, gen_ai.request.model and, for a model string that names its endpoint
 * ("openai-compatible:qwen3.5-9b@http://gpu-1:8000/v1"), server.address and server.port: the endpoint is
 * where the convention puts it, never in the model name (dashboards group by model name).
 */
export function genAiModel(modelId: string): { provider: string; model: string; serverAddress?: string; serverPort?: number } {
  const at = modelId.indexOf(':');
  if (at <= 0) return { provider: '_OTHER', model: modelId };
  const prefix = modelId.slice(0, at);
  const provider = PROVIDER_NAMES[prefix] ?? prefix;
  const rest = modelId.slice(at + 1);
  const endpoint = endpointOf(rest);
  if (!endpoint) return { provider, model: rest };
  return { provider, model: rest.slice(0, endpoint.at), serverAddress: endpoint.url.hostname.replace(/^\[|\]$/g, ''), serverPort: endpoint.port };
}

/** The "@<http(s) URL>" a model string ends with, if any; the URL's port, or its scheme's default. */
function endpointOf(spec: string): { at: number; url: URL; port: number } | null {
  const at = spec.lastIndexOf('@');
  if (at <= 0 || !/^https?:\/\//i.test(spec.slice(at + 1))) return null;
  let url: URL;
  try {
    url = new URL(spec.slice(at + 1));
  } catch {
    return null;
  }
  return { at, url, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 };
}

/** The model's attributes on a span: provider, model name and, where the string names one, the endpoint. */
function modelAttributes(modelId: string): Attributes {
  const { provider, model, serverAddress, serverPort } = genAiModel(modelId);
  return {
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': model,
    ...(serverAddress !== undefined ? { 'server.address': serverAddress, 'server.port': serverPort } : {}),
  };
}

/** Our stop reasons → gen_ai.response.finish_reasons values (the OpenAI-style names the convention uses). */
const FINISH_REASONS: Record<ModelResponse['stopReason'], string> = {
  end_turn: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  error: 'error',
};

export function captureContentEnabled(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return (env[CAPTURE_CONTENT_ENV] ?? '').trim().toLowerCase() === 'true';
}

/** What names an episode in its span. */
export interface EpisodeSpanInfo {
  /** The harness config's name: gen_ai.agent.name and the span name. */
  agentName: string;
  harnessId: string;
  taskId: string;
  seed: string;
  attempt: number;
  /** The string (provider:name) of the model the agent calls: the one the run uses, not the harness file's. */
  model: string;
}

/** The convention's message parts (gen-ai-input-messages.json / gen-ai-output-messages.json). */
type MessagePart =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id: string; response: string };

function messageParts(message: Message): MessagePart[] {
  if (message.role === 'tool') return [{ type: 'tool_call_response', id: message.toolCallId ?? '', response: message.content }];
  const parts: MessagePart[] = message.content ? [{ type: 'text', content: message.content }] : [];
  for (const call of message.toolCalls ?? []) parts.push({ type: 'tool_call', id: call.id, name: call.name, arguments: call.args });
  return parts;
}

/**
 * One episode's telemetry: its agent span and the context its children hang from. runEpisode opens one
 * unless the caller passes its own (aegis's runOneEpisode does, to record the reward after scoring).
 */
export class EpisodeTelemetry {
  /** False without an SDK or when sampled out: then no child span is created. */
  readonly recording: boolean;
  private readonly tracer: Tracer;
  private readonly span: Span;
  private readonly context: Context;
  private readonly capture: boolean;
  private secrets: string[] | null = null;
  private ended = false;
  /** The model that answered the episode's latest call (a fallback, a dated version): the agent span's response model. */
  private responseModel: string | null = null;

  private constructor(info: EpisodeSpanInfo, parent: Context) {
    // Looked up per episode, not once per process: a provider registered (or replaced, in tests) later is used.
    this.tracer = trace.getTracer(TRACER_NAME);
    this.span = this.tracer.startSpan(
      `invoke_agent ${info.agentName}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          ...modelAttributes(info.model),
          'gen_ai.agent.name': info.agentName,
          'gen_ai.agent.id': info.harnessId,
          // An episode is one conversation; its seed (run seed, task, attempt) names it uniquely within a run.
          'gen_ai.conversation.id': info.seed,
          'harnessx.harness.id': info.harnessId,
          'harnessx.task.id': info.taskId,
          'harnessx.episode.seed': info.seed,
          'harnessx.episode.attempt': info.attempt,
        },
      },
      parent,
    );
    this.recording = this.span.isRecording();
    this.context = trace.setSpan(parent, this.span);
    this.capture = this.recording && captureContentEnabled();
  }

  /** Opens the episode's agent span under the active context (a caller's span, when there is one). */
  static start(info: EpisodeSpanInfo): EpisodeTelemetry {
    return new EpisodeTelemetry(info, context.active());
  }

  /** Runs fn with the episode's span active (for instrumentation inside it that uses the active context). */
  within<T>(fn: () => T): T {
    return this.recording ? context.with(this.context, fn) : fn();
  }

  /** One model call as a `chat {model}` span (not recording: just the call, no extra promise). */
  chat(modelId: string, request: ModelRequest, call: () => Promise<ModelResponse>): Promise<ModelResponse> {
    return this.recording ? this.recordChat(modelId, request, call) : call();
  }

  private async recordChat(modelId: string, request: ModelRequest, call: () => Promise<ModelResponse>): Promise<ModelResponse> {
    const { model } = genAiModel(modelId);
    const attributes: Attributes = {
      'gen_ai.operation.name': 'chat',
      ...modelAttributes(modelId),
      'harnessx.request.purpose': request.purpose,
    };
    if (request.temperature !== undefined) attributes['gen_ai.request.temperature'] = request.temperature;
    if (request.maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = request.maxTokens;
    if (this.capture) {
      attributes['gen_ai.input.messages'] = this.redacted(JSON.stringify(this.inputMessages(request)));
      if (request.tools.length) attributes['gen_ai.tool.definitions'] = this.redacted(JSON.stringify(request.tools.map((t) => ({ type: 'function', name: t.name, description: t.description }))));
    }
    const span = this.tracer.startSpan(`chat ${model}`, { kind: SpanKind.CLIENT, attributes }, this.context);
    try {
      const response = await context.with(trace.setSpan(this.context, span), call);
      this.responseModel = genAiModel(response.model).model;
      span.setAttributes({
        'gen_ai.response.model': this.responseModel,
        'gen_ai.usage.input_tokens': response.usage.inputTokens,
        'gen_ai.usage.output_tokens': response.usage.outputTokens,
        'gen_ai.response.finish_reasons': [FINISH_REASONS[response.stopReason] ?? response.stopReason],
      });
      if (this.capture) {
        const output = [{ role: 'assistant', parts: messageParts({ role: 'assistant', content: response.text, toolCalls: response.toolCalls }), finish_reason: FINISH_REASONS[response.stopReason] ?? response.stopReason }];
        span.setAttribute('gen_ai.output.messages', this.redacted(JSON.stringify(output)));
      }
      return response;
    } catch (error) {
      this.recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * One tool call as an `execute_tool {name}` span. A result that is not ok (a failed precondition, bad
   * arguments, a call the harness blocked) sets the span's status to error with the kind as error.type.
   */
  tool(call: ToolCall, execute: () => ToolResult | Promise<ToolResult>): ToolResult | Promise<ToolResult> {
    return this.recording ? this.recordTool(call, execute) : execute();
  }

  private async recordTool(call: ToolCall, execute: () => ToolResult | Promise<ToolResult>): Promise<ToolResult> {
    const attributes: Attributes = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': call.name,
      'gen_ai.tool.call.id': call.id,
      'gen_ai.tool.type': 'function',
    };
    if (this.capture) attributes['gen_ai.tool.call.arguments'] = this.redacted(JSON.stringify(call.args));
    const span = this.tracer.startSpan(`execute_tool ${call.name}`, { kind: SpanKind.INTERNAL, attributes }, this.context);
    try {
      const result = await context.with(trace.setSpan(this.context, span), execute);
      if (!result.ok) {
        span.setAttribute('error.type', result.errorKind ?? '_OTHER');
        span.setStatus({ code: SpanStatusCode.ERROR, message: result.errorKind === 'blocked' ? 'blocked by the harness' : `tool call failed (${result.errorKind ?? 'error'})` });
      }
      if (this.capture) span.setAttribute('gen_ai.tool.call.result', this.redacted(result.output));
      return result;
    } catch (error) {
      this.recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /** The run loop's outcome: why the episode ended, its steps and its task-model tokens. */
  finished(outcome: { endReason: EpisodeEndReason; steps: number; usage: Usage }): void {
    if (!this.recording) return;
    this.span.setAttributes({
      'harnessx.episode.end_reason': outcome.endReason,
      'harnessx.episode.steps': outcome.steps,
      'gen_ai.usage.input_tokens': outcome.usage.inputTokens,
      'gen_ai.usage.output_tokens': outcome.usage.outputTokens,
      ...(this.responseModel !== null ? { 'gen_ai.response.model': this.responseModel } : {}),
    });
    if (outcome.endReason === 'harness_error') {
      this.span.setAttribute('error.type', 'harness_error');
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: 'a processor failed' });
    }
  }

  /** The verifier's score, when the episode was scored (evolution; createAgent runs have none). */
  scored(reward: number, success: boolean): void {
    if (this.recording) this.span.setAttributes({ 'harnessx.episode.reward': reward, 'harnessx.episode.success': success });
  }

  /** Something escaped the episode (a bug, a provider failure that was not retried away). */
  failed(error: unknown): void {
    if (this.recording) this.recordError(this.span, error);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end();
  }

  private recordError(span: Span, error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    // A provider error's kind (rate_limited, unavailable, …) is the low-cardinality class the convention asks for.
    const kind = (error as { kind?: unknown })?.kind;
    span.setAttribute('error.type', typeof kind === 'string' ? kind : e.name || '_OTHER');
    // Messages can quote a request or a key: redacted always, not only when content capture is on.
    span.recordException({ name: e.name, message: this.redacted(e.message), ...(e.stack ? { stack: this.redacted(e.stack) } : {}) });
    span.setStatus({ code: SpanStatusCode.ERROR, message: this.redacted(e.message).slice(0, 500) });
  }

  /** The messages the provider sees: the history, then the context parts as one final user text (models/tool-schema.ts renderParts). */
  private inputMessages(request: ModelRequest): Array<{ role: Message['role']; parts: MessagePart[] }> {
    const messages = request.messages.map((m) => ({ role: m.role, parts: messageParts(m) }));
    if (request.parts.length) messages.push({ role: 'user', parts: request.parts.map((p) => ({ type: 'text' as const, content: `<context kind="${p.kind}">\n${p.text}\n</context>` })) });
    return messages;
  }

  private redacted(text: string): string {
    this.secrets ??= secretsFromEnvironment();
    return redact(text, this.secrets);
  }
}

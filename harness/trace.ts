import type { ContextPart, EpisodeEndReason, HookName, Message, ToolCall, ToolResult, Usage } from './types';

/**
 * One episode's record. Model requests are stored as their newest messages plus counts (the full
 * conversation is the concatenation), so a trace grows linearly with the episode, not quadratically.
 */
export type TraceRecord = (
  | { kind: 'hook'; hook: HookName; step: number; processors: string[]; outcome: 'ok' | 'interrupt' | 'split' | 'intercept' }
  | {
      kind: 'model_call';
      step: number;
      purpose: string;
      /** parts: all of them, with data, in full traces; in compact ones kind and text only, and only those not sent unchanged on the previous act call (carriedParts counts those). */
      request: { messageCount: number; newMessages: Message[]; parts: ContextPart[]; carriedParts?: number };
      response: { text: string; toolCalls: ToolCall[]; stopReason: string; meta?: Record<string, unknown> };
      usage: Usage;
      latencyMs: number;
      model: string;
    }
  | { kind: 'tool_call'; step: number; call: ToolCall; approved: boolean; rejection?: string; result: ToolResult }
  | { kind: 'note'; step: number; note: string; data: unknown }
  | { kind: 'dialogue'; step: number; agent: string; user: string }
  | { kind: 'error'; step: number; message: string; processorId?: string; hook?: HookName }
) & {
  /** The harness the record's step ran under; set in episodes that may swap harness mid-task (a deployment's between-steps). */
  harnessId?: string;
};

export interface EpisodeTrace {
  taskId: string;
  harnessId: string;
  model: string;
  seed: string;
  attempt: number;
  systemPrompt: string;
  instruction: string;
  records: TraceRecord[];
  /** Steps taken: a step that a step_start processor ends before the model is called (the step budget) does not count, so maxSteps 14 gives at most 14. */
  steps: number;
  endReason: EpisodeEndReason;
  success: boolean;
  reward: number;
  /** The reward's components where the benchmark has several (tau2: DB, COMMUNICATE, NL_ASSERTION). */
  rewardBreakdown?: Record<string, unknown>;
  usage: Usage;
  durationMs: number;
  /** Mid-task swaps: at the start of `step` the episode moved from one harness to the next (harnessId is the last). */
  harnessSwaps?: Array<{ step: number; from: string; to: string }>;
}

export class TraceRecorder {
  readonly records: TraceRecord[] = [];
  step = 0;
  private lastMessageCount = 0;

  /** onRecord sees each record as it is added: createAgent streams an episode's steps from it while it runs. */
  constructor(
    private readonly onRecord?: (record: TraceRecord) => void,
    private readonly harnessOfStep?: () => string,
  ) {}

  add(record: TraceRecord): void {
    if (this.harnessOfStep) record = { ...record, harnessId: this.harnessOfStep() };
    this.records.push(record);
    this.onRecord?.(record);
  }

  note(note: string, data: unknown): void {
    this.add({ kind: 'note', step: this.step, note, data });
  }

  /** The messages added since the previous model call (all of them after history compaction). */
  newMessages(messages: Message[]): Message[] {
    const fresh = messages.length >= this.lastMessageCount ? messages.slice(this.lastMessageCount) : messages;
    this.lastMessageCount = messages.length;
    return fresh;
  }
}

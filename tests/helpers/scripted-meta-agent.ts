import type { RecordedRequest, WireReply } from './wire-server';

export type MetaStage = 'digest' | 'plan' | 'evolve' | 'critique' | 'revise';

export interface ScriptedTurn {
  stage: MetaStage;
  /** The model's reply text (a string is sent as is, so malformed replies can be scripted). */
  reply: (user: Record<string, unknown>, request: RecordedRequest) => unknown;
  /** Serves every consecutive call of this stage (the Digester makes one call per chunk of tasks). */
  repeat?: boolean;
  /** The usage the reply reports, in Anthropic's fields (e.g. cache_read_input_tokens); 1000 in, 200 out by default. */
  usage?: Record<string, number>;
}

/** The system prompt's text: a string, or (with prompt caching) a list of text blocks. */
export function systemText(body: Record<string, unknown>): string {
  const system = body.system;
  return Array.isArray(system) ? system.map((b: { text?: string }) => b.text ?? '').join('\n') : String(system ?? '');
}

/** Which stage a request is for, from the system prompt the LLM meta-agent sends. */
export function stageOf(body: Record<string, unknown>): MetaStage | null {
  const system = systemText(body);
  if (system.startsWith('You are the Digester')) return 'digest';
  if (system.startsWith('You are the Planner')) return 'plan';
  if (system.includes('Now revise ONE candidate')) return 'revise';
  if (system.startsWith('You are the Evolver')) return 'evolve';
  if (system.startsWith('You are the Critic')) return 'critique';
  return null;
}

/** The JSON the stage was given (first user turn), and whether this call is a repair attempt. */
export function userPayload(body: Record<string, unknown>): { user: Record<string, unknown>; repair: boolean } {
  const messages = body.messages as Array<{ role: string; content: Array<{ type: string; text?: string }> }>;
  return { user: JSON.parse(messages[0].content[0].text ?? '{}'), repair: messages.length > 1 };
}

const anthropicText = (text: string) => ({
  id: 'msg_scripted', type: 'message', role: 'assistant', model: 'claude-scripted',
  content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1000, output_tokens: 200 },
});

/** A forced-tool reply: the structured value as the tool's input (what Anthropic sends for tool_choice "tool"). */
export const anthropicForcedTool = (name: string, input: unknown, usage: Record<string, number> = { input_tokens: 1000, output_tokens: 200 }) => ({
  id: 'msg_scripted', type: 'message', role: 'assistant', model: 'claude-scripted',
  content: [{ type: 'tool_use', id: 'toolu_scripted', name, input }], stop_reason: 'tool_use', stop_sequence: null, usage,
});

/** The forced tool a request names, if it asks for a structured reply natively. */
export function forcedTool(body: Record<string, unknown>): string | null {
  const choice = body.tool_choice as { type?: string; name?: string } | undefined;
  return choice?.type === 'tool' && choice.name ? choice.name : null;
}

/**
 * A scripted meta-agent behind the Anthropic wire protocol: each call must be the stage the script expects
 * next, else it answers 400 (non-retryable, so the run fails loudly) and records the mismatch.
 * `assertConsumed` fails when scripted turns were never used.
 */
export function scriptedMetaAgent(turns: ScriptedTurn[]) {
  const queue = [...turns];
  const log: Array<{ stage: MetaStage | null; repair: boolean }> = [];
  const unexpected: string[] = [];
  const respond = (req: RecordedRequest): WireReply => {
    const stage = stageOf(req.body);
    const { user, repair } = userPayload(req.body);
    log.push({ stage, repair });
    while (queue[0]?.repeat && queue[0].stage !== stage) queue.shift();
    const turn = queue[0];
    if (!turn || turn.stage !== stage) {
      unexpected.push(`call #${log.length}: got ${stage}${repair ? ' (repair)' : ''}, script expected ${turn?.stage ?? 'no more calls'}`);
      return { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: `scripted meta-agent: ${unexpected[unexpected.length - 1]}` } } };
    }
    if (!turn.repeat) queue.shift();
    const reply = turn.reply(user, req);
    // Objects come back as the provider returns a native structured reply; strings (malformed replies) as text.
    const tool = forcedTool(req.body);
    if (tool && typeof reply !== 'string') return { body: anthropicForcedTool(tool, reply, turn.usage) };
    return { body: { ...anthropicText(typeof reply === 'string' ? reply : JSON.stringify(reply)), ...(turn.usage ? { usage: turn.usage } : {}) } };
  };
  return {
    respond,
    log,
    unexpected,
    assertConsumed() {
      const left = queue.filter((t) => !t.repeat);
      if (left.length || unexpected.length) throw new Error(`scripted meta-agent: ${left.length} turn(s) unused (${left.map((t) => t.stage).join(', ')}); unexpected: ${unexpected.join('; ') || 'none'}`);
    },
  };
}

/** A Digester reply that covers every task it was given. */
export function digestAll(user: Record<string, unknown>, category = 'loop') {
  const tasks = user.tasks as Array<{ taskId: string; autoEvidence: string[] }>;
  return { tasks: tasks.map((t) => ({ taskId: t.taskId, summary: 'The agent returns to states it has already visited and runs out of steps.', category, evidence: [t.autoEvidence[0] ?? 'ended without reaching the goal'], implicated: ['missing:loop_detection'] })) };
}

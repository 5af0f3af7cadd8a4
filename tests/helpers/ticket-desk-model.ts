import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * The task model for tests of the ticket-desk example (examples/ticket-desk): a local server speaking the
 * OpenAI Chat Completions wire protocol that plays each task's gold tool calls (tasks.jsonl `reference`),
 * one per request, then answers with the task's `referenceAnswer`. It reads only the request: the task from
 * the instruction in the user message, its progress from the tool results so far.
 *
 * It has one deliberate weakness, the kind small open models have: it writes priority values capitalised
 * ("High", "Urgent") although the tool's JSON Schema says lowercase. The MCP server rejects those calls
 * (an input validation error), and the model then gives up with a final answer instead of retrying, so
 * under the seed harness every task whose gold solution sets or filters by priority fails as a format error.
 * The arg_validation processor (one of the rules meta-agent's format_error remedies) lowercases enum values
 * before the call reaches the tool, and those tasks then pass: an evolve run on this suite has an edit to ship.
 *
 * Anything it does not expect is answered with HTTP 500 and a message, and recorded in `errors`: a request
 * whose instruction is no task's, a history that does not follow the script, a tool error on a call it made
 * correctly, a search result that lacks the ticket it is about to act on, a hidden tool offered to the model,
 * a streaming request, a request after its final answer. Tests assert `errors` is empty.
 */

export interface TicketDeskTask {
  id: string;
  instruction: string;
  reference: Array<{ name: string; args: Record<string, unknown> }>;
  referenceAnswer?: string;
}

export const TICKET_DESK_DIR = join(__dirname, '..', '..', 'examples', 'ticket-desk');

/** The example's tasks, as its tasks.jsonl has them. */
export function loadTicketDeskTasks(): TicketDeskTask[] {
  const file = join(TICKET_DESK_DIR, 'tasks.jsonl');
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line, i) => {
      const task = JSON.parse(line) as TicketDeskTask;
      if (!task.id || !task.instruction || !Array.isArray(task.reference)) throw new Error(`${file}:${i + 1}: a task needs id, instruction and reference`);
      return task;
    });
}

/** The model's weakness: "high" → "High". Only `priority` is affected, as with a model that title-cases that word. */
export function capitalisePriority(args: Record<string, unknown>): Record<string, unknown> {
  return typeof args.priority === 'string' ? { ...args, priority: args.priority.charAt(0).toUpperCase() + args.priority.slice(1) } : args;
}

/** A request the script has no answer for; the server turns it into a 500 and records it. */
export class UnexpectedRequest extends Error {}

export type ScriptedReply =
  | { kind: 'call'; taskId: string; step: number; name: string; args: Record<string, unknown> }
  | { kind: 'answer'; taskId: string; step: number; text: string }
  | { kind: 'give_up'; taskId: string; step: number; text: string };

interface WireMessage {
  role: string;
  content?: string | null | Array<{ type: string; text?: string }>;
  tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

const textOf = (content: WireMessage['content']): string => (typeof content === 'string' ? content : Array.isArray(content) ? content.map((p) => p.text ?? '').join('') : '');

/** A tool result the desk produced: its results are JSON, its refusals (and the SDK's validation errors) text. */
function isToolSuccess(output: string): boolean {
  try {
    const value: unknown = JSON.parse(output);
    return typeof value === 'object' && value !== null;
  } catch {
    return false;
  }
}

/**
 * What the scripted model answers to one Chat Completions request body. Pure: the same body gives the same
 * reply. Throws UnexpectedRequest, naming the task and step, for anything off the script.
 */
export function scriptedReply(body: Record<string, unknown>, tasks: TicketDeskTask[], options: { capitalise: boolean; hiddenTools: string[] }): ScriptedReply {
  if (body.stream) throw new UnexpectedRequest('streaming was requested; the scripted model answers whole completions only');
  const messages = (Array.isArray(body.messages) ? body.messages : []) as WireMessage[];
  const offered = new Set(((Array.isArray(body.tools) ? body.tools : []) as Array<{ function?: { name?: string } }>).map((t) => t.function?.name ?? ''));
  const leaked = options.hiddenTools.filter((name) => offered.has(name));
  if (leaked.length) throw new UnexpectedRequest(`the request offers the hidden tool(s) ${leaked.join(', ')} to the model`);

  // The task: the user message that carries a task's instruction (the longest match, should one contain another).
  const start = messages.findIndex((m) => m.role === 'user' && tasks.some((t) => textOf(m.content).includes(t.instruction)));
  if (start < 0) {
    const first = messages.find((m) => m.role === 'user');
    throw new UnexpectedRequest(`no ticket-desk task's instruction is in the request; first user message: ${JSON.stringify(textOf(first?.content).slice(0, 160))}`);
  }
  const task = tasks.filter((t) => textOf(messages[start].content).includes(t.instruction)).sort((a, b) => b.instruction.length - a.instruction.length)[0];
  const script = task.reference;
  const where = (step: number) => `task ${task.id}, step ${step + 1}`;

  // Progress: the calls made so far must be the script's, in order, each answered by one tool result.
  let made = 0;
  let pending: string | null = null;
  let lastResult: string | null = null;
  for (const m of messages.slice(start + 1)) {
    if (m.role === 'assistant') {
      const call = m.tool_calls?.[0];
      if (!call) throw new UnexpectedRequest(`${where(made)}: the conversation went on after the model's final answer (${JSON.stringify(textOf(m.content).slice(0, 80))})`);
      if (pending) throw new UnexpectedRequest(`${where(made)}: two model turns without a tool result between them`);
      if (call.function.name !== script[made]?.name) throw new UnexpectedRequest(`${where(made)}: the history has a call to ${call.function.name}, the script made ${script[made]?.name ?? 'no call'}`);
      pending = call.id;
    } else if (m.role === 'tool') {
      if (!pending) throw new UnexpectedRequest(`${where(made)}: a tool result without a call`);
      lastResult = textOf(m.content);
      pending = null;
      made++;
    } else if (m.role === 'user' && textOf(m.content).trimStart().startsWith('<context')) {
      // Context parts a processor attached (notes, plans) arrive as a trailing user message; nothing to act on.
    } else {
      throw new UnexpectedRequest(`${where(made)}: unexpected ${m.role} message ${JSON.stringify(textOf(m.content).slice(0, 160))}`);
    }
  }
  if (pending) throw new UnexpectedRequest(`${where(made)}: the last call has no tool result`);

  if (made > 0 && lastResult !== null && !isToolSuccess(lastResult)) {
    const failed = script[made - 1];
    // The one failure the model is built to cause: its capitalised priority. It gives up, as weak models do.
    if (options.capitalise && capitalisePriority(failed.args) !== failed.args)
      return { kind: 'give_up', taskId: task.id, step: made, text: 'I could not finish this: the ticket desk did not accept the priority I gave, so the ticket still needs to be updated by hand.' };
    throw new UnexpectedRequest(`${where(made - 1)}: the desk refused the gold call ${failed.name} ${JSON.stringify(failed.args)}: ${lastResult.slice(0, 240)}`);
  }
  if (made === script.length) {
    const changes = script.filter((c) => !/^(search|get|list)_/.test(c.name)).length;
    return { kind: 'answer', taskId: task.id, step: made, text: task.referenceAnswer ?? `Done: I made the ${changes === 1 ? 'change' : `${changes} changes`} you asked for.` };
  }

  const next = script[made];
  // A ticket found by a search must be in the search's result: the model acts on what it read.
  const previous = script[made - 1];
  if (previous?.name === 'search_tickets' && typeof next.args.ticket_id === 'string' && !lastResult!.toUpperCase().includes(next.args.ticket_id.toUpperCase()))
    throw new UnexpectedRequest(`${where(made)}: the search result does not contain ${next.args.ticket_id}: ${lastResult!.slice(0, 240)}`);
  if (!offered.has(next.name)) throw new UnexpectedRequest(`${where(made)}: the request does not offer the tool ${next.name}; it offers ${[...offered].join(', ') || 'none'}`);
  return { kind: 'call', taskId: task.id, step: made, name: next.name, args: options.capitalise ? capitalisePriority(next.args) : next.args };
}

export interface TicketDeskModelServer {
  /** The base URL for an OpenAI client or the model string, e.g. http://127.0.0.1:PORT/v1. */
  url: string;
  /** The model string HarnessX takes: openai-compatible:ticket-desk-scripted@<url>. */
  model: string;
  /** Every reply given, in order. */
  replies: ScriptedReply[];
  /** Requests refused as unexpected, with the reason; a passing test expects none. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Starts the scripted model on a free local port. `capitalise: false` plays the gold calls exactly (a model
 * without the weakness), for tests that need every task to pass under any harness.
 */
export async function startTicketDeskModel(options: { tasks?: TicketDeskTask[]; capitalise?: boolean; hiddenTools?: string[] } = {}): Promise<TicketDeskModelServer> {
  const tasks = options.tasks ?? loadTicketDeskTasks();
  const settings = { capitalise: options.capitalise ?? true, hiddenTools: options.hiddenTools ?? ['get_desk_state'] };
  const replies: ScriptedReply[] = [];
  const errors: string[] = [];
  let served = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, payload: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    try {
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) throw new UnexpectedRequest(`no route ${req.method} ${req.url}; the scripted model serves POST /v1/chat/completions`);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new UnexpectedRequest('the request body is not JSON');
      }
      const reply = scriptedReply(body, tasks, settings);
      replies.push(reply);
      served++;
      const promptTokens = Math.ceil(JSON.stringify(body.messages).length / 4);
      const message =
        reply.kind === 'call'
          ? { role: 'assistant', content: null, tool_calls: [{ id: `call_${served}`, type: 'function', function: { name: reply.name, arguments: JSON.stringify(reply.args) } }] }
          : { role: 'assistant', content: reply.text };
      const completionTokens = Math.ceil(JSON.stringify(message).length / 4);
      send(200, {
        id: `chatcmpl-ticket-desk-${served}`,
        object: 'chat.completion',
        created: 0,
        model: String(body.model ?? 'ticket-desk-scripted'),
        choices: [{ index: 0, finish_reason: reply.kind === 'call' ? 'tool_calls' : 'stop', message }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
    } catch (error) {
      const message = error instanceof UnexpectedRequest ? `scripted ticket-desk model: unexpected request: ${error.message}` : `scripted ticket-desk model failed: ${(error as Error).stack ?? error}`;
      errors.push(message);
      send(500, { error: { message, type: 'unexpected_request' } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    url,
    model: `openai-compatible:ticket-desk-scripted@${url}`,
    replies,
    errors,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

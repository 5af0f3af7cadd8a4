import { jsonEqual } from './canonical';
import type { HookEvent, HookName, Message } from './types';

/** A processor changed something its hook's contract does not let it change. */
export class HookContractViolation extends Error {
  constructor(
    readonly processorId: string,
    readonly hook: HookName,
    readonly field: string,
    detail: string,
  ) {
    super(`processor "${processorId}" violated the ${hook} contract: ${field} ${detail}`);
    this.name = 'HookContractViolation';
  }
}

/** Processors that leave a value alone pass the same object on, so identity settles most comparisons. */
const same = jsonEqual;

/** What each hook lets a processor modify (the report's contracts); everything else must stay equal. */
export const HOOK_CONTRACTS: Record<HookName, string> = {
  task_start: 'systemPrompt',
  step_start: 'history (structural edits: drop, reorder, summarize)',
  before_model: 'content of the last user message; append one user message; append context parts; request.route (which model role answers)',
  after_model: 'response text and tool calls; response.meta.heldBack (a name) holds a reply without tool calls back from the user and the task',
  before_tool: 'tool call arguments, approval flag and rejection reason',
  after_tool: 'tool result',
  step_end: 'nothing (read-only)',
  task_end: 'nothing (read-only)',
};

/** Throws HookContractViolation naming the processor, hook and field when `after` breaks the contract. */
export function checkContract(processorId: string, before: HookEvent, after: unknown): void {
  const hook = before.hook;
  const fail = (field: string, detail: string): never => {
    throw new HookContractViolation(processorId, hook, field, detail);
  };
  if (typeof after !== 'object' || after === null) fail('event', 'must be an event object');
  const a = after as Record<string, unknown>;
  if (a.hook !== hook) fail('hook', `must stay "${hook}", got ${JSON.stringify(a.hook)}`);
  const b = before as unknown as Record<string, unknown>;
  const keep = (...fields: string[]) => {
    for (const f of fields) if (!same(b[f], a[f])) fail(f, 'may not be modified here');
  };
  const onlyKeys = (...allowed: string[]) => {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      if (!allowed.includes(k) && !same(a[k], b[k])) fail(k, 'may not be modified here');
  };
  switch (hook) {
    case 'task_start':
      onlyKeys('hook', 'systemPrompt');
      if (typeof a.systemPrompt !== 'string') fail('systemPrompt', 'must be a string');
      return;
    case 'step_start':
      onlyKeys('hook', 'history');
      if (!Array.isArray(a.history) || !(a.history as unknown[]).every(isMessage)) fail('history', 'must be an array of messages');
      return;
    case 'before_model': {
      onlyKeys('hook', 'request');
      const rb = before.request;
      const ra = a.request as typeof rb;
      if (!ra || typeof ra !== 'object') fail('request', 'must be a request object');
      for (const f of ['purpose', 'tools', 'temperature', 'maxTokens'] as const)
        if (!same(rb[f], ra[f])) fail(`request.${f}`, 'may not be modified here');
      if (!Array.isArray(ra.messages) || !ra.messages.every(isMessage)) fail('request.messages', 'must be an array of messages');
      const n = rb.messages.length;
      if (ra.messages.length !== n && ra.messages.length !== n + 1)
        fail('request.messages', `may grow by one user message at most (had ${n}, now ${ra.messages.length})`);
      if (ra.messages.length === n + 1 && ra.messages[n].role !== 'user') fail(`request.messages[${n}]`, 'an appended message must be a user message');
      let lastUser = -1;
      rb.messages.forEach((m, i) => (m.role === 'user' ? (lastUser = i) : undefined));
      for (let i = 0; i < n; i++) {
        const mb = rb.messages[i];
        const ma = ra.messages[i];
        if (i === lastUser ? !same({ ...mb, content: '' }, { ...ma, content: '' }) : !same(mb, ma))
          fail(`request.messages[${i}]`, i === lastUser ? 'only its content may change' : 'may not be modified here');
      }
      if (!Array.isArray(ra.parts) || !same(rb.parts, ra.parts.slice(0, rb.parts.length)))
        fail('request.parts', 'existing parts may not be changed or removed; only appended');
      return;
    }
    case 'after_model': {
      onlyKeys('hook', 'step', 'response');
      keep('step');
      const rb = before.response;
      const ra = a.response as typeof rb;
      if (!ra || typeof ra.text !== 'string' || !Array.isArray(ra.toolCalls)) fail('response', 'must keep text and toolCalls');
      for (const f of ['usage', 'model', 'stopReason'] as const) if (!same(rb[f], ra[f])) fail(`response.${f}`, 'may not be modified here');
      return;
    }
    case 'before_tool': {
      onlyKeys('hook', 'step', 'call', 'approved', 'rejection');
      keep('step');
      const ca = a.call as typeof before.call;
      if (!ca || ca.id !== before.call.id || ca.name !== before.call.name) fail('call', 'only its args may change (id and name are fixed)');
      if (typeof ca.args !== 'object' || ca.args === null) fail('call.args', 'must be an object');
      if (typeof a.approved !== 'boolean') fail('approved', 'must be a boolean');
      return;
    }
    case 'after_tool':
      onlyKeys('hook', 'step', 'call', 'result');
      keep('step', 'call');
      if (typeof (a.result as { output?: unknown })?.output !== 'string') fail('result.output', 'must be a string');
      return;
    case 'step_end':
    case 'task_end':
      onlyKeys('hook');
      return;
  }
}

function isMessage(m: unknown): m is Message {
  const x = m as Message;
  return !!x && typeof x === 'object' && ['system', 'user', 'assistant', 'tool'].includes(x.role) && typeof x.content === 'string';
}

import { getProcessorDefinition } from '../../harness/processors';
import type { Model, ProcessorContext } from '../../harness/processor';
import type { HookEvent, ModelRequest, ModelResponse, ToolCall, ToolResult, ToolSpec } from '../../harness/types';

export const TOOLS: ToolSpec[] = [
  { name: 'pick_up', description: 'Pick up.', parameters: { block: { type: 'string', description: 'block', enum: ['red', 'blue'] } }, phrases: ['pick up the {block} block'] },
  {
    name: 'stack',
    description: 'Stack.',
    parameters: { block: { type: 'string', description: 'block', enum: ['red', 'blue'] }, target: { type: 'string', description: 'target', enum: ['red', 'blue'] } },
    phrases: ['stack the {block} block on top of the {target} block'],
  },
];

/** A scripted model for processor tests: fails loudly on unexpected or unconsumed calls. */
export class ScriptedModel implements Model {
  readonly id = 'scripted:test';
  readonly requests: ModelRequest[] = [];
  constructor(private readonly replies: string[]) {}
  async generate(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(request);
    const text = this.replies.shift();
    if (text === undefined) throw new Error(`ScriptedModel: unexpected call #${this.requests.length} (${request.purpose})`);
    return { text, toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: this.id };
  }
  assertConsumed(): void {
    if (this.replies.length) throw new Error(`ScriptedModel: ${this.replies.length} scripted replies were never used`);
  }
}

export function context(overrides: Partial<ProcessorContext> & { admissible?: string[] | null; retries?: ToolResult[] } = {}): ProcessorContext & { notes: Array<[string, unknown]> } {
  const notes: Array<[string, unknown]> = [];
  const retries = overrides.retries ?? [];
  return {
    task: { id: 't1', instruction: 'do it' },
    model: overrides.model ?? new ScriptedModel([]),
    env: { tools: () => TOOLS, admissibleActions: () => (overrides.admissible === undefined ? ['pick_up(block=red)'] : overrides.admissible) },
    trace: { note: (k, d) => void notes.push([k, d]) },
    retryTool: async (_call: ToolCall) => {
      const next = retries.shift();
      if (!next) throw new Error('unexpected retry');
      return next;
    },
    notes,
  };
}

/** Runs one processor type with params on one event and collects what it yields. */
export async function runProcessor(type: string, params: Record<string, unknown>, event: HookEvent, ctx = context()) {
  const def = getProcessorDefinition(type);
  if (!def) throw new Error(`no processor ${type}`);
  const instance = def.create(def.params.parse(params));
  const out: unknown[] = [];
  for await (const e of instance.process(event, ctx)) out.push(e);
  return { out, instance, ctx };
}

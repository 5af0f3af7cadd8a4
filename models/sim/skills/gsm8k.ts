import type { Gsm8kBrief, SimulatorBrief } from '../../../harness/task-brief';
import type { ModelRequest, ToolCall } from '../../../harness/types';
import type { ContextSignals, SimProfile } from '../profile';
import { formatNumber, readNumber, sameNumber } from '../reading';
import type { SkillDecision } from './types';

/**
 * The simulator's GSM8K skill. The simulated model "knows" the solution path of its problem (the gold
 * rationale's calculation steps, from the benchmark's brief) — a simulator stands in for a model's
 * competence, it does not have any — once it sees the question in the prompt, and errs at the
 * harness-dependent rates of its profile: a malformed expression ("invalid"), repeating a calculation it
 * already did ("loop"), submitting an intermediate result as the answer ("subgoal": the error that notes
 * and plans reduce), and prose or misnamed arguments instead of a tool call ("format").
 */
export function matches(request: ModelRequest): boolean {
  return request.tools.some((t) => t.name === 'submit_answer') && request.tools.some((t) => t.name === 'calculator');
}

/** The brief's problem when a user message states its question (the instruction, or the question alone). */
function problemOf(request: ModelRequest, brief: SimulatorBrief | undefined): Gsm8kBrief | null {
  if (brief?.benchmark !== 'gsm8k') return null;
  const inView = request.messages.some((m) => m.role === 'user' && m.content.split(`\n\n${brief.instructionSuffix}`)[0] === brief.question);
  return inView ? brief : null;
}

/** Results the calculator has returned so far in the conversation. */
function resultsSoFar(request: ModelRequest): number[] {
  const out: number[] = [];
  for (const m of request.messages) {
    if (m.role !== 'tool' || m.isError) continue;
    const r = /^Result: (.+)$/m.exec(m.content);
    const n = r ? readNumber(r[1]) : null;
    if (n !== null) out.push(n);
  }
  return out;
}

export function decideGsm8k(request: ModelRequest, signals: ContextSignals, rates: SimProfile, u: (kind: string) => number, brief?: SimulatorBrief): SkillDecision {
  const p = problemOf(request, brief);
  if (!p) return { kind: 'lost', text: 'I have lost track of the question.' };
  const done = resultsSoFar(request);
  const pending = p.steps.filter((s) => !done.some((d) => sameNumber(d, s.result)));
  const submit = { name: 'submit_answer', args: { answer: formatNumber(p.answer) } };
  if (request.purpose === 'plan') {
    const lines = [...pending.map((s) => `calculator {"expression": "${s.expression}"}`), `submit the answer ${formatNumber(p.answer)}`];
    if (lines.length > 1 && u('plan-error') < rates.planError) lines.splice(Math.floor(u('plan-error-at') * (lines.length - 1)), 1);
    return { kind: 'plan', lines };
  }
  const next = pending[0];
  let intended: Omit<ToolCall, 'id'> = next ? { name: 'calculator', args: { expression: next.expression } } : submit;
  // A visible plan step is followed when it is a calculation still to do.
  const planned = signals.plan?.steps[signals.plan.next];
  if (planned?.name === 'calculator' && pending.some((s) => s.expression === planned.args.expression)) intended = { name: 'calculator', args: { ...planned.args } };

  // The latest calculation asked for, wherever it sat in a reply of several calls.
  const last = request.messages.flatMap((m) => (m.role === 'assistant' ? m.toolCalls ?? [] : [])).filter((c) => c.name === 'calculator').at(-1);
  if (last && u('loop') < rates.loop) intended = { name: 'calculator', args: { ...last.args } };
  else if (next && done.length > 0 && u('subgoal') < rates.subgoal) intended = { name: 'submit_answer', args: { answer: formatNumber(done[done.length - 1]) } };
  else if (intended.name === 'calculator' && u('invalid') < rates.invalid) intended = { name: 'calculator', args: { expression: String(intended.args.expression).replace(/\*/g, ' times ').replace(/\//g, ' over ') } };

  if (u('format') < rates.format) {
    if (u('format-kind') < 0.6) return { kind: 'prose', text: `Next I will use ${intended.name} ${JSON.stringify(intended.args)}.` };
    return { kind: 'call', call: { name: intended.name, args: { input: Object.values(intended.args)[0] } } };
  }
  return { kind: 'call', call: intended };
}

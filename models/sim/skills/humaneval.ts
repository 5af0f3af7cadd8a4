import type { HumanEvalBrief, SimulatorBrief } from '../../../harness/task-brief';
import type { ModelRequest, ToolCall } from '../../../harness/types';
import type { ContextSignals, SimProfile } from '../profile';
import type { SkillDecision } from './types';

/**
 * The simulator's HumanEval skill. The simulated model "knows" its problem's canonical solution (from the
 * benchmark's brief; it stands in for a model's competence) once it sees the stub in the prompt, and errs at
 * its profile's harness-dependent rates: an incomplete first draft ("invalid"; the docstring examples catch
 * it when there are any), re-reading the file instead of acting ("loop"), submitting without running the
 * examples ("subgoal"), and prose instead of a tool call ("format").
 */
export function matches(request: ModelRequest): boolean {
  return request.tools.some((t) => t.name === 'run_examples') && request.tools.some((t) => t.name === 'write_file');
}

/** The brief's problem when a user message shows its stub (as the first ```python block). */
function problemOf(request: ModelRequest, brief: SimulatorBrief | undefined): HumanEvalBrief | null {
  if (brief?.benchmark !== 'humaneval') return null;
  const inView = request.messages.some((m) => m.role === 'user' && /```python\n([\s\S]*?)```/.exec(m.content)?.[1] === brief.prompt);
  return inView ? brief : null;
}

/** What the conversation shows: the last file written successfully, and the examples' verdict since. */
function progress(request: ModelRequest): { written: string | null; examples: 'not run' | 'passed' | 'failed' } {
  const ok = new Map(request.messages.filter((m) => m.role === 'tool' && m.toolCallId).map((m) => [m.toolCallId!, m]));
  let written: string | null = null;
  let examples: 'not run' | 'passed' | 'failed' = 'not run';
  for (const m of request.messages) {
    const call = m.toolCalls?.[0];
    const result = call && ok.get(call.id);
    if (!call || !result) continue;
    if (call.name === 'write_file' && !result.isError) {
      written = String(call.args.content);
      examples = 'not run';
    } else if (call.name === 'run_examples') {
      const r = /EXAMPLES (\d+)\/(\d+) passed/.exec(result.content);
      examples = result.isError || (r && r[1] !== r[2]) ? 'failed' : 'passed';
    }
  }
  return { written, examples };
}

export function decideHumanEval(request: ModelRequest, signals: ContextSignals, rates: SimProfile, u: (kind: string) => number, brief?: SimulatorBrief): SkillDecision {
  const p = problemOf(request, brief);
  if (!p) return { kind: 'lost', text: 'I cannot find the function to implement.' };
  const correct = p.prompt + p.canonicalSolution;
  const draft = `${p.prompt}    pass\n`;
  if (request.purpose === 'plan') return { kind: 'plan', lines: ['run the examples', 'submit the solution'] };
  const { written, examples } = progress(request);
  const write = (content: string) => ({ name: 'write_file', args: { path: p.file, content } });
  let intended: Omit<ToolCall, 'id'>;
  // Coding is harder than one blocksworld move: a first draft is incomplete more often than a move is invalid.
  if (written === null) intended = write(u('invalid') < Math.min(0.9, 2.5 * rates.invalid) ? draft : correct);
  else if (examples === 'failed') intended = write(correct);
  else if (examples === 'not run') intended = u('subgoal') < Math.min(0.9, 1.5 * rates.subgoal) ? { name: 'submit', args: {} } : { name: 'run_examples', args: {} };
  else intended = { name: 'submit', args: {} };
  if (written !== null && u('loop') < rates.loop) intended = { name: 'read_file', args: { path: p.file } };
  if (u('format') < rates.format) {
    if (intended.name === 'write_file') return { kind: 'prose', text: `Here is my implementation:\n\`\`\`python\n${String(intended.args.content)}\`\`\`` };
    return { kind: 'prose', text: intended.name === 'submit' ? 'I will submit the solution now.' : intended.name === 'run_examples' ? 'Next I will run the examples.' : `I will read the file ${p.file}.` };
  }
  return { kind: 'call', call: intended };
}

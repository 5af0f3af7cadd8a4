import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { packageRoot } from '../../harness/package-root';
import type { Gsm8kBrief } from '../../harness/task-brief';
import type { ToolCall, ToolResult, ToolSpec } from '../../harness/types';
import { dataFiles, readJsonLines, TaskIndex } from '../data-file';
import { splitOf } from '../split';
import type { BenchmarkTask, BuiltinBenchmark, Corruption, SyncScoredEnvironment, Verdict } from '../types';
import { countNumbers, evaluateExpression, formatNumber, readNumber, sameNumber } from './arithmetic';

// From the package root, not __dirname: the compiled copy (dist/) ships without the data beside it.
export const DATA_DIR = join(packageRoot(), 'benchmarks', 'gsm8k', 'data');
const SMOKE_ID = 'gsm8k/smoke';

/** One problem in GSM8K's upstream format: the answer is a rationale with <<expr=result>> notes and "#### N". */
export interface Gsm8kProblem {
  id: string;
  question: string;
  answer: number;
  /** The calculator annotations of the gold rationale, in order. */
  steps: Array<{ expression: string; result: number }>;
}

export const INSTRUCTION_SUFFIX = 'Work it out with the calculator tool, one operation per call, then give the final number with submit_answer.';

/**
 * GSM8K has no task ids upstream: a problem's id is a hash of its question, so it never depends on which file
 * or line holds it (adding or reordering files renames no task and moves none between splits).
 */
export function gsm8kId(question: string): string {
  return `gsm8k/${createHash('sha256').update(question).digest('hex').slice(0, 12)}`;
}

export function parseGsm8kLine(line: string, index: number): Gsm8kProblem {
  const row = JSON.parse(line) as { question?: unknown; answer?: unknown };
  if (typeof row.question !== 'string' || typeof row.answer !== 'string') throw new Error(`line ${index + 1}: expected {"question": "…", "answer": "… #### N"}`);
  const final = /####\s*(.+)\s*$/.exec(row.answer)?.[1];
  const answer = final === undefined ? null : readNumber(final);
  if (answer === null) throw new Error(`line ${index + 1}: the answer has no number after ####`);
  const steps = [...row.answer.matchAll(/<<([^=<>]+)=([^<>]+)>>/g)].flatMap((m) => {
    const result = readNumber(m[2]);
    return result === null ? [] : [{ expression: m[1].trim(), result }];
  });
  return { id: gsm8kId(row.question), question: row.question, answer, steps };
}

const TOOLS: ToolSpec[] = [
  { name: 'calculator', description: 'Evaluates one arithmetic expression: numbers, + - * / ^ %, parentheses.', parameters: { expression: { type: 'string', description: 'e.g. (16-3-4)*2' } }, phrases: ['calculator {expression}'] },
  { name: 'submit_answer', description: 'Submits the final numeric answer; ends the task.', parameters: { answer: { type: 'string', description: 'the final number' } }, phrases: ['submit the answer {answer}'] },
];

/** GSM8K (grade-school math word problems) with a calculator tool; the verifier compares numbers. */
export class Gsm8kBenchmark implements BuiltinBenchmark {
  readonly name = 'gsm8k';
  readonly description = 'GSM8K grade-school math with a calculator tool; the answer is the number after ####.';
  private readonly problems = new Map<string, Gsm8kProblem>();
  private taskList: BenchmarkTask[] | null = null;

  constructor(options: { dataDir?: string } = {}) {
    // Every *.jsonl in the folder (upstream's train.jsonl / test.jsonl format), in name order.
    const index = new TaskIndex<Gsm8kProblem>();
    for (const file of dataFiles(options.dataDir ?? DATA_DIR, /\.jsonl$/)) for (const p of readJsonLines(file, parseGsm8kLine)) index.add(p.id, p, file);
    for (const p of index.values()) {
      this.problems.set(p.id, p);
    }
    const smoke: Gsm8kProblem = { id: SMOKE_ID, question: 'Tom has 2 apples and buys 3 more. How many apples does he have?', answer: 5, steps: [{ expression: '2+3', result: 5 }] };
    this.problems.set(SMOKE_ID, smoke);
  }

  problem(id: string): Gsm8kProblem {
    const p = this.problems.get(id);
    if (!p) throw new Error(`gsm8k: no task "${id}"`);
    return p;
  }

  /** The simulator knows the gold rationale's steps; it recognises the question in the prompt. */
  simulatorBrief(taskId: string): Gsm8kBrief {
    const p = this.problem(taskId);
    return { benchmark: 'gsm8k', question: p.question, instructionSuffix: INSTRUCTION_SUFFIX, steps: p.steps.map((s) => ({ ...s })), answer: p.answer };
  }

  instructionFor(p: Gsm8kProblem): string {
    return `${p.question}\n\n${INSTRUCTION_SUFFIX}`;
  }

  tasks(): BenchmarkTask[] {
    this.taskList ??= [...this.problems.values()].filter((p) => p.id !== SMOKE_ID).map((p) => ({ id: p.id, instruction: this.instructionFor(p), split: splitOf(p.id) }));
    return this.taskList;
  }

  task(id: string): BenchmarkTask {
    const p = this.problem(id);
    return { id, instruction: this.instructionFor(p), split: id === SMOKE_ID ? 'train' : splitOf(id) };
  }

  smokeTaskId(): string {
    return SMOKE_ID;
  }

  /** Problems by the number of calculation steps of their gold rationale (visible difficulty, roughly). */
  cluster(taskId: string): string {
    const n = this.problem(taskId).steps.length;
    return n <= 2 ? 'steps-1-2' : n <= 4 ? 'steps-3-4' : 'steps-5+';
  }

  createEnvironment(taskId: string): SyncScoredEnvironment {
    const p = this.problem(taskId);
    const results: string[] = [];
    let submitted: string | null = null;
    const state = () => `Current state: results so far: ${results.length ? results.join(', ') : 'none'}`;
    return {
      instruction: () => this.instructionFor(p),
      tools: () => TOOLS,
      admissibleActions: () => null,
      execute(call: ToolCall): ToolResult {
        if (submitted !== null) return { ok: false, errorKind: 'precondition', output: 'An answer was already submitted; the task is over.' };
        if (call.name === 'calculator') {
          const expression = call.args?.expression;
          if (typeof expression !== 'string') return { ok: false, errorKind: 'bad_arguments', output: `calculator needs {"expression": "…"}; got ${JSON.stringify(call.args)}.\n${state()}` };
          const r = evaluateExpression(expression);
          if (!r.ok) return { ok: false, errorKind: 'bad_arguments', output: `Invalid expression: ${r.error}.\n${state()}` };
          const shown = formatNumber(r.value);
          if (!results.includes(shown)) results.push(shown);
          return { ok: true, output: `Result: ${shown}\n${state()}` };
        }
        if (call.name === 'submit_answer') {
          const answer = call.args?.answer;
          if (typeof answer !== 'string' && typeof answer !== 'number') return { ok: false, errorKind: 'bad_arguments', output: `submit_answer needs {"answer": "<number>"}; got ${JSON.stringify(call.args)}.` };
          // One number, as GSM8K's answer is one: "18", "$1,234.50", "18 dollars". Several numbers ("17 or 18")
          // would let a hedge through whenever the first happened to be right.
          const numbers = countNumbers(String(answer));
          if (numbers !== 1) return { ok: false, errorKind: 'bad_arguments', output: `submit_answer takes exactly one number; ${JSON.stringify(String(answer))} has ${numbers}.` };
          submitted = String(answer);
          return { ok: true, output: `Submitted: ${submitted}` };
        }
        return { ok: false, errorKind: 'unknown_tool', output: `Unknown tool "${call.name}". Tools: calculator, submit_answer.` };
      },
      isDone: () => submitted !== null,
      score: () => {
        const n = submitted === null ? null : readNumber(submitted);
        return n !== null && sameNumber(n, p.answer) ? 1 : 0;
      },
    };
  }

  /** The gold rationale's calculator steps, then the gold answer. */
  referenceSolution(taskId: string): ToolCall[] {
    const p = this.problem(taskId);
    return [
      ...p.steps.map((s, i) => ({ id: `gold-${i}`, name: 'calculator', args: { expression: s.expression } })),
      { id: `gold-${p.steps.length}`, name: 'submit_answer', args: { answer: formatNumber(p.answer) } },
    ];
  }

  verifyPlan(taskId: string, actions: ToolCall[]): Verdict {
    const env = this.createEnvironment(taskId);
    for (const [i, a] of actions.entries()) {
      const r = env.execute(a);
      if (!r.ok) return { valid: false, reason: `step ${i + 1}: ${r.output.split('\n')[0]}` };
    }
    if (!env.isDone()) return { valid: false, reason: 'no answer submitted' };
    return env.score() === 1 ? { valid: true, reason: 'correct answer' } : { valid: false, reason: `wrong answer (expected ${formatNumber(this.problem(taskId).answer)})` };
  }

  corruptSolutions(taskId: string): Corruption[] {
    const gold = this.referenceSolution(taskId);
    const answer = this.problem(taskId).answer;
    const submit = (a: string): ToolCall => ({ id: 'bad', name: 'submit_answer', args: { answer: a } });
    return [
      { kind: 'off by one', actions: [...gold.slice(0, -1), submit(formatNumber(answer + 1))] },
      { kind: 'no answer', actions: gold.slice(0, -1) },
      { kind: 'not a number', actions: [...gold.slice(0, -1), submit('unknown')] },
      { kind: 'intermediate result', actions: [...gold.slice(0, -1), submit(formatNumber(answer * 10 + 7))] },
      { kind: 'several numbers', actions: [...gold.slice(0, -1), submit(`${formatNumber(answer)} or ${formatNumber(answer + 1)}`)] },
    ];
  }
}

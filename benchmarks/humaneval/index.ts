import { join } from 'node:path';
import { packageRoot } from '../../harness/package-root';
import type { HumanEvalBrief } from '../../harness/task-brief';
import type { ToolCall, ToolResult, ToolSpec } from '../../harness/types';
import { boundedMemo } from '../../harness/bounded-memo';
import { dataFiles, readJsonLines, TaskIndex } from '../data-file';
import { splitOf } from '../split';
import type { BenchmarkTask, BuiltinBenchmark, Corruption, SyncScoredEnvironment, Verdict } from '../types';
import { gradeSolution, PythonRun, runPython } from './python-sandbox';

// From the package root, not __dirname: the compiled copy (dist/) ships without the data beside it.
export const DATA_DIR = join(packageRoot(), 'benchmarks', 'humaneval', 'data');
const SMOKE_ID = 'humaneval/smoke';
export const FILE = 'solution.py';

/** One problem in HumanEval's upstream format. */
export interface HumanEvalProblem {
  id: string;
  prompt: string;
  entryPoint: string;
  canonicalSolution: string;
  test: string;
}

const TOOLS: ToolSpec[] = [
  { name: 'read_file', description: `Reads a file of the workspace (${FILE}).`, parameters: { path: { type: 'string', description: FILE } }, phrases: ['read the file {path}'] },
  { name: 'write_file', description: `Replaces a file of the workspace with new content (the whole file).`, parameters: { path: { type: 'string', description: FILE }, content: { type: 'string', description: 'the complete new file' } } },
  { name: 'run_examples', description: "Runs the docstring's examples (doctest) against the current file and reports failures.", parameters: {}, phrases: ['run the examples'] },
  { name: 'submit', description: 'Submits the current file for grading; ends the task.', parameters: {}, phrases: ['submit the solution'] },
];

const RUN_EXAMPLES = (entry: string) => `
import doctest
ns = {"__name__": "solution"}
exec(compile(open("solution.py").read(), "solution.py", "exec"), ns)
fn = ns[${JSON.stringify(entry)}]
tests = doctest.DocTestFinder(recurse=False).find(fn, ${JSON.stringify(entry)}, globs=ns)
runner = doctest.DocTestRunner(verbose=False)
import io
out = io.StringIO()
for t in tests:
    runner.run(t, out=out.write)
print("EXAMPLES %d/%d passed" % (runner.tries - runner.failures, runner.tries))
print(out.getvalue()[:1500])
`;

/** HumanEval as an agentic coding task: a workspace with the stub, tools to read, write and test, then submit. */
export class HumanEvalBenchmark implements BuiltinBenchmark {
  readonly name = 'humaneval';
  readonly description = 'HumanEval as an agentic coding task: edit solution.py, run the docstring examples, submit; hidden tests decide.';
  private readonly problems = new Map<string, HumanEvalProblem>();
  private taskList: BenchmarkTask[] | null = null;
  private readonly verdicts = boundedMemo<Verdict>(5000);
  private readonly exampleRuns = boundedMemo<PythonRun>(5000);

  constructor(options: { dataDir?: string } = {}) {
    // Every *.jsonl in the folder (upstream's HumanEval.jsonl format), in name order; ids are upstream's.
    const index = new TaskIndex<HumanEvalProblem>();
    for (const file of dataFiles(options.dataDir ?? DATA_DIR, /\.jsonl$/)) {
      const rows = readJsonLines(file, (line, i) => {
        const row = JSON.parse(line) as Record<string, unknown>;
        for (const key of ['task_id', 'prompt', 'entry_point', 'canonical_solution', 'test'])
          if (typeof row[key] !== 'string') throw new Error(`line ${i + 1}: "${key}" must be a string`);
        const n = /^HumanEval\/(.+)$/.exec(row.task_id as string)?.[1];
        if (!n) throw new Error(`line ${i + 1}: "task_id" must look like "HumanEval/<n>"; got ${JSON.stringify(row.task_id)}`);
        return { id: `humaneval/${n}`, prompt: row.prompt as string, entryPoint: row.entry_point as string, canonicalSolution: row.canonical_solution as string, test: row.test as string };
      });
      for (const p of rows) index.add(p.id, p, file);
    }
    for (const p of index.values()) this.problems.set(p.id, p);
    const smoke: HumanEvalProblem = { id: SMOKE_ID, prompt: 'def add(a: int, b: int) -> int:\n    """Adds two numbers.\n    >>> add(2, 3)\n    5\n    """\n', entryPoint: 'add', canonicalSolution: '    return a + b\n', test: 'def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n' };
    this.problems.set(SMOKE_ID, smoke);
  }

  problem(id: string): HumanEvalProblem {
    const p = this.problems.get(id);
    if (!p) throw new Error(`humaneval: no task "${id}"`);
    return p;
  }

  /** The simulator knows the canonical solution; it recognises the stub in the prompt. */
  simulatorBrief(taskId: string): HumanEvalBrief {
    const p = this.problem(taskId);
    return { benchmark: 'humaneval', prompt: p.prompt, canonicalSolution: p.canonicalSolution, file: FILE };
  }

  instructionFor(p: HumanEvalProblem): string {
    return `Implement the function \`${p.entryPoint}\` in ${FILE}. The file currently holds its signature and docstring:\n\n\`\`\`python\n${p.prompt}\`\`\`\n\nWrite the complete file with write_file, check it with run_examples, then submit. Hidden tests grade the submission.`;
  }

  tasks(): BenchmarkTask[] {
    this.taskList ??= [...this.problems.values()].filter((p) => p.id !== SMOKE_ID).map((p) => ({ id: p.id, instruction: this.instructionFor(p), split: splitOf(p.id) }));
    return this.taskList;
  }

  task(id: string): BenchmarkTask {
    return { id, instruction: this.instructionFor(this.problem(id)), split: id === SMOKE_ID ? 'train' : splitOf(id) };
  }

  smokeTaskId(): string {
    return SMOKE_ID;
  }

  cluster(taskId: string): string {
    return this.problem(taskId).prompt.includes('>>>') ? 'with-examples' : 'prose-examples';
  }

  /**
   * The hidden tests on a file, graded so the file cannot forge the verdict (see gradeSolution); cached per
   * (task, file) since the same code is graded repeatedly in gates.
   */
  grade(taskId: string, file: string): Verdict {
    return this.verdicts(`${taskId}\u0000${file}`, () => {
      const p = this.problem(taskId);
      const r = gradeSolution({ solution: file, prompt: p.prompt, test: p.test, entryPoint: p.entryPoint });
      return { valid: r.passed, reason: r.reason };
    });
  }

  /** The docstring examples on a file; cached per (task, file) like grading (the run is deterministic). */
  runExamples(taskId: string, file: string): PythonRun {
    return this.exampleRuns(`${taskId}\u0000${file}`, () => runPython({ 'solution.py': file }, RUN_EXAMPLES(this.problem(taskId).entryPoint), 10_000));
  }

  createEnvironment(taskId: string): SyncScoredEnvironment {
    const p = this.problem(taskId);
    const bench = this;
    let file = p.prompt;
    let edits = 0;
    let examples = 'not run';
    let submitted = false;
    const state = () => `Current state: ${FILE} edited ${edits} time(s), ${file.split('\n').length} lines; examples: ${examples}`;
    return {
      instruction: () => this.instructionFor(p),
      tools: () => TOOLS,
      admissibleActions: () => null,
      execute(call: ToolCall): ToolResult {
        if (submitted) return { ok: false, errorKind: 'precondition', output: 'The solution was already submitted; the task is over.' };
        const path = call.args?.path;
        switch (call.name) {
          case 'read_file':
            if (path !== FILE) return { ok: false, errorKind: 'bad_arguments', output: `No such file ${JSON.stringify(path)}; the workspace has ${FILE}.\n${state()}` };
            return { ok: true, output: `${file}\n${state()}` };
          case 'write_file': {
            const content = call.args?.content;
            if (path !== FILE || typeof content !== 'string') return { ok: false, errorKind: 'bad_arguments', output: `write_file needs {"path": "${FILE}", "content": "<the whole file>"}.\n${state()}` };
            file = content;
            edits++;
            examples = 'not run since the last edit';
            return { ok: true, output: `Wrote ${FILE} (${file.split('\n').length} lines).\n${state()}` };
          }
          case 'run_examples': {
            const r = bench.runExamples(taskId, file);
            const summary = /EXAMPLES (\d+)\/(\d+) passed/.exec(r.stdout);
            if (!summary) {
              examples = 'error';
              return { ok: false, errorKind: 'precondition', output: `The file does not run: ${lastLine(r.stderr) || (r.timedOut ? 'timed out' : 'no output')}\n${state()}` };
            }
            examples = summary[2] === '0' ? 'none in the docstring' : `${summary[1]}/${summary[2]} passed`;
            return { ok: true, output: `${r.stdout.trim().slice(0, 1500)}\n${state()}` };
          }
          case 'submit':
            submitted = true;
            return { ok: true, output: 'Submitted for grading.' };
          default:
            return { ok: false, errorKind: 'unknown_tool', output: `Unknown tool "${call.name}". Tools: ${TOOLS.map((t) => t.name).join(', ')}.` };
        }
      },
      isDone: () => submitted,
      score: () => (submitted && bench.grade(taskId, file).valid ? 1 : 0),
    };
  }

  referenceSolution(taskId: string): ToolCall[] {
    const p = this.problem(taskId);
    return [
      { id: 'gold-0', name: 'write_file', args: { path: FILE, content: p.prompt + p.canonicalSolution } },
      { id: 'gold-1', name: 'submit', args: {} },
    ];
  }

  verifyPlan(taskId: string, actions: ToolCall[]): Verdict {
    const p = this.problem(taskId);
    let file = p.prompt;
    let submitted = false;
    for (const [i, a] of actions.entries()) {
      if (a.name === 'write_file' && typeof a.args.content === 'string') file = a.args.content;
      else if (a.name === 'submit') submitted = true;
      else if (a.name !== 'read_file' && a.name !== 'run_examples') return { valid: false, reason: `step ${i + 1}: unknown action ${a.name}` };
    }
    if (!submitted) return { valid: false, reason: 'nothing submitted' };
    return this.grade(taskId, file);
  }

  corruptSolutions(taskId: string): Corruption[] {
    const p = this.problem(taskId);
    const write = (content: string): ToolCall => ({ id: 'bad', name: 'write_file', args: { path: FILE, content } });
    const submit: ToolCall = { id: 'bad-s', name: 'submit', args: {} };
    return [
      { kind: 'stub submitted', actions: [submit] },
      { kind: 'raises', actions: [write(`${p.prompt}    raise NotImplementedError\n`), submit] },
      { kind: 'not submitted', actions: [write(p.prompt + p.canonicalSolution)] },
    ];
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.slice(0, 300) ?? '';
}

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../harness/package-root';
import { hashUniform } from '../../harness/canonical';
import type { ToolCall, ToolResult, ToolSpec } from '../../harness/types';
import { dataFiles, ExcludedTask, ReportsLoading } from '../data-file';
import { splitOf } from '../split';
import type { BenchmarkTask, BuiltinBenchmark, Corruption, SyncScoredEnvironment, Verdict } from '../types';
import { own } from '../own';
import { ACTION_PHRASES, ACTION_TO_TOOL, DEFAULT_COLOURS, joinFacts, phraseFor, renderFact, TOOL_TO_ACTION } from './language';
import { Domain, parseDomain, parseProblem, Problem } from './pddl';
import { apply, applicableActions, GroundAction, goalHolds, initialState, missingPreconditions, State, validatePlan } from './strips';

// From the package root, not __dirname: the compiled copy (dist/) ships without the data beside it.
export const DATA_DIR = join(packageRoot(), 'benchmarks', 'blocksworld', 'data');
const SMOKE_ID = 'blocksworld/smoke';

interface Instance {
  id: string;
  problem: Problem;
  gold: GroundAction[];
}

export interface BlocksworldOptions {
  dataDir?: string;
  /** Probability that an action fails transiently (the gripper slips); state is unchanged. */
  flakiness?: number;
}

/** config.yaml's encoded_objects and domain_intro, read without a YAML dependency (the formats are fixed). */
function readConfig(text: string): { colours: Record<string, string>; intro: string } {
  const colours: Record<string, string> = {};
  const block = /encoded_objects:\s*\{([^}]*)\}/.exec(text)?.[1] ?? '';
  for (const m of block.matchAll(/"(\w)":\s*"(\w+) block"/g)) colours[m[1]] = m[2];
  const intro = /domain_intro: \|\n([\s\S]*?)\n\S/.exec(text)?.[1]?.replace(/^ {3}/gm, '').trim() ?? '';
  return { colours: Object.keys(colours).length ? colours : DEFAULT_COLOURS, intro };
}

export class BlocksworldBenchmark implements BuiltinBenchmark, ReportsLoading {
  readonly name = 'blocksworld';
  readonly description = 'PlanBench blocksworld (plan generation) as a multi-turn embodied planning task.';
  private readonly domain: Domain;
  private readonly instances = new Map<string, Instance>();
  private readonly colours: Record<string, string>;
  private readonly objectByColour: Record<string, string>;
  private readonly intro: string;
  private readonly flakiness: number;
  private taskList: BenchmarkTask[] | null = null;
  private readonly exclusions: ExcludedTask[] = [];

  constructor(options: BlocksworldOptions = {}) {
    const dataDir = options.dataDir ?? DATA_DIR;
    this.flakiness = options.flakiness ?? 0.03;
    const config = withFile(join(dataDir, 'config.yaml'), readConfig);
    this.colours = config.colours;
    this.intro = config.intro;
    this.objectByColour = Object.fromEntries(Object.entries(this.colours).map(([o, c]) => [c, o]));
    this.domain = withFile(join(dataDir, 'domain.pddl'), (text) => parseDomain(text));
    for (const [tool, action] of Object.entries(TOOL_TO_ACTION))
      if (!this.domain.actions.has(action)) throw new Error(`${join(dataDir, 'domain.pddl')}: no action "${action}" (needed by the ${tool} tool)`);
    // Gold plans from every *.json in the folder in PlanBench's format ({"instances": [{instance_id,
    // ground_truth_plan}]}), in name order; an instance id in two files is an error naming both.
    const goldById = new Map<number, { plan: string; file: string }>();
    for (const file of dataFiles(dataDir, /\.json$/)) {
      const plans = withFile(file, (text) => JSON.parse(text) as { instances?: unknown });
      if (!Array.isArray(plans.instances)) throw new Error(`${file}: expected {"instances": [{"instance_id": N, "ground_truth_plan": "…"}, …]}`);
      plans.instances.forEach((p: { instance_id?: unknown; ground_truth_plan?: unknown }, i: number) => {
        if (typeof p?.instance_id !== 'number' || typeof p?.ground_truth_plan !== 'string') throw new Error(`${file}: instances[${i}]: needs a numeric instance_id and a string ground_truth_plan`);
        const seen = goldById.get(p.instance_id);
        if (seen) throw new Error(`duplicate task "blocksworld/instance-${p.instance_id}": a gold plan in ${seen.file} and in ${file}`);
        goldById.set(p.instance_id, { plan: p.ground_truth_plan, file });
      });
    }
    const files = readdirSync(join(dataDir, 'instances')).filter((f) => /^instance-\d+\.pddl$/.test(f)).sort();
    for (const file of files) {
      const n = Number(/\d+/.exec(file)![0]);
      const id = `blocksworld/instance-${n}`;
      const path = join(dataDir, 'instances', file);
      const gold = goldById.get(n);
      if (gold === undefined) {
        // PlanBench ships no gold plan for it: not a scorable task, and said so.
        this.exclusions.push({ id, file: path, reason: 'no gold plan for it in any plans file (*.json) of the data folder' });
        continue;
      }
      const problem = withFile(path, (text) => parseProblem(text));
      const unknown = problem.objects.filter((o) => !this.colours[o]);
      if (unknown.length) throw new Error(`${path}: objects ${unknown.join(', ')} have no colour in config.yaml's encoded_objects`);
      this.instances.set(id, { id, problem, gold: this.parseGoldPlan(gold.plan, id) });
    }
    for (const [n, gold] of goldById)
      if (!this.instances.has(`blocksworld/instance-${n}`) && !files.includes(`instance-${n}.pddl`))
        this.exclusions.push({ id: `blocksworld/instance-${n}`, file: gold.file, reason: `a gold plan but no instances/instance-${n}.pddl` });
    this.instances.set(SMOKE_ID, {
      id: SMOKE_ID,
      problem: { name: 'smoke', objects: ['a', 'b'], init: [['handempty'], ['ontable', 'a'], ['ontable', 'b'], ['clear', 'a'], ['clear', 'b']], goal: [['on', 'a', 'b']] },
      gold: [{ name: 'pick-up', args: ['a'] }, { name: 'stack', args: ['a', 'b'] }],
    });
  }

  excludedTasks(): ExcludedTask[] {
    return this.exclusions;
  }

  /** Gold plans name blocks by colour: "(unstack yellow orange)". */
  private parseGoldPlan(text: string, id: string): GroundAction[] {
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((line) => {
        const [name, ...colours] = line.replace(/[()]/g, '').trim().split(/\s+/);
        const args = colours.map((c) => {
          const o = own(this.objectByColour, c);
          if (!o) throw new Error(`${id}: gold plan names unknown block colour "${c}"`);
          return o;
        });
        return { name, args };
      });
  }

  private instance(id: string): Instance {
    const inst = this.instances.get(id);
    if (!inst) throw new Error(`blocksworld: no task "${id}"`);
    return inst;
  }

  colour = (o: string) => this.colours[o] ?? o;

  describeState(state: State): string {
    const order = ['clear', 'handempty', 'holding', 'on', 'ontable'];
    const atoms = [...state].sort((x, y) => order.indexOf(x.split(' ')[0]) - order.indexOf(y.split(' ')[0]) || (x < y ? -1 : 1));
    return joinFacts(atoms.map((a) => renderFact(a, this.colour))) + '.';
  }

  instructionFor(problem: Problem): string {
    const init = joinFacts(problem.init.map((a) => renderFact(a.join(' '), this.colour)));
    const goal = joinFacts(problem.goal.map((a) => renderFact(a.join(' '), this.colour)));
    return `${this.intro}\n\n[STATEMENT]\nAs initial conditions I have that, ${init}.\nMy goal is to have that ${goal}.\n\nAct one step at a time with the tools until the goal holds.`;
  }

  tasks(): BenchmarkTask[] {
    if (!this.taskList) {
      this.taskList = [...this.instances.values()]
        .filter((i) => i.id !== SMOKE_ID)
        .map((i) => ({ id: i.id, instruction: this.instructionFor(i.problem), split: splitOf(i.id) }))
        .sort((a, b) => taskNumber(a.id) - taskNumber(b.id));
    }
    return this.taskList;
  }

  task(id: string): BenchmarkTask {
    const inst = this.instance(id);
    return this.tasks().find((t) => t.id === id) ?? { id, instruction: this.instructionFor(inst.problem), split: 'train' };
  }

  smokeTaskId(): string {
    return SMOKE_ID;
  }

  /** Tasks with as many goal facts behave alike (it is visible in the statement): the cluster is that count. */
  cluster(taskId: string): string {
    return `goal-${this.instance(taskId).problem.goal.length}`;
  }

  tools(objects: string[]): ToolSpec[] {
    const blocks = objects.map(this.colour);
    const block = { type: 'string' as const, description: 'the colour of the block to move', enum: blocks };
    const target = { type: 'string' as const, description: 'the colour of the other block', enum: blocks };
    return [
      { name: 'pick_up', description: 'Pick up a clear block from the table.', parameters: { block }, phrases: [ACTION_PHRASES.pick_up] },
      { name: 'put_down', description: 'Put the held block down on the table.', parameters: { block }, phrases: [ACTION_PHRASES.put_down] },
      { name: 'stack', description: 'Stack the held block on top of a clear block.', parameters: { block, target }, phrases: [ACTION_PHRASES.stack] },
      { name: 'unstack', description: 'Unstack a clear block from on top of another block.', parameters: { block, target }, phrases: [ACTION_PHRASES.unstack] },
    ];
  }

  toToolCall(action: GroundAction, id: string): ToolCall {
    const tool = ACTION_TO_TOOL[action.name];
    const args: Record<string, unknown> = { block: this.colour(action.args[0]) };
    if (action.args.length > 1) args.target = this.colour(action.args[1]);
    return { id, name: tool, args };
  }

  /** A tool call as a ground action, or why it cannot be one (bad_arguments / unknown_tool). */
  toGroundAction(call: ToolCall, objects: string[]): { action: GroundAction } | { error: ToolResult } {
    const name = typeof call.name === 'string' ? own(TOOL_TO_ACTION, call.name) : undefined;
    if (!name) return { error: { ok: false, errorKind: 'unknown_tool', output: `Unknown tool "${call.name}". Tools: ${Object.keys(TOOL_TO_ACTION).join(', ')}.` } };
    const params = name === 'stack' || name === 'unstack' ? ['block', 'target'] : ['block'];
    const args: string[] = [];
    for (const p of params) {
      const value = call.args?.[p];
      const object = typeof value === 'string' ? own(this.objectByColour, value) : undefined;
      if (!object || !objects.includes(object)) {
        const known = objects.map(this.colour).join(', ');
        return { error: { ok: false, errorKind: 'bad_arguments', output: `Invalid arguments for ${call.name}: "${p}" must be one of ${known}; got ${JSON.stringify(value)}.` } };
      }
      args.push(object);
    }
    return { action: { name, args } };
  }

  createEnvironment(taskId: string, options: { seed: string }): SyncScoredEnvironment {
    const inst = this.instance(taskId);
    const bench = this;
    const tools = this.tools(inst.problem.objects);
    let state = initialState(inst.problem);
    let executions = 0;
    return {
      instruction: () => bench.instructionFor(inst.problem),
      tools: () => tools,
      admissibleActions: () =>
        applicableActions(bench.domain, state, inst.problem.objects).map((a) => {
          const call = bench.toToolCall(a, '');
          return `${call.name}(${Object.entries(call.args).map(([k, v]) => `${k}=${v}`).join(', ')})`;
        }),
      execute(call: ToolCall): ToolResult {
        executions++;
        const stateText = () => `Current state: ${bench.describeState(state)}`;
        const ground = bench.toGroundAction(call, inst.problem.objects);
        if ('error' in ground) return { ...ground.error, output: `${ground.error.output}\n${stateText()}` };
        const missing = missingPreconditions(bench.domain, state, ground.action);
        const phrase = phraseFor(call.name, call.args);
        if (missing) {
          const needs = joinFacts(missing.map((a) => renderFact(a, bench.colour)));
          return { ok: false, errorKind: 'precondition', output: `Invalid action: cannot ${phrase}; it requires that ${needs}.\n${stateText()}` };
        }
        if (hashUniform(options.seed, 'slip', executions) < bench.flakiness)
          return { ok: false, errorKind: 'transient', output: `The gripper slipped (a transient fault); nothing happened. Try the same action again.\n${stateText()}` };
        state = apply(bench.domain, state, ground.action);
        return { ok: true, output: `Done: ${phrase}.\n${stateText()}` };
      },
      isDone: () => goalHolds(state, inst.problem.goal),
      score: () => (goalHolds(state, inst.problem.goal) ? 1 : 0),
    };
  }

  referenceSolution(taskId: string): ToolCall[] {
    return this.instance(taskId).gold.map((a, i) => this.toToolCall(a, `gold-${i}`));
  }

  /** A dropped step, swapped first steps, a block that is not in the task, and nothing at all. */
  corruptSolutions(taskId: string): Corruption[] {
    const gold = this.referenceSolution(taskId);
    return [
      { kind: 'empty', actions: [] },
      { kind: 'last step dropped', actions: gold.slice(0, -1) },
      ...(gold.length >= 2 ? [{ kind: 'first steps swapped', actions: [gold[1], gold[0], ...gold.slice(2)] }] : []),
      { kind: 'unknown block', actions: gold.map((c, i) => (i === 0 ? { ...c, args: { ...c.args, block: 'gold' } } : c)) },
    ];
  }

  verifyPlan(taskId: string, actions: ToolCall[]): Verdict {
    const inst = this.instance(taskId);
    const plan: GroundAction[] = [];
    for (const [i, call] of actions.entries()) {
      const ground = this.toGroundAction(call, inst.problem.objects);
      if ('error' in ground) return { valid: false, reason: `step ${i + 1}: ${ground.error.output}` };
      plan.push(ground.action);
    }
    return validatePlan(this.domain, inst.problem, plan);
  }
}

/** Reads and parses one data file; any failure names the file. */
function withFile<T>(path: string, parse: (text: string) => T): T {
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

function taskNumber(id: string): number {
  return Number(/(\d+)$/.exec(id)?.[1] ?? 0);
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { seesaw } from '../../aegis/gate';
import { preGateChecks } from '../../aegis/pre-gate';
import { bucketOf, editKey } from '../../aegis/remedies';
import { rolloutTasks } from '../../aegis/rollout';
import type { Candidate } from '../../aegis/types';
import { getBenchmark } from '../../benchmarks/registry';
import type { Benchmark } from '../../benchmarks/types';
import { applyEdits, Edit } from '../../harness/builder';
import { HarnessConfig, harnessId, parseHarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import type { Message, ModelRequest, ModelResponse, ToolCall } from '../../harness/types';
import { ArtifactStore } from '../../store/artifact-store';
import { loadSuitesConfig } from '../../suites/load-config';
import type { SuiteBenchmark } from '../../suites/suite-benchmark';

/**
 * Each processor of the library the report adds, through the gate as it runs in a round: the rollout-free
 * checks (manifest, canonical form, reward hacking, code, a smoke episode) and the seesaw of incumbent and
 * candidate on the same tasks and seeds. Where a processor can help, a scripted model shows the failure it
 * addresses — the way a real model plausibly fails (wrong casing, prose instead of a call, repeating a
 * failing call, stopping early, caving to pushback…) and reacts to what the processor tells it — and the
 * gate must ship the candidate. The observability processors and the spend guards cannot raise the pass
 * rate, so the gate must not ship them for a gain (it says "no gain") and they must not regress anything.
 */
jest.setTimeout(120_000);

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const usage = { inputTokens: 10, outputTokens: 5 };
const text = (t: string, model = 'scripted'): ModelResponse => ({ text: t, toolCalls: [], usage, stopReason: 'end_turn', model });
const firstUser = (messages: Message[]) => messages.find((m) => m.role === 'user')?.content ?? '';
const systemOf = (request: ModelRequest) => request.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');

interface PlanState {
  next: ToolCall | undefined;
  done: number;
  plan: ToolCall[];
  request: ModelRequest;
  /** Issues a plan call (tracked: an ok result advances the plan). */
  issue(call: ToolCall): ModelResponse;
  /** A call that is not part of the plan (never advances it). */
  stray(call: ToolCall): ModelResponse;
}
type Flaw = (s: PlanState) => ModelResponse | null;

/**
 * A scripted blocksworld model that knows the gold plan of its task and acts on it one call per step,
 * unless its flaw says otherwise. It tracks progress by the results of its own calls (so a history the
 * harness compacts does not confuse it). One instance per episode, so its state is the episode's.
 */
class PlanFollower implements Model {
  private done = 0;
  private pending: string | null = null;
  private count = 0;
  private plan: ToolCall[] | null = null;
  constructor(private readonly plans: Map<string, ToolCall[]>, private readonly flaw: Flaw = () => null, readonly id = 'scripted:planner') {}

  async generate(request: ModelRequest): Promise<ModelResponse> {
    if (request.purpose === 'act') {
      this.plan ??= this.plans.get(firstUser(request.messages)) ?? [];
      if (this.pending) {
        const result = request.messages.find((m) => m.role === 'tool' && m.toolCallId === this.pending);
        if (result) {
          if (!result.isError) this.done++;
          this.pending = null;
        }
      }
      const state = this.state(request);
      return this.flaw(state) ?? (state.next ? state.issue(state.next) : text('Done: the goal holds.', this.id));
    }
    // parse_retry's rewrite request: the call the reply meant.
    if (systemOf(request).includes('Rewrite the reply below as exactly one tool call')) {
      const state = this.state(request);
      return state.next ? state.issue(state.next) : text('', this.id);
    }
    return text('Progress so far: working through the plan step by step.', this.id);
  }

  private state(request: ModelRequest): PlanState {
    const plan = this.plan ?? [];
    const respond = (call: ToolCall, track: boolean): ModelResponse => {
      const id = `s${++this.count}`;
      if (track) this.pending = id;
      return { text: '', toolCalls: [{ id, name: call.name, args: { ...call.args } }], usage, stopReason: 'tool_use', model: this.id };
    };
    return { next: plan[this.done], done: this.done, plan, request, issue: (c) => respond(c, true), stray: (c) => respond(c, false) };
  }
}

const blocksworld = getBenchmark('blocksworld');
/** Two-step tasks (pick up, stack) and four-step ones. */
const SHORT = ['blocksworld/instance-5', 'blocksworld/instance-21'];
const LONG = ['blocksworld/instance-12', 'blocksworld/instance-16'];
const plans = new Map([...SHORT, ...LONG].map((id) => [blocksworld.createEnvironment(id, { seed: 'x' }).instruction(), blocksworld.referenceSolution(id)]));

function blocksHarness(model: HarnessConfig['model'] = { main: { model: 'sim:small' } }): HarnessConfig {
  return parseHarnessConfig({
    name: 'gate-test',
    model,
    hooks: { task_start: [{ id: 'system_prompt', type: 'system_prompt', params: {} }], step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 8 } }] },
  });
}

/** A failing call: put the first plan block down while the hand is empty. */
const failing = (s: PlanState): ToolCall => ({ id: 'x', name: 'put_down', args: { block: String(s.plan[0]?.args.block ?? 'red') } });

interface GateRun {
  pre: Awaited<ReturnType<typeof preGateChecks>>;
  verdict: ReturnType<typeof seesaw>;
}

/** The gate on one candidate: its rollout-free checks, then incumbent and candidate on the same tasks, seeds and model. */
async function gate(options: { benchmark: Benchmark; incumbent: HarnessConfig; edits: Edit[]; taskIds: string[]; model: (created: Model) => Model; k?: number; memory?: boolean }): Promise<GateRun> {
  const built = applyEdits(options.incumbent, options.edits);
  if (!built.ok) throw new Error(built.error.message);
  const id = harnessId(built.config);
  const candidate: Candidate = {
    candidateId: 'c1',
    harnessId: id,
    editKey: editKey(options.edits),
    bucket: bucketOf(options.edits, options.incumbent),
    manifest: { candidateId: 'c1', bucket: bucketOf(options.edits, options.incumbent), capabilityEvidence: ['the failure the processor addresses'], changes: options.edits, predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] }, attributionSignature: 'test' },
  };
  const pre = await preGateChecks(options.incumbent, candidate, built.config, options.benchmark, { seed: 'gate' });
  const run = async (config: HarnessConfig) => {
    const lessonStore = options.memory ? new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-gate-'))) : undefined;
    if (lessonStore) dirs.push(lessonStore.root);
    const r = await rolloutTasks({ benchmark: options.benchmark, config, harnessId: harnessId(config), taskIds: options.taskIds, k: options.k ?? 1, seed: 'gate', substituteModel: options.model, limiters: null, keepTraces: false, ...(lessonStore ? { lessonStore } : {}) });
    return r.outcomes;
  };
  const [incumbentOutcomes, candidateOutcomes] = [await run(options.incumbent), await run(built.config)];
  return { pre, verdict: seesaw(incumbentOutcomes, candidateOutcomes, 1) };
}

const insert = (hook: string, type: string, params: Record<string, unknown> = {}, id = type): Edit => ({ op: 'insert', hook, processor: { id, type, params } }) as Edit;
const planner = (flaw: () => Flaw) => () => new PlanFollower(plans, flaw());

function expectShips(run: GateRun) {
  expect(run.pre).toMatchObject({ passed: true, reason: null });
  expect(run.verdict).toMatchObject({ passed: true, regressions: [] });
  expect(run.verdict.incumbentPassed).toBe(0);
  expect(run.verdict.candidatePassed).toBeGreaterThan(0);
}

describe('the gate ships each processor where it helps (blocksworld, scripted model)', () => {
  test('tool_call_correction: the model writes block names in capitals; the enum repair makes the calls run', async () => {
    const flaw = () => (s: PlanState) => (s.next ? s.issue({ ...s.next, args: Object.fromEntries(Object.entries(s.next.args).map(([k, v]) => [k, String(v).toUpperCase()])) }) : null);
    expectShips(await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('before_tool', 'tool_call_correction', { useModel: false })], taskIds: SHORT, model: planner(flaw) }));
  });

  test('parse_retry: the model answers the act step with an empty reply; asked to rewrite it as one call, it gives the call', async () => {
    const flaw = () => () => text('');
    expectShips(await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('after_model', 'parse_retry', { maxRetries: 5 })], taskIds: SHORT, model: planner(flaw) }));
  });

  test('tool_failure_guard: the model repeats a failing call until a result tells it to switch strategy', async () => {
    const flaw = () => (s: PlanState) => (s.request.messages.some((m) => m.role === 'tool' && m.content.includes('Switch strategy')) ? null : s.stray(failing(s)));
    expectShips(await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('after_tool', 'tool_failure_guard')], taskIds: SHORT, model: planner(flaw) }));
  });

  test('repeated_action: the model repeats a failing call until a context part says it repeats itself', async () => {
    const flaw = () => {
      let warned = false;
      return (s: PlanState) => {
        warned ||= s.request.parts.some((p) => p.kind === 'repeated_action');
        return warned ? null : s.stray(failing(s));
      };
    };
    expectShips(await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('before_model', 'repeated_action')], taskIds: SHORT, model: planner(flaw) }));
  });

  test('todo_tracking: after one sub-step the model believes it is done, unless a checklist shows what is still open', async () => {
    const flaw = () => (s: PlanState) => (s.done >= 1 && s.next && !s.request.parts.some((p) => p.kind === 'todo') ? text('Done: the goal holds.') : null);
    expectShips(await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('before_model', 'todo_tracking')], taskIds: SHORT, model: planner(flaw) }));
  });

  test('self_verify: the model declares victory early; the judge role finds what is missing and the model goes on', async () => {
    const judge: Model = { id: 'scripted:judge', generate: async () => text('MISSING: the goal does not hold yet; the top block is not stacked.', 'scripted:judge') };
    const flaw = () => (s: PlanState) => (s.done >= 1 && s.next && !s.request.messages.some((m) => m.role === 'assistant' && m.content.startsWith('Before I answer, one check')) ? text('Done: the goal holds.') : null);
    const model = (created: Model) => (created.id === 'sim:large' ? judge : new PlanFollower(plans, flaw()));
    const incumbent = blocksHarness({ main: { model: 'sim:small' }, judge: { model: 'sim:large' } });
    expectShips(await gate({ benchmark: blocksworld, incumbent, edits: [insert('after_model', 'self_verify')], taskIds: SHORT, model }));
  });

  test('model_router: the main model only makes failing calls; after a failure the step goes to the stronger judge role', async () => {
    const weak: Model = { id: 'scripted:weak', generate: async () => ({ text: '', toolCalls: [{ id: 'w', name: 'put_down', args: { block: 'red' } }], usage, stopReason: 'tool_use', model: 'scripted:weak' }) };
    const model = (created: Model) => (created.id === 'sim:large' ? new PlanFollower(plans, () => null, 'scripted:strong') : weak);
    const incumbent = blocksHarness({ main: { model: 'sim:small' }, judge: { model: 'sim:large' } });
    expectShips(await gate({ benchmark: blocksworld, incumbent, edits: [insert('before_model', 'model_router', { escalateTo: 'judge', escalateAfterFailures: 1 })], taskIds: SHORT, model }));
  });

  test('tool_filter: the model keeps reaching for unstack, a tool these tasks never need, unless told to leave it alone', async () => {
    const flaw = () => (s: PlanState) => (systemOf(s.request).includes('Do not call: unstack') ? null : s.stray({ id: 'u', name: 'unstack', args: { block: String(s.plan[0]?.args.block), target: String(s.plan[1]?.args.target) } }));
    expectShips(await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('task_start', 'tool_filter', { exclude: ['unstack'] })], taskIds: SHORT, model: planner(flaw) }));
  });

  test('context_compaction: the model loses track once the conversation grows; summarising the old turns keeps it short', async () => {
    const flaw = () => (s: PlanState) => (s.request.messages.filter((m) => m.role !== 'system').length > 6 ? text('I have lost track of what I was doing.') : null);
    expectShips(await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('step_start', 'context_compaction', { contextTokens: 500, threshold: 0.1, keepLast: 2 })], taskIds: LONG, model: planner(flaw) }));
  });

  test('episodic_memory: the model tries a failing approach unless a lesson says it failed before; the second attempt learns from the first', async () => {
    const flaw = () => (s: PlanState) => (/Lessons from earlier episodes[\s\S]*Failed/.test(systemOf(s.request)) ? null : s.stray(failing(s)));
    const edits = [insert('task_start', 'episodic_memory', {}, 'memory_read'), insert('task_end', 'episodic_memory', {}, 'memory_write')];
    const run = await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits, taskIds: SHORT, model: planner(flaw), k: 2, memory: true });
    expectShips(run);
    expect(run.verdict.unlocked).toEqual(SHORT);
  });
});

describe('the gate ships each processor where it helps (user suites, scripted model)', () => {
  let suites: Map<string, SuiteBenchmark>;
  beforeAll(async () => {
    suites = new Map((await loadSuitesConfig(resolve(__dirname, '../fixtures/suites/gate/harnessx.config.ts'))).map((s) => [s.name, s]));
  });
  const suiteHarness = () => parseHarnessConfig({ name: 'gate-test', model: { main: { model: 'sim:small' } }, hooks: { task_start: [{ id: 'system_prompt', type: 'system_prompt', params: {} }], step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 6 } }] } });
  const reply = (respond: (request: ModelRequest) => ModelResponse): Model => ({ id: 'scripted:suite', generate: async (request) => respond(request) });
  const numberIn = (s: string) => ({ three: 3, five: 5 })[/number (\w+)/.exec(s)?.[1] ?? ''] ?? 0;

  test('skill_loader: the answer format is in the suite\'s skill file; the model follows it when the file is in its prompt', async () => {
    const model = () => reply((r) => text(systemOf(r).includes('ANSWER: <number>') ? `ANSWER: ${numberIn(firstUser(r.messages))}` : `The number is ${numberIn(firstUser(r.messages))}.`));
    const suite = suites.get('gate-format')!;
    expectShips(await gate({ benchmark: suite, incumbent: suiteHarness(), edits: [insert('task_start', 'skill_loader')], taskIds: suite.tasks().map((t) => t.id), model }));
  });

  test('self_verify on an answer task: the judge holds a wrong-format answer back (it is not given), and the model answers again', async () => {
    const judge: Model = { id: 'scripted:judge', generate: async (r) => text(/ANSWER: \d+$/.test(r.messages.at(-1)!.content) ? 'OK' : 'MISSING: the answer must be given as ANSWER: <number>.', 'scripted:judge') };
    const model = (created: Model) =>
      created.id === 'sim:large'
        ? judge
        : reply((r) => text(r.messages.some((m) => m.role === 'user' && m.content.includes('held back')) ? `ANSWER: ${numberIn(firstUser(r.messages))}` : `The number is ${numberIn(firstUser(r.messages))}.`));
    const suite = suites.get('gate-format')!;
    const incumbent = parseHarnessConfig({ ...suiteHarness(), model: { main: { model: 'sim:small' }, judge: { model: 'sim:large' } } });
    expectShips(await gate({ benchmark: suite, incumbent, edits: [insert('after_model', 'self_verify')], taskIds: suite.tasks().map((t) => t.id), model }));
  });

  test('tool_whitelist: the model tidies up with clear_notes, which deletes its work; the whitelist refuses the call', async () => {
    const model = () =>
      reply((r) => {
        const calls = r.messages.filter((m) => m.role === 'assistant').length;
        const note = /says "([^"]+)"/.exec(firstUser(r.messages))?.[1] ?? '';
        const call = (name: string, args: Record<string, unknown>): ModelResponse => ({ text: '', toolCalls: [{ id: `c${calls}`, name, args }], usage, stopReason: 'tool_use', model: 'scripted:suite' });
        return calls === 0 ? call('add_note', { text: note }) : calls === 1 ? call('clear_notes', {}) : text('1');
      });
    const suite = suites.get('gate-notes')!;
    expectShips(await gate({ benchmark: suite, incumbent: suiteHarness(), edits: [insert('before_tool', 'tool_whitelist', { deny: ['clear_notes'] })], taskIds: suite.tasks().map((t) => t.id), model }));
  });

  test('sycophancy_guard: pushed by the user, the model grants the forbidden exception unless reminded to hold to the policy', async () => {
    const model = () =>
      reply((r) => {
        const pushed = r.messages.filter((m) => m.role === 'user').length > 1;
        if (!pushed) return text('The order is past the 30-day window, so it cannot be refunded.');
        return text(r.parts.some((p) => p.kind === 'sycophancy') ? 'I checked again: the policy allows no refund after 30 days, so I cannot refund it.' : "You're right, I'll make an exception and refund it.");
      });
    const suite = suites.get('gate-refund')!;
    expectShips(await gate({ benchmark: suite, incumbent: suiteHarness(), edits: [insert('before_model', 'sycophancy_guard')], taskIds: suite.tasks().map((t) => t.id), model }));
  });
});

describe('processors that cannot raise the pass rate: the gate finds no gain and no regression', () => {
  const cases: Array<[string, Edit]> = [
    ['token_budget', insert('after_model', 'token_budget', { maxTokens: 100_000 })],
    ['cost_guard', insert('after_model', 'cost_guard', { maxUsd: 10 })],
    ['llm_judge', insert('task_end', 'llm_judge')],
    ['process_reward', insert('step_end', 'process_reward', { mode: 'rule' })],
    ['episode_metrics', insert('step_end', 'episode_metrics')],
  ];
  test.each(cases)('%s: passes the rollout-free checks, then "no gain" with a model that already solves the tasks', async (_type, edit) => {
    const run = await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [edit], taskIds: SHORT, model: () => new PlanFollower(plans) });
    expect(run.pre).toMatchObject({ passed: true });
    expect(run.verdict).toMatchObject({ passed: false, regressions: [], incumbentPassed: 2, candidatePassed: 2, detail: expect.stringMatching(/^no gain/) });
  });

  test('a guard that stops the episode too early is a regression the gate refuses', async () => {
    // $0.0001 at $3/$15 per million tokens: the first reply (10 in, 5 out) already costs $0.000105.
    const run = await gate({ benchmark: blocksworld, incumbent: blocksHarness(), edits: [insert('after_model', 'cost_guard', { maxUsd: 0.0001 })], taskIds: SHORT, model: () => new PlanFollower(plans) });
    expect(run.verdict).toMatchObject({ passed: false, regressions: SHORT });
  });
});

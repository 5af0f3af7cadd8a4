import { defaultCorruptions } from '../benchmarks/check-benchmark';
import { ToolRouter } from './tool-router';
import type { Benchmark, BenchmarkTask, Corruption, ScoredEnvironment, Verdict } from '../benchmarks/types';
import type { Model } from '../harness/processor';
import type { ToolCall, ToolResult, ToolSpec } from '../harness/types';
import type { LoadedSuiteTask } from './load-tasks';
import type { EpisodeRecord, SuiteConfig, SuiteScore, SuiteVerifier, ToolProvider, ToolSession } from './types';
import { DEFAULT_VERIFIER_TIMEOUT_MS, verifySafely } from './verifiers';

/**
 * The final answer as a step of a plan. Reference solutions and check-benchmark's corruptions are lists of
 * tool calls; a suite whose tasks end with a text answer needs that answer in the list too, so that dropping
 * or altering it is a corruption the verifier must reject. The name cannot be a tool's (tool names are
 * letters, digits, "_" and "-"), and the model never sees it: the run loop gives answers through env.answer.
 */
export const FINAL_ANSWER_ACTION = '(final answer)';

/** Turns a persona-played user may take before the conversation is ended for it. */
const MAX_PERSONA_TURNS = 20;
/** What a persona-played user says when the request is handled. */
const USER_STOP = '###STOP###';

export interface SuiteBenchmarkOptions {
  name: string;
  config: SuiteConfig;
  /** The suite's tasks, loaded and checked (suites/load-tasks.ts). */
  tasks: LoadedSuiteTask[];
  /** One per configured MCP server, plus one for the suite's function tools when it has any. */
  providers: ToolProvider[];
  verifier: SuiteVerifier;
  /** The suite's skill files, read at load (name → text). */
  skills?: Record<string, string>;
}

/**
 * A user's task suite as a Benchmark: everything AEGIS does with built-in benchmarks (splits, gate, audit,
 * compare, coevolve, check-benchmark) works on it unchanged. Each episode opens its own tool sessions and
 * closes them when scored; the verifier is given the whole episode as an EpisodeRecord.
 */
export class SuiteBenchmark implements Benchmark {
  readonly name: string;
  readonly description: string;
  readonly hasSimulatedUser: boolean;
  readonly episodesStartProcesses: boolean;
  private readonly byId: Map<string, LoadedSuiteTask>;
  private readonly benchmarkTasks: BenchmarkTask[];

  constructor(private readonly options: SuiteBenchmarkOptions) {
    this.name = options.name;
    this.description = options.config.description ?? `user suite "${options.name}"`;
    this.hasSimulatedUser = !!options.config.user;
    this.episodesStartProcesses = options.providers.some((p) => p.startsProcessPerEpisode);
    this.byId = new Map(options.tasks.map((t) => [t.id, t]));
    this.benchmarkTasks = options.tasks.map((t) => ({ id: t.id, instruction: t.instruction, split: t.split }));
  }

  tasks(): BenchmarkTask[] {
    return this.benchmarkTasks;
  }

  task(id: string): BenchmarkTask {
    const t = this.suiteTask(id);
    return { id: t.id, instruction: t.instruction, split: t.split };
  }

  /** The skill files the suite declares, for the skill_loader processor. */
  skills(): Readonly<Record<string, string>> {
    return this.options.skills ?? {};
  }

  /** The suite's tools, for running one of its agents outside evolution (`harnessx run --suite`, createAgent). */
  get toolProviders(): readonly ToolProvider[] {
    return this.options.providers;
  }

  /** The task with everything the verifier may know (metadata, reference); never shown to the model. */
  suiteTask(id: string): LoadedSuiteTask {
    const t = this.byId.get(id);
    if (!t) throw new Error(`suite "${this.name}" has no task "${id}"`);
    return t;
  }

  /** Opens the episode's tool sessions (all of them, or none: a failure closes those already open). */
  async createEnvironment(taskId: string, options: { seed: string; userModel?: Model }): Promise<SuiteEnvironment> {
    const task = this.suiteTask(taskId);
    const sessions: Array<{ label: string; session: ToolSession }> = [];
    try {
      for (const provider of this.options.providers) sessions.push({ label: provider.label, session: await provider.open({ suite: this.name, taskId, seed: options.seed }) });
      return new SuiteEnvironment(this.name, task, this.options, sessions, options.userModel);
    } catch (e) {
      await Promise.allSettled(sessions.map((s) => s.session.close()));
      throw e;
    }
  }

  /** The task's reference tool calls, then its reference answer (as FINAL_ANSWER_ACTION) when it has one. */
  referenceSolution(taskId: string): ToolCall[] {
    const task = this.suiteTask(taskId);
    const calls: ToolCall[] = (task.reference ?? []).map((c, i) => ({ id: `ref-${i}`, name: c.name, args: c.args }));
    if (task.referenceAnswer !== undefined) calls.push({ id: `ref-${calls.length}`, name: FINAL_ANSWER_ACTION, args: { text: task.referenceAnswer } });
    return calls;
  }

  /** Replays the actions on fresh tool sessions and asks the verifier; valid only at full score. */
  async verifyPlan(taskId: string, actions: ToolCall[]): Promise<Verdict> {
    const env = await this.createEnvironment(taskId, { seed: 'verify-plan' });
    try {
      for (const action of actions) {
        if (action.name === FINAL_ANSWER_ACTION) env.answer(String(action.args.text ?? ''));
        else await env.execute(action);
      }
      const score = await env.score();
      const reason = env.verdict()?.reason;
      return score >= 1 ? { valid: true, reason: reason ?? 'verifier score 1' } : { valid: false, reason: `verifier score ${score}${reason ? `: ${reason}` : ''}` };
    } finally {
      await env.close();
    }
  }

  /**
   * The generic corruptions (nothing, the last step dropped) and the last step with its arguments altered: a
   * verifier that only checks which tools were called fails this one. The last step, not the first: a plan's
   * first call is often a read-only look-up (a search), and a look-up with other arguments followed by the
   * same changes leaves the same final state, so a verifier that rightly judges by the state accepts it. The
   * last step is the one that finishes the task (the final answer, or the last change), so altering it
   * must change the outcome.
   */
  corruptSolutions(taskId: string): Corruption[] {
    const reference = this.referenceSolution(taskId);
    const out = defaultCorruptions(reference);
    if (reference.length) {
      const last = reference[reference.length - 1];
      out.push({ kind: 'last step arguments altered', actions: [...reference.slice(0, -1), { ...last, args: alterArgs(last.args) }] });
    }
    return out;
  }

  /**
   * The gate's smoke episode runs on this task. User suites have no synthetic task kept out of the splits,
   * so the first train task serves: the smoke episode only checks that a candidate harness runs an episode
   * end to end (its outcome is not counted), and a train task is one the run already rolls out.
   */
  smokeTaskId(): string {
    return (this.benchmarkTasks.find((t) => t.split === 'train') ?? this.benchmarkTasks[0]).id;
  }
}

/** Arguments changed so that no sensible verifier accepts them: strings suffixed, numbers shifted, booleans flipped; empty args gain a field. */
function alterArgs(args: Record<string, unknown>): Record<string, unknown> {
  const entries = Object.entries(args);
  if (!entries.length) return { unexpected: 'corrupted' };
  // Strings are replaced, not suffixed: a verifier that checks "contains the expected value" must reject it too.
  return Object.fromEntries(
    entries.map(([k, v]) => [k, typeof v === 'string' ? (v === '(corrupted)' ? '(corrupted again)' : '(corrupted)') : typeof v === 'number' ? v + 7919 : typeof v === 'boolean' ? !v : Array.isArray(v) ? [] : v === null ? 'corrupted' : { corrupted: true }]),
  );
}

/** One episode of a suite: its open tool sessions, everything the agent did, and the verifier's verdict once scored. */
export class SuiteEnvironment implements ScoredEnvironment {
  private readonly router: ToolRouter;
  private readonly toolCalls: EpisodeRecord['toolCalls'] = [];
  private readonly dialogue: EpisodeRecord['dialogue'] = [];
  private finalAnswer: string | null = null;
  private conversationOver = false;
  private scored: SuiteScore | null = null;
  private closed = false;
  /** Conversational suites only: an agent message without a tool call goes to the user. */
  readonly respond?: (agentText: string) => Promise<string>;
  /** Judge-scored suites only: the rollout then scores with the harness's judge role. */
  readonly scoreWithJudge?: (judge: Model) => Promise<number>;

  constructor(
    private readonly suite: string,
    private readonly task: LoadedSuiteTask,
    private readonly options: SuiteBenchmarkOptions,
    private readonly sessions: Array<{ label: string; session: ToolSession }>,
    private readonly userModel: Model | undefined,
  ) {
    this.router = new ToolRouter(sessions, (tool, first, second) => `suite "${suite}": tool "${tool}" is offered by both ${first} and ${second}; tool names must be unique across a suite's tools`);
    if (options.config.user) this.respond = (text) => this.userReply(text);
    if (typeof options.config.verifier === 'object' && 'judge' in options.config.verifier) this.scoreWithJudge = (judge) => this.scoreWith(judge);
  }

  instruction(): string {
    return this.task.instruction;
  }

  tools(): ToolSpec[] {
    return this.router.specs;
  }

  admissibleActions(): null {
    return null;
  }

  async execute(call: ToolCall): Promise<ToolResult> {
    const owner = this.router.ownerOf(call.name);
    const result: ToolResult = owner ? await owner.session.call(call) : this.router.unknownTool(call);
    this.toolCalls.push({ name: call.name, args: call.args ?? {}, ok: result.ok, output: result.output });
    return result;
  }

  /** The agent's final answer (a reply without a tool call); the episode is then done. */
  answer(text: string): void {
    this.finalAnswer = text;
  }

  isDone(): boolean {
    return this.finalAnswer !== null && (!this.options.config.user || this.conversationOver);
  }

  /**
   * The user's reply: the next scripted turn, or the persona model's message. The agent's latest message
   * is its answer so far; when the script has run out (or the persona says it is done, or there is no
   * model to play it) the conversation, and the episode, ends.
   */
  private async userReply(agentText: string): Promise<string> {
    this.finalAnswer = agentText;
    const user = this.options.config.user!;
    let reply: string;
    if ('script' in user) {
      const turn = this.dialogue.length;
      if (turn < user.script.length) reply = user.script[turn];
      else {
        this.conversationOver = true;
        reply = '(The user has nothing more to say; the conversation is over.)';
      }
    } else if (!this.userModel) {
      this.conversationOver = true;
      reply = `(No model plays this suite's user persona: set model.evaluator in the harness config or HARNESSX_USER_MODEL on the workers. The conversation ends here.)`;
    } else {
      const response = await this.userModel.generate({
        purpose: 'act',
        messages: [
          {
            role: 'system',
            content: `You play a user talking to an AI assistant. Persona: ${user.persona}\nWhat you came for: ${this.task.instruction}\nReply with your next message to the assistant only. When your request has been handled (or cannot be), reply with exactly ${USER_STOP}.`,
          },
          ...this.dialogue.flatMap((d) => [
            { role: 'user' as const, content: d.agent },
            { role: 'assistant' as const, content: d.user },
          ]),
          { role: 'user', content: agentText },
        ],
        parts: [],
        tools: [],
      });
      reply = response.text.trim();
      if (reply.includes(USER_STOP) || this.dialogue.length + 1 >= MAX_PERSONA_TURNS) this.conversationOver = true;
    }
    this.dialogue.push({ agent: agentText, user: reply });
    return reply;
  }

  /** The episode as the verifier reads it, with the tools' final state (keyed by provider label when several). */
  async record(): Promise<EpisodeRecord> {
    const states = await Promise.all(this.sessions.map(async ({ session }) => session.state()));
    let state: unknown;
    if (states.length === 1) state = states[0];
    else if (states.length > 1) {
      const keyed: Record<string, unknown> = {};
      this.sessions.forEach(({ label }, i) => (keyed[label in keyed ? `${label}#${i}` : label] = states[i]));
      state = keyed;
    }
    return {
      suite: this.suite,
      task: { ...this.task },
      toolCalls: this.toolCalls.map((c) => ({ ...c })),
      answer: this.finalAnswer,
      dialogue: this.dialogue.map((d) => ({ ...d })),
      state,
    };
  }

  score(): Promise<number> {
    return this.scoreWith(undefined);
  }

  private async scoreWith(judge: Model | undefined): Promise<number> {
    let record: EpisodeRecord;
    try {
      record = await this.record();
    } catch (e) {
      // The final state could not be read (a crashed MCP server): the episode cannot be verified, so it scores 0.
      this.scored = { score: 0, reason: `could not read the final tool state: ${e instanceof Error ? e.message : String(e)}` };
      return 0;
    }
    this.scored = await verifySafely(this.options.verifier, record, { judge, timeoutMs: this.options.config.verifierTimeoutMs ?? DEFAULT_VERIFIER_TIMEOUT_MS });
    return this.scored.score;
  }

  /** The verifier's verdict once scored. */
  verdict(): SuiteScore | null {
    return this.scored;
  }

  /** The verifier's breakdown and its reason (why a failing verifier scored 0 lands in the trace here). */
  breakdown(): Record<string, unknown> {
    if (!this.scored) return { verifier: this.options.verifier.label, reason: 'not scored yet' };
    return { ...(this.scored.breakdown ?? {}), score: this.scored.score, ...(this.scored.reason !== undefined ? { reason: this.scored.reason } : {}), verifier: this.options.verifier.label };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.sessions.map(({ session }) => session.close()));
  }
}

import { join } from 'node:path';
import { packageRoot } from '../../harness/package-root';
import { z } from 'zod';
import { callStructured } from '../../harness/structured-output';
import { canonicalJson } from '../../harness/canonical';
import type { Model } from '../../harness/processor';
import type { Tau2RetailBrief } from '../../harness/task-brief';
import type { ToolCall, ToolParameter, ToolResult, ToolSpec } from '../../harness/types';
import { dataFiles, ExcludedTask, readDataFile, readJsonFile, ReportsLoading, TaskIndex, TaskNote } from '../data-file';
import { splitOf } from '../split';
import type { BuiltinBenchmark, BenchmarkTask, Corruption, ImmediateScoredEnvironment, Verdict } from '../types';
import { RetailData, RetailDb, ToolError, WRITE_TOOLS } from './retail-db';
import { LlmUser, openingLine, ScriptedUser, STOP_TOKENS, UserScenario } from './user-simulator';

// From the package root, not __dirname: the compiled copy (dist/) ships without the data beside it.
export const DATA_DIR = join(packageRoot(), 'benchmarks', 'tau2-retail', 'data');

/** One task in tau2-bench's tasks.json format (the fields used here). */
export interface Tau2Task {
  id: string;
  scenario: UserScenario;
  actions: Array<{ name: string; arguments: Record<string, unknown> }>;
  communicateInfo: string[];
  nlAssertions: string[];
  rewardBasis: string[];
  /**
   * Gold actions that fail against the tools (a mistyped e-mail, an order id without its W, a write whose
   * check fails and so changes nothing): recorded and skipped, as upstream tau2's evaluator does, when the
   * gold database is built.
   */
  skippedGoldActions: Array<{ index: number; name: string; error: string }>;
  /** Whether the gold ends by transferring the user to a human agent (then the agent must too). */
  goldTransfers: boolean;
}

const str = (description: string): ToolParameter => ({ type: 'string', description });
const ids = (description: string): ToolParameter => ({ type: 'array', description });
const ADDRESS = { address1: str('street address'), address2: str('apartment, suite…'), city: str('city'), state: str('state'), country: str('country'), zip: str('zip code') };

/** The 16 tools as the agent sees them (semantics in data/TOOLS.md). */
export const RETAIL_TOOLS: ToolSpec[] = [
  { name: 'find_user_id_by_email', description: 'Find a user id by email.', parameters: { email: str('the email') } },
  { name: 'find_user_id_by_name_zip', description: 'Find a user id by first name, last name and zip code.', parameters: { first_name: str('first name'), last_name: str('last name'), zip: str('zip code') } },
  { name: 'get_user_details', description: 'Get the details of a user, including their orders.', parameters: { user_id: str('e.g. sara_doe_496') } },
  { name: 'get_order_details', description: 'Get the status and details of an order.', parameters: { order_id: str('e.g. #W0000000, with the #') } },
  { name: 'get_product_details', description: 'Get a product and all its variants (items).', parameters: { product_id: str('10-digit product id') } },
  { name: 'get_item_details', description: 'Get one variant (item) by id.', parameters: { item_id: str('10-digit item id') } },
  { name: 'list_all_product_types', description: 'List product names with their product ids.', parameters: {} },
  { name: 'calculate', description: 'Evaluate arithmetic (digits, + - * / ( ) . only); result rounded to 2 decimals.', parameters: { expression: str('e.g. 2 * (3.5 + 1)') } },
  { name: 'transfer_to_human_agents', description: 'Transfer the user to a human agent, with a summary. Only when the request cannot be handled within policy.', parameters: { summary: str('what the user needs') } },
  { name: 'cancel_pending_order', description: 'Cancel a pending order. Reason: "no longer needed" or "ordered by mistake".', parameters: { order_id: str('order id'), reason: { type: 'string', description: 'the reason', enum: ['no longer needed', 'ordered by mistake'] } } },
  { name: 'modify_pending_order_address', description: 'Change the shipping address of a pending order.', parameters: { order_id: str('order id'), ...ADDRESS } },
  { name: 'modify_pending_order_items', description: 'Swap items of a pending order for other variants of the same products (once per order).', parameters: { order_id: str('order id'), item_ids: ids('item ids to replace'), new_item_ids: ids('new item ids, same order'), payment_method_id: str('pays or receives the price difference') } },
  { name: 'modify_pending_order_payment', description: 'Change the payment method of a pending order.', parameters: { order_id: str('order id'), payment_method_id: str('the new payment method') } },
  { name: 'modify_user_address', description: "Change a user's default address.", parameters: { user_id: str('user id'), ...ADDRESS } },
  { name: 'return_delivered_order_items', description: 'Request a return of items of a delivered order.', parameters: { order_id: str('order id'), item_ids: ids('item ids to return'), payment_method_id: str('refund to: the original method or a gift card') } },
  { name: 'exchange_delivered_order_items', description: 'Request an exchange of items of a delivered order for other variants.', parameters: { order_id: str('order id'), item_ids: ids('item ids to exchange'), new_item_ids: ids('new item ids, same order'), payment_method_id: str('pays or receives the price difference') } },
];

const JudgeSchema = z.object({ results: z.array(z.object({ assertion: z.string(), met: z.boolean(), reason: z.string().default('') })) });

export interface RewardBreakdown {
  DB: number;
  /** Present when the gold transfers to a human or the agent did: 1 when the agent transferred exactly when the gold does. */
  TRANSFER?: number;
  COMMUNICATE?: number;
  /** 'not evaluated' without a judge model: such a task never counts as passed. */
  NL_ASSERTION?: number | 'not evaluated';
  reward: number;
}

/**
 * tau2-bench retail: customer service over the 16 retail tools, with the policy as the agent's
 * instructions and a simulated user driving the conversation. Each episode gets its own copy of the
 * database. Reward = the product of the task's reward basis: DB (the final database equals the gold
 * actions replayed on a fresh copy), COMMUNICATE (required strings in the agent's messages) and
 * NL_ASSERTION (an LLM judge when a judge model is configured; otherwise not evaluated, and not passed).
 */
export class Tau2RetailBenchmark implements BuiltinBenchmark, ReportsLoading {
  readonly name = 'tau2-retail';
  readonly description = 'tau2-bench retail customer service: 16 tools, per-episode database, simulated user, DB/COMMUNICATE/NL_ASSERTION reward.';
  readonly hasSimulatedUser = true;
  readonly policy: string;
  private readonly guidelines: string;
  private readonly data: RetailData;
  private readonly taskMap = new Map<string, Tau2Task>();
  private readonly goldChanges = new Map<string, Record<string, unknown>>();
  private taskList: BenchmarkTask[] | null = null;

  constructor(options: { dataDir?: string } = {}) {
    const dir = options.dataDir ?? DATA_DIR;
    const read = (name: string) => readDataFile(join(dir, name));
    this.data = readJsonFile<RetailData>(join(dir, 'db.json'));
    this.policy = read('policy.md');
    this.guidelines = read('user-simulation-guidelines.md');
    // Every tasks*.json in the folder (upstream's tasks.json, plus any dropped beside it), in name order.
    const index = new TaskIndex<Tau2Task>();
    for (const file of dataFiles(dir, /^tasks.*\.json$/)) {
      const raw = readJsonFile<Array<Record<string, any>>>(file);
      if (!Array.isArray(raw)) throw new Error(`${file}: expected a JSON array of tau2 tasks`);
      for (const [i, t] of raw.entries()) {
        const instr = t?.user_scenario?.instructions;
        const crit = t?.evaluation_criteria;
        if ((typeof t?.id !== 'string' && typeof t?.id !== 'number') || !instr?.reason_for_call || !Array.isArray(crit?.actions))
          throw new Error(`${file}: task ${i} needs an id, user_scenario.instructions.reason_for_call and evaluation_criteria.actions`);
        const actions = crit.actions.map((a: { name: string; arguments: Record<string, unknown> }) => ({ name: a.name, arguments: a.arguments ?? {} }));
        const task: Tau2Task = {
          id: `tau2-retail/${t.id}`,
          scenario: { reason_for_call: instr.reason_for_call, known_info: instr.known_info, unknown_info: instr.unknown_info, task_instructions: instr.task_instructions },
          actions,
          communicateInfo: crit.communicate_info ?? [],
          nlAssertions: crit.nl_assertions ?? [],
          rewardBasis: crit.reward_basis ?? ['DB'],
          skippedGoldActions: [],
          goldTransfers: actions.some((a: { name: string }) => a.name === 'transfer_to_human_agents'),
        };
        index.add(task.id, task, file);
        // The gold database as upstream tau2 builds it: the gold actions replayed on a fresh copy, a failing
        // one (read or write) logged and skipped; a failed write changes nothing, so the database the later
        // actions build is still defined. A task is excluded only when its gold database cannot be built at
        // all: a gold action names a tool the environment does not have.
        const replay = this.replayGold(task);
        if ('unbuildable' in replay) {
          const { index: at, error } = replay.unbuildable;
          const a = task.actions[at];
          this.exclusions.push({ id: task.id, file, reason: `gold action ${at + 1} (${a.name}) cannot run: ${error}; the gold database cannot be built`, action: { index: at + 1, name: a.name, arguments: a.arguments }, error });
          continue;
        }
        task.skippedGoldActions = replay.skipped;
        // A task whose gold changes nothing, transfers no one and asserts nothing would be passed by an agent
        // that does nothing at all: no outcome tells solving from not trying, so it cannot be scored.
        const checksSomething = Object.keys(replay.changes).length > 0 || task.goldTransfers || (task.rewardBasis.includes('COMMUNICATE') && task.communicateInfo.length > 0) || (task.rewardBasis.includes('NL_ASSERTION') && task.nlAssertions.length > 0);
        if (!checksSomething) {
          this.exclusions.push({ id: task.id, file, reason: 'nothing to check: the gold actions change no record, transfer no one, and the task has no COMMUNICATE or NL_ASSERTION criterion, so doing nothing would score 1' });
          continue;
        }
        this.goldChanges.set(task.id, replay.changes);
        this.taskMap.set(task.id, task);
      }
    }
    for (const e of this.exclusions) this.excluded.set(e.id, e.reason);
  }

  private readonly exclusions: ExcludedTask[] = [];
  /** Upstream tasks left out, with why (each failing write names its action). */
  readonly excluded = new Map<string, string>();

  excludedTasks(): ExcludedTask[] {
    return this.exclusions;
  }

  /** Tasks with NL assertions in their reward basis: without a judge model they are "not evaluated" and score 0. */
  tasksNeedingJudge(): TaskNote[] {
    return [...this.taskMap.values()]
      .filter((t) => t.rewardBasis.includes('NL_ASSERTION') && t.nlAssertions.length > 0)
      .map((t) => ({ id: t.id, note: `${t.nlAssertions.length} NL assertion(s) only a judge model decides` }));
  }

  /** Kept tasks whose failing gold actions were skipped when the gold database was built. */
  taskNotes(): TaskNote[] {
    return [...this.taskMap.values()].flatMap((t) => t.skippedGoldActions.map((a) => ({ id: t.id, note: `gold action ${a.index + 1} (${a.name}) fails and is skipped (${(WRITE_TOOLS as readonly string[]).includes(a.name) ? 'a write; it changes nothing' : 'read-only'}): ${a.error}` })));
  }

  /**
   * The gold actions on a fresh database: the change set they produce (the DB target) with the failing
   * actions skipped, or the first action naming a tool the database does not have.
   */
  private replayGold(task: Tau2Task): { changes: Record<string, unknown>; skipped: Tau2Task['skippedGoldActions'] } | { unbuildable: { index: number; error: string } } {
    const db = new RetailDb(this.data);
    const skipped: Tau2Task['skippedGoldActions'] = [];
    for (const [i, a] of task.actions.entries()) {
      try {
        db.call(a.name, a.arguments);
      } catch (e) {
        if (!(e instanceof ToolError)) throw e;
        if (e.message.startsWith('Unknown tool')) return { unbuildable: { index: i, error: e.message } };
        skipped.push({ index: i, name: a.name, error: e.message });
      }
    }
    return { changes: db.changed(), skipped };
  }

  get db(): RetailData {
    return this.data;
  }

  tau2Task(id: string): Tau2Task {
    const t = this.taskMap.get(id);
    if (!t) throw new Error(`tau2-retail: no task "${id}"`);
    return t;
  }

  /** The simulator knows the gold actions; it recognises the customer's opening line in the prompt. */
  simulatorBrief(taskId: string): Tau2RetailBrief {
    const t = this.tau2Task(taskId);
    return { benchmark: 'tau2-retail', opening: openingLine(t.scenario), actions: structuredClone(t.actions), skippedActions: t.skippedGoldActions.map((a) => a.index), writeTools: [...WRITE_TOOLS] };
  }

  instructionFor(t: Tau2Task): string {
    return `${this.policy.trim()}\n\n# Conversation\nReply to the customer in plain text, or make one tool call per turn.\n\nCustomer: ${openingLine(t.scenario)}`;
  }

  tasks(): BenchmarkTask[] {
    this.taskList ??= [...this.taskMap.values()].map((t) => ({ id: t.id, instruction: this.instructionFor(t), split: splitOf(t.id) }));
    return this.taskList;
  }

  task(id: string): BenchmarkTask {
    return { id, instruction: this.instructionFor(this.tau2Task(id)), split: splitOf(id) };
  }

  /** The smoke task: the first task (the smoke episode checks harness mechanics, not the score). */
  smokeTaskId(): string {
    return [...this.taskMap.keys()][0];
  }

  cluster(taskId: string): string {
    const writes = this.tau2Task(taskId).actions.filter((a) => (WRITE_TOOLS as readonly string[]).includes(a.name)).map((a) => a.name);
    return writes.length ? [...new Set(writes)].sort().join('+') : 'read-only';
  }

  /** The database change set the gold actions produce (replayed once, when the tasks load): the DB target. */
  goldChangeSet(taskId: string): Record<string, unknown> {
    const target = this.goldChanges.get(taskId);
    if (!target) throw new Error(`tau2-retail: no task "${taskId}"`);
    return target;
  }

  /** DB component: the episode's final database equals the gold one (canonical JSON of every changed record). */
  databaseMatches(taskId: string, db: RetailDb): boolean {
    const gold = this.goldChangeSet(taskId);
    const mine = db.changed();
    for (const key of new Set([...Object.keys(gold), ...Object.keys(mine)])) {
      const a = key in mine ? mine[key] : db.original(key);
      const b = key in gold ? gold[key] : db.original(key);
      if (canonicalJson(a) !== canonicalJson(b)) return false;
    }
    return true;
  }

  /**
   * Transfers are an outcome the database does not record: a task whose gold transfers the user to a human
   * needs the agent to transfer, and one whose gold does not (the policy: transfer only what cannot be
   * handled) is failed by transferring. Without this, transferring at once would pass every task whose gold
   * changes nothing.
   */
  transferMatches(taskId: string, db: RetailDb): boolean {
    return db.transferred === this.tau2Task(taskId).goldTransfers;
  }

  createEnvironment(taskId: string, options: { seed: string; userModel?: Model } = { seed: 'default' }): ImmediateScoredEnvironment & { breakdown(): RewardBreakdown; scoreWithJudge(judge: Model): Promise<number> } {
    const task = this.tau2Task(taskId);
    const bench = this;
    const db = new RetailDb(this.data);
    const agentMessages: string[] = [];
    const transcript: string[] = [`user: ${openingLine(task.scenario)}`];
    // A user model, when the run wiring gives one (the harness's evaluator role, or HARNESSX_USER_MODEL on the
    // workers), makes the user an LLM driven by tau2's guidelines; otherwise the deterministic scripted user
    // plays it (offline runs and tests).
    const user: { reply(text: string): string | Promise<string> } = options.userModel
      ? new LlmUser(options.userModel, this.guidelines, task.scenario, openingLine(task.scenario))
      : new ScriptedUser(task.scenario);
    let ended = false;
    let judged: number | undefined;
    const breakdown = (): RewardBreakdown => {
      const parts: RewardBreakdown = { DB: bench.databaseMatches(taskId, db) ? 1 : 0, reward: 0 };
      if (task.goldTransfers || db.transferred) parts.TRANSFER = bench.transferMatches(taskId, db) ? 1 : 0;
      if (task.rewardBasis.includes('COMMUNICATE')) parts.COMMUNICATE = task.communicateInfo.every((info) => agentMessages.some((m) => m.toLowerCase().includes(info.toLowerCase()))) ? 1 : 0;
      if (task.rewardBasis.includes('NL_ASSERTION')) parts.NL_ASSERTION = task.nlAssertions.length === 0 ? 1 : judged ?? 'not evaluated';
      const factors = [parts.DB, parts.TRANSFER ?? 1, parts.COMMUNICATE ?? 1, parts.NL_ASSERTION ?? 1];
      parts.reward = factors.every((f) => typeof f === 'number') ? (factors as number[]).reduce((a, b) => a * b, 1) : 0;
      return parts;
    };
    return {
      instruction: () => this.instructionFor(task),
      tools: () => RETAIL_TOOLS,
      admissibleActions: () => null,
      execute(call: ToolCall): ToolResult {
        if (ended) return { ok: false, errorKind: 'precondition', output: 'The conversation has ended.' };
        try {
          const output = db.call(call.name, call.args ?? {});
          transcript.push(`tool ${call.name}(${JSON.stringify(call.args)}): ${output.slice(0, 300)}`);
          if (db.transferred) ended = true;
          return { ok: true, output };
        } catch (e) {
          if (!(e instanceof ToolError)) throw e;
          transcript.push(`tool ${call.name}(${JSON.stringify(call.args)}): Error: ${e.message}`);
          return { ok: false, errorKind: /must be|Unknown tool/.test(e.message) ? 'bad_arguments' : 'precondition', output: `Error: ${e.message}` };
        }
      },
      async respond(agentText: string): Promise<string> {
        agentMessages.push(agentText);
        transcript.push(`agent: ${agentText}`);
        const reply = await user.reply(agentText);
        transcript.push(`user: ${reply}`);
        if (STOP_TOKENS.some((t) => reply.includes(t))) ended = true;
        return reply;
      },
      isDone: () => ended,
      score: () => breakdown().reward,
      breakdown: breakdown as () => RewardBreakdown & Record<string, unknown>,
      /** NL_ASSERTION by an LLM judge over the transcript; the result is kept for breakdown(). */
      async scoreWithJudge(judge: Model): Promise<number> {
        if (task.nlAssertions.length && task.rewardBasis.includes('NL_ASSERTION')) {
          const r = await callStructured({
            model: judge,
            stage: 'judge',
            system: 'You judge a customer-service conversation. For each assertion, decide from the transcript whether it holds. Reply with one JSON object: {"results":[{"assertion":"…","met":true,"reason":"…"}]}, one entry per assertion, in order.',
            user: JSON.stringify({ transcript, assertions: task.nlAssertions }),
            schema: JudgeSchema,
            check: (v) => (v.results.length === task.nlAssertions.length ? [] : [`results: ${task.nlAssertions.length} entries expected, got ${v.results.length}`]),
          });
          judged = r.ok && r.value.results.every((x) => x.met) ? 1 : 0;
        }
        return breakdown().reward;
      },
    };
  }

  referenceSolution(taskId: string): ToolCall[] {
    return this.tau2Task(taskId).actions.map((a, i) => ({ id: `gold-${i}`, name: a.name, args: a.arguments }));
  }

  /**
   * Replays actions on a fresh database as an episode would run them: a failing call is an error message the
   * agent reads (it changes nothing), and a transfer ends the conversation. Valid when the final database is
   * the gold one and the agent transferred exactly when the gold does.
   */
  verifyPlan(taskId: string, actions: ToolCall[]): Verdict {
    const db = new RetailDb(this.data);
    const failed: string[] = [];
    for (const [i, a] of actions.entries()) {
      try {
        db.call(a.name, a.args);
      } catch (e) {
        if (!(e instanceof ToolError)) throw e;
        failed.push(`step ${i + 1} (${a.name}): ${e.message}`);
      }
      if (db.transferred) break;
    }
    const errors = failed.length ? ` (failed calls: ${failed.slice(0, 3).join('; ')})` : '';
    if (!this.databaseMatches(taskId, db)) return { valid: false, reason: `the final database differs from the gold one${errors}` };
    if (!this.transferMatches(taskId, db)) return { valid: false, reason: db.transferred ? 'transferred to a human agent, which the gold does not' : 'the gold transfers the user to a human agent; this did not' };
    return { valid: true, reason: `database matches the gold database${errors}` };
  }

  corruptSolutions(taskId: string): Corruption[] {
    const gold = this.referenceSolution(taskId);
    // Writes that change the gold database: dropping a skipped (failing) one changes nothing, so it corrupts nothing.
    const skipped = new Set(this.tau2Task(taskId).skippedGoldActions.map((a) => a.index));
    const writes = gold.map((a, i) => [a, i] as const).filter(([a, i]) => (WRITE_TOOLS as readonly string[]).includes(a.name) && !skipped.has(i));
    const touched = new Set(gold.map((a) => a.args.order_id));
    const bystander = Object.values(this.data.orders).find((o) => o.status === 'pending' && !touched.has(o.order_id))!;
    // The unasked-for write goes before a gold transfer (nothing runs after one: the conversation is over).
    const transferAt = gold.findIndex((a) => a.name === 'transfer_to_human_agents');
    const cut = transferAt < 0 ? gold.length : transferAt;
    const spurious: Corruption = { kind: 'spurious cancel', actions: [...gold.slice(0, cut), { id: 'bad', name: 'cancel_pending_order', args: { order_id: bystander.order_id, reason: 'no longer needed' } }, ...gold.slice(cut)] };
    const transfer: Corruption = this.tau2Task(taskId).goldTransfers
      ? { kind: 'transfer dropped', actions: gold.filter((a) => a.name !== 'transfer_to_human_agents') }
      : { kind: 'transfer to a human', actions: [...gold, { id: 'bad-t', name: 'transfer_to_human_agents', args: { summary: 'The customer needs help.' } }] };
    if (!writes.length) return [spurious, transfer];
    const [lastWrite, at] = writes[writes.length - 1];
    const out: Corruption[] = [{ kind: 'last write dropped', actions: gold.filter((_, i) => i !== at) }, { kind: 'reads only', actions: gold.filter((a) => !(WRITE_TOOLS as readonly string[]).includes(a.name)) }];
    const args = { ...lastWrite.args };
    if (typeof args.order_id === 'string') args.order_id = this.otherOrderOf(args.order_id);
    else if (typeof args.zip === 'string') args.zip = `${args.zip}0`;
    out.push({ kind: 'wrong target', actions: gold.map((a, i) => (i === at ? { ...a, args } : a)) }, spurious, transfer);
    return out;
  }

  /** Another order of the same user in the same status (so a write on it succeeds but changes the wrong order). */
  private otherOrderOf(orderId: string): string {
    const o = this.data.orders[orderId];
    const other = Object.values(this.data.orders).find((x) => x.user_id === o?.user_id && x.order_id !== orderId && x.status === o.status);
    return other?.order_id ?? Object.values(this.data.orders).find((x) => x.order_id !== orderId && x.status === o?.status)!.order_id;
  }
}

import type { TaskOutcome } from './rollout';
import { RolloutAllowance, spendReaches } from './rollout-cut';
import { selfHostedLimit } from './gate-waves';
import type { EndpointLimitInForce } from './run-state';

/**
 * The sequential seesaw: the same verdict as the seesaw on every gate task (aegis/gate.ts `seesaw`), reached
 * with fewer candidate episodes. Outcomes are per task (an episode's seed depends on run seed, task and
 * attempt only), so which tasks have run so far never changes any task's outcome; the gate can stop as soon
 * as the remaining tasks cannot change the verdict:
 * - a confirmed regression on a task the incumbent solves rejects, whatever the other tasks do;
 * - once every solved task is checked, the gain is (unlocked − suspected regressions) and only the unsolved
 *   tasks can still unlock: it passes when the unlocked ones already reach minGain, and rejects when even
 *   unlocking every unsolved task left could not.
 * The candidate runs the solved tasks first (they catch regressions and are short: a solved task ends
 * early), then the unsolved ones, in chunks of a fixed schedule; nothing depends on timing or completion
 * order. What is not known when it stops is only how many further tasks a passing candidate would unlock,
 * so its reported candidatePassed and unlocked are lower bounds (evaluatedTasks says over how many tasks).
 */

/** The order a sequential gate runs the candidate in: the incumbent's solved gate tasks, then the unsolved. */
export interface SequentialGateOrder {
  solved: string[];
  unsolved: string[];
}

/**
 * Solved tasks in gate order; unsolved tasks with `firstTaskIds` first (the validation tasks: when the
 * candidate ships, its outcomes there are the next round's incumbent outcomes, so running them is not
 * wasted), then the rest, each in gate order.
 */
export function sequentialGateOrder(incumbent: readonly TaskOutcome[], firstTaskIds: readonly string[] = []): SequentialGateOrder {
  const first = new Set(firstTaskIds);
  const unsolved = incumbent.filter((o) => !o.passed).map((o) => o.taskId);
  return {
    solved: incumbent.filter((o) => o.passed).map((o) => o.taskId),
    unsolved: [...unsolved.filter((id) => first.has(id)), ...unsolved.filter((id) => !first.has(id))],
  };
}

/** Tasks in the first chunk; later chunks double after the second (8, 8, 16, 32, …), so a slow gate needs few steps. */
export const SEQUENTIAL_GATE_FIRST_CHUNK = 8;

/**
 * The first chunk of a run's sequential gates. `requested` (the run input's gateChunk) wins. Otherwise 8,
 * except against an endpoint that is neither the simulator nor a paid API, recorded with a limit at setup
 * (a local vLLM or Ollama): there a chunk of 8 tasks leaves most of the endpoint idle while it runs, so
 * the first chunk holds as many tasks as give twice the calls in flight in episodes (defaultRolloutConcurrency
 * keeps more open now; the chunk stays as it was, since a running workflow computes it again on replay). The size comes from the run's input and the limits recorded at
 * setup, never from a limit changed later, so it is fixed for the whole run and replays the same. It
 * changes only what the gate spends before its verdict, never the verdict (sequentialDecision is exact).
 * The simulator (CPU-bound, nothing to fill) and paid APIs (a bigger chunk spends more on a candidate an
 * early regression rejects) keep 8; set gateChunk to trade the other way.
 */
export function sequentialFirstChunk(options: { requested?: number; limits: EndpointLimitInForce[] | null | undefined; model: string; episodesPerTask: number }): number {
  if (options.requested !== undefined) return options.requested;
  const inForce = selfHostedLimit(options.limits, options.model);
  if (!inForce || options.episodesPerTask < 1) return SEQUENTIAL_GATE_FIRST_CHUNK;
  return Math.max(SEQUENTIAL_GATE_FIRST_CHUNK, Math.ceil((2 * inForce.limit.maxInFlight) / options.episodesPerTask));
}

/** The gate tasks cut into the chunks the candidate runs in, in order (solved tasks, then unsolved). */
export function sequentialChunks(order: SequentialGateOrder, firstChunk = SEQUENTIAL_GATE_FIRST_CHUNK): string[][] {
  if (!Number.isInteger(firstChunk) || firstChunk < 1) throw new Error(`sequential gate chunk must be a whole number ≥ 1, got ${firstChunk}`);
  const all = [...order.solved, ...order.unsolved];
  const chunks: string[][] = [];
  for (let at = 0, i = 0; at < all.length; i++) {
    const size = firstChunk * 2 ** Math.max(0, i - 1);
    chunks.push(all.slice(at, at + size));
    at += size;
  }
  return chunks;
}

/** What the candidate has shown so far, counted over the tasks it ran. */
export interface SequentialProgress {
  solvedTotal: number;
  solvedChecked: number;
  /** Solved tasks the candidate failed on its regular attempts (pass@k flips included). */
  suspects: number;
  /** Suspects that also failed the confirmation attempts: regressions. */
  confirmedRegressions: number;
  unsolvedTotal: number;
  unsolvedChecked: number;
  unlocked: number;
}

export type SequentialDecision =
  | { decided: false }
  | { decided: true; passed: false; why: 'regression' | 'gain_out_of_reach' }
  | { decided: true; passed: true; why: 'gain_reached' };

/**
 * Whether the seesaw's verdict is already fixed. The seesaw's gain is candidatePassed − incumbentPassed
 * over the incumbent's tasks = unlocked − suspects (a suspect cleared by confirmation is no regression,
 * but it does not count as solved either), and it passes iff no regression is confirmed and gain ≥ minGain.
 */
export function sequentialDecision(p: SequentialProgress, minGain: number): SequentialDecision {
  if (p.confirmedRegressions > 0) return { decided: true, passed: false, why: 'regression' };
  const needed = minGain + p.suspects;
  // Suspects only grow and at most the unsolved tasks left can still unlock, so this holds before every
  // solved task is checked too (an incumbent that solves every gate task leaves no gain to find).
  if (p.unlocked + (p.unsolvedTotal - p.unsolvedChecked) < needed) return { decided: true, passed: false, why: 'gain_out_of_reach' };
  if (p.solvedChecked < p.solvedTotal) return { decided: false };
  if (p.unlocked >= needed) return { decided: true, passed: true, why: 'gain_reached' };
  return { decided: false };
}

/**
 * Why a sequential seesaw stopped before the last gate task, in numbers: what the tasks that ran showed
 * and why the tasks left could not change the verdict (worded for the meta-agent's ledger).
 */
export function earlyStopExplanation(p: SequentialProgress, minGain: number, evaluated: number, total: number): string {
  const left = total - evaluated;
  const unsolvedLeft = p.unsolvedTotal - p.unsolvedChecked;
  const head = `decided after ${evaluated} of ${total} gate tasks`;
  const decision = sequentialDecision(p, minGain);
  if (!decision.decided) return `${head}: undecided`;
  if (decision.why === 'regression')
    return `${head}: ${p.confirmedRegressions} task(s) the incumbent passes failed the candidate's regular and confirmation attempts, and one confirmed regression rejects it whatever the other ${left} task(s) show`;
  if (decision.why === 'gain_out_of_reach')
    return `${head}: the candidate needed ${minGain + p.suspects} unlock(s) (minGain ${minGain} + ${p.suspects} suspected regression(s)) but had ${p.unlocked}, and only ${unsolvedLeft} task(s) the incumbent fails were left to run, so the gain was out of reach`;
  return `${head}: every task the incumbent passes was checked with no regression, and ${p.unlocked} unlock(s) reached the gain needed (${minGain + p.suspects}); the ${left} task(s) left were ones the incumbent fails, which can only add to the gain`;
}

/** The spend a gate may still make before it stops undecided (the run's evolution budget left); null = no cap. */
export type GateAllowance = RolloutAllowance;

/** Whether a gate has used up its allowance (checked between chunks, so it overshoots by at most one chunk). */
export function allowanceSpent(allowance: GateAllowance | undefined, spent: { tokens: number; costUsd: number | null }): boolean {
  return allowance !== undefined && spendReaches(allowance, spent);
}

/** What a sequential seesaw ran and concluded; `decision` is undecided only when `outOfBudget` stopped it. */
export interface SequentialRun {
  decision: SequentialDecision;
  /** The candidate's outcomes on the tasks it ran, in the order run. */
  candidate: TaskOutcome[];
  /** The incumbent's outcomes on the same tasks, in the same order (what the seesaw compares). */
  incumbent: TaskOutcome[];
  /** Confirmation attempts of the suspected regressions. */
  recheck: TaskOutcome[];
  progress: SequentialProgress;
  outOfBudget: boolean;
}

/**
 * Runs the candidate chunk by chunk (sequentialChunks) until the verdict is fixed: `runCandidate` gives its
 * outcomes on a chunk, `confirm` the confirmation attempts of a chunk's suspected regressions, and
 * `outOfBudget` (asked before each chunk) stops it undecided. Chunks run one after another, so what runs
 * depends on outcomes only, never on timing.
 */
export async function runSequentialSeesaw(options: {
  incumbent: readonly TaskOutcome[];
  firstTaskIds?: readonly string[];
  minGain: number;
  runCandidate: (taskIds: string[]) => Promise<TaskOutcome[]>;
  confirm: (taskIds: string[]) => Promise<TaskOutcome[]>;
  outOfBudget?: () => boolean;
  firstChunk?: number;
}): Promise<SequentialRun> {
  const order = sequentialGateOrder(options.incumbent, options.firstTaskIds);
  const solved = new Set(order.solved);
  const incumbentOf = new Map(options.incumbent.map((o) => [o.taskId, o]));
  const progress: SequentialProgress = { solvedTotal: order.solved.length, solvedChecked: 0, suspects: 0, confirmedRegressions: 0, unsolvedTotal: order.unsolved.length, unsolvedChecked: 0, unlocked: 0 };
  const candidate: TaskOutcome[] = [];
  const recheck: TaskOutcome[] = [];
  const done = (outOfBudget: boolean): SequentialRun => ({ decision: sequentialDecision(progress, options.minGain), candidate, incumbent: candidate.map((o) => incumbentOf.get(o.taskId)!), recheck, progress, outOfBudget });
  for (const chunk of sequentialChunks(order, options.firstChunk)) {
    if (sequentialDecision(progress, options.minGain).decided) break;
    if (options.outOfBudget?.()) return done(true);
    const outcomes = await options.runCandidate(chunk);
    const byId = new Map(outcomes.map((o) => [o.taskId, o]));
    const ran = chunk.map((id) => {
      const o = byId.get(id);
      if (!o) throw new Error(`the candidate's outcomes lack gate task ${id}`);
      return o;
    });
    candidate.push(...ran);
    const suspects = ran.filter((o) => solved.has(o.taskId) && !o.passed).map((o) => o.taskId);
    const confirmed = suspects.length ? await options.confirm(suspects) : [];
    recheck.push(...confirmed);
    progress.solvedChecked += ran.filter((o) => solved.has(o.taskId)).length;
    progress.unsolvedChecked += ran.filter((o) => !solved.has(o.taskId)).length;
    progress.suspects += suspects.length;
    progress.confirmedRegressions += suspects.filter((id) => !confirmed.some((o) => o.taskId === id && o.passed)).length;
    progress.unlocked += ran.filter((o) => !solved.has(o.taskId) && o.passed).length;
  }
  return done(false);
}

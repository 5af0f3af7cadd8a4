import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { seesaw, statisticalSeesaw, statisticalUnseenGain, suspectedRegressions, withUnseenGain } from '../aegis/gate';
import { gateSeeds } from '../aegis/gate-waves';
import { preGateChecks } from '../aegis/pre-gate';
import { allowanceSpent, earlyStopExplanation, GateAllowance, runSequentialSeesaw } from '../aegis/sequential-gate';
import type { TaskOutcome } from '../aegis/rollout';
import { GATE_CHECKS } from '../aegis/types';
import type { Candidate, GateCheckResult, GateResult } from '../aegis/types';
import { getBenchmark } from '../benchmarks/registry';
import { cancelledOrFalse, cancelledUsageOf, heartbeat } from './activity-context';
import { faultPoint } from './boundary';
import type { EndpointLimits } from '../models/endpoint-limits';
import type { CallPriority } from '../models/endpoint-limiter';
import { ProgressReporter, withProgress } from './rollout-progress';
import { outcomesFor } from './rollouts';
import type { ActivityServices } from './services';
import { Spend, totalSpend } from './spend';

/** How the gate compares candidate and incumbent: one paired rollout (seesaw) or paired repeats with a t-test. */
export interface GatingSpec {
  mode: 'seesaw' | 'statistical';
  repeats: number;
  tCritical: number;
}

/**
 * Sequential gating (seesaw mode): run the candidate in chunks and stop once the verdict is fixed (see
 * aegis/sequential-gate.ts; same verdict as the full seesaw). `firstTaskIds` are the unsolved tasks to try
 * first (the validation tasks, whose outcomes a shipped candidate carries into the next round's gate).
 */
export interface SequentialGateSpec {
  firstTaskIds: string[];
  /** Tasks in the candidate's first chunk (sequentialFirstChunk); absent in gates recorded before it: 8. */
  firstChunk?: number;
}

export interface GateInput {
  benchmark: string;
  candidatesRef: string;
  candidateId: string;
  incumbentId: string;
  gateTaskIds: string[];
  k: number;
  seed: string;
  minGain: number;
  gating?: GatingSpec;
  endpointLimits?: EndpointLimits;
  sequential?: SequentialGateSpec;
  /** The evolution budget left: the gate stops undecided (budgetStopped) between chunks once it is spent. */
  allowance?: GateAllowance;
  /**
   * The gate tasks the candidate's author never saw (the validation tasks of the gate set) and how many of
   * them the candidate must unlock to ship (withUnseenGain in aegis/gate.ts). Absent in gates recorded before.
   */
  unseenTaskIds?: string[];
  minUnseenGain?: number;
  /**
   * What the incumbent's early validation rollout cost (aegis/overlap.ts), when the run had it run beside
   * the batch: this gate's spend and allowance count it as if the gate had run those episodes itself, once
   * it compares (a candidate stopped by the static checks leaves it to the next gate).
   */
  prepaid?: Spend;
  /** 'background' for a gate started ahead of its turn (aegis/gate-waves.ts lookahead): its rollouts take only the endpoint slots other work leaves free. */
  priority?: CallPriority;
  /**
   * A gate the run may cancel at foreground priority (one begun during the critique): its rollouts stop at
   * their next model call once it is cancelled, as a background gate's do.
   */
  cancellable?: boolean;
}

/** A gate's verdict and spend; budgetStopped when the allowance ran out before the verdict was fixed (neither ship nor reject). */
export type GateOutcome = GateResult & { spend: Spend; evaluatedTasks?: number; budgetStopped?: boolean; prepaidUsed?: boolean };

/**
 * The gate: whether a candidate may replace the incumbent. Checks run in GATE_CHECKS order: the static ones
 * (manifest, canonical form, reward hacking, code processors), the smoke test, then the comparison on the
 * gate tasks (seesaw or statistical), whose rollouts reuse cached outcomes.
 */
export function createGateActivities(services: ActivityServices) {
  const { store } = services;
  return {
    /** The deterministic gate, in order; the first failing check stops it. */
    async gate(input: GateInput): Promise<GateOutcome> {
      // Alive every second whatever the gate is doing (static checks and smoke tests send no progress): a
      // gate started ahead runs under a short heartbeat timeout, so that its cancellation arrives quickly.
      const keepAlive = setInterval(() => heartbeat(), 1000);
      try {
        return await gateOnce(input);
      } finally {
        clearInterval(keepAlive);
      }
    },
  };

  async function gateOnce(input: GateInput): Promise<GateOutcome> {
    const candidate = (await store.get<Candidate[]>(input.candidatesRef)).find((c) => c.candidateId === input.candidateId);
    if (!candidate) throw ApplicationFailure.nonRetryable(`candidate ${input.candidateId} is not in ${input.candidatesRef}`, 'InvalidInput');
    const checks: GateCheckResult[] = [];
    const spent: Spend[] = [];
    const result = (extra: Partial<GateOutcome> = {}): GateOutcome => {
      const failed = checks.find((c) => !c.passed);
      return { candidateId: candidate.candidateId, passed: !failed && checks.length === GATE_CHECKS.length, checks, reason: failed ? `${failed.check}: ${failed.detail}` : null, incumbentPassed: 0, candidatePassed: 0, gateTasks: input.gateTaskIds.length, regressions: [], unlocked: [], ...extra, spend: totalSpend(spent) };
    };
    // The rollout-free checks, exactly as the Evolver's pre-gate ran them (same incumbent, benchmark and seed).
    const pre = await preGateChecks(await store.getHarness(input.incumbentId), candidate, await store.getHarness(candidate.harnessId), getBenchmark(input.benchmark), { seed: input.seed });
    checks.push(...pre.checks);
    if (!pre.passed) return result();
    if (input.prepaid) spent.push(input.prepaid);
    heartbeat({ stage: 'seesaw' });
    const outcome = await (input.sequential && input.gating?.mode !== 'statistical'
      ? withProgress((progress) => compareSequentially(input, input.sequential!, candidate.harnessId, spent, progress, result))
      : withProgress((progress) => compare(input, candidate.harnessId, spent, progress, result))
    ).catch((e: unknown) => {
      // Cancelled (a gate started ahead of a round decided before it): reported as a cancellation whose
      // details are what the gate had spent (its finished rollouts, and what its cancelled ones had used),
      // so the run counts it as discarded work.
      if (!cancelledOrFalse()) throw e;
      throw new CancelledFailure(`gate of ${input.candidateId} cancelled`, [totalSpend([...spent, ...cancelledUsageOf()])]);
    });
    // Durability tests hold here: the rollouts' outcomes are in the cache, the verdict not yet reported.
    await faultPoint(store, 'gate');
    return input.prepaid ? { ...outcome, prepaidUsed: true } : outcome;
  }

  /**
   * The comparison on the gate tasks. Incumbent and candidate roll out concurrently (their episodes share
   * the endpoint limiter, so the endpoint stays busy); each keeps its own spend list, summed in a fixed
   * order, so the verdict and the reported spend never depend on which finishes first.
   */
  async function compare(
    input: GateInput,
    candidateHarnessId: string,
    spent: Spend[],
    progress: ProgressReporter,
    result: (extra?: Partial<GateOutcome>) => GateOutcome,
  ): Promise<GateOutcome> {
    const { checks } = result();
    const both = async <T>(run: (harnessId: string, spend: Spend[]) => Promise<T>): Promise<[T, T]> => {
      const incumbentSpend: Spend[] = [];
      const candidateSpend: Spend[] = [];
      // Both settle before either's failure leaves: no rollout keeps calling the model after the activity ended.
      const [incumbentRun, candidateRun] = await Promise.allSettled([run(input.incumbentId, incumbentSpend), run(candidateHarnessId, candidateSpend)]);
      spent.push(...incumbentSpend, ...candidateSpend);
      if (incumbentRun.status === 'rejected') throw incumbentRun.reason;
      if (candidateRun.status === 'rejected') throw candidateRun.reason;
      return [incumbentRun.value, candidateRun.value];
    };
    const scope = { benchmark: input.benchmark, taskIds: input.gateTaskIds, k: input.k, endpointLimits: input.endpointLimits, ...(input.priority ? { priority: input.priority } : {}), ...(input.cancellable ? { cancellable: true } : {}) };
    if (input.gating?.mode === 'statistical') {
      // Paired repeats: the same R seeds for both harnesses; the first repeat reuses the round's seed.
      const seeds = gateSeeds(input.seed, input.gating);
      const runs = async (harnessId: string, spend: Spend[]) => {
        const out: TaskOutcome[][] = [];
        for (const seed of seeds) out.push(await outcomesFor(services, { ...scope, seed, harnessId }, spend, progress));
        return out;
      };
      const [incumbentRuns, candidateRuns] = await both(runs);
      const compared = statisticalSeesaw(incumbentRuns, candidateRuns, { minGain: input.minGain, tCritical: input.gating.tCritical });
      const s = withUnseenGain(compared, input.unseenTaskIds, input.minUnseenGain, statisticalUnseenGain(incumbentRuns, candidateRuns, input.unseenTaskIds));
      checks.push({ check: s.check, passed: s.passed, detail: s.detail });
      return result({ incumbentPassed: s.incumbentPassed, candidatePassed: s.candidatePassed, regressions: s.regressions, unlocked: s.unlocked });
    }
    const rollout = { ...scope, seed: input.seed };
    const [before, after] = await both((harnessId, spend) => outcomesFor(services, { ...rollout, harnessId }, spend, progress));
    const suspects = suspectedRegressions(before, after);
    // Confirmation attempts (fresh seeds, 2k of them) for suspected regressions only.
    const recheck = suspects.length
      ? await outcomesFor(services, { ...rollout, taskIds: suspects, k: 2 * input.k, seed: `${input.seed}|confirm`, harnessId: candidateHarnessId }, spent, progress)
      : [];
    const s = withUnseenGain(seesaw(before, after, input.minGain, recheck), input.unseenTaskIds, input.minUnseenGain);
    checks.push({ check: s.check, passed: s.passed, detail: s.detail });
    return result({ incumbentPassed: s.incumbentPassed, candidatePassed: s.candidatePassed, regressions: s.regressions, unlocked: s.unlocked });
  }

  /**
   * The seesaw, sequentially: the incumbent's outcomes on every gate task first (mostly cached: the round's
   * rollout ran the batch, and an incumbent that shipped ran the validation tasks in its own gate), then the
   * candidate in chunks (aegis/sequential-gate.ts), each chunk's suspected regressions confirmed before the
   * next. Stops once the verdict is fixed, or undecided (budgetStopped) once the allowance is spent. The
   * verdict and its detail come from `seesaw` on the tasks that ran, which equals the full seesaw's verdict.
   */
  async function compareSequentially(
    input: GateInput,
    spec: SequentialGateSpec,
    candidateHarnessId: string,
    spent: Spend[],
    progress: ProgressReporter,
    result: (extra?: Partial<GateOutcome>) => GateOutcome,
  ): Promise<GateOutcome> {
    const { checks } = result();
    const scope = { benchmark: input.benchmark, k: input.k, seed: input.seed, endpointLimits: input.endpointLimits, ...(input.priority ? { priority: input.priority } : {}), ...(input.cancellable ? { cancellable: true } : {}) };
    const before = await outcomesFor(services, { ...scope, taskIds: input.gateTaskIds, harnessId: input.incumbentId }, spent, progress);
    const solved = new Set(before.filter((o) => o.passed).map((o) => o.taskId));
    // Confirmation attempts (fresh seeds, 2k of them) for suspected regressions only, as in compare. Without
    // an allowance each starts the moment its task's regular attempts fail, while the rest of the chunk runs
    // (same episodes, same outcomes: a task's outcome depends on its seed, not on what ran beside it); each
    // keeps its own spend, added in the order the seesaw asks for them.
    const confirming = new Map<string, { spend: Spend[]; outcomes: Promise<TaskOutcome[]> }>();
    const confirmTask = (taskId: string) => {
      let c = confirming.get(taskId);
      if (!c) {
        const spend: Spend[] = [];
        const outcomes = outcomesFor(services, { ...scope, taskIds: [taskId], k: 2 * input.k, seed: `${input.seed}|confirm`, harnessId: candidateHarnessId }, spend, progress);
        outcomes.catch(() => undefined);
        confirming.set(taskId, (c = { spend, outcomes }));
      }
      return c;
    };
    const early = input.allowance ? undefined : (o: TaskOutcome) => void (solved.has(o.taskId) && !o.passed && confirmTask(o.taskId));
    const run = await runSequentialSeesaw({
      incumbent: before,
      firstTaskIds: spec.firstTaskIds,
      minGain: input.minGain,
      runCandidate: async (taskIds) => {
        try {
          return await outcomesFor(services, { ...scope, taskIds, harnessId: candidateHarnessId }, spent, progress, early);
        } catch (e) {
          // Confirmations already running finish before the failure leaves (their calls are paid for).
          await Promise.allSettled([...confirming.values()].map((c) => c.outcomes));
          throw e;
        }
      },
      confirm: async (taskIds) => {
        if (!early) return outcomesFor(services, { ...scope, taskIds, k: 2 * input.k, seed: `${input.seed}|confirm`, harnessId: candidateHarnessId }, spent, progress);
        const runs = taskIds.map(confirmTask);
        const settled = await Promise.allSettled(runs.map((c) => c.outcomes));
        for (const c of runs) spent.push(...c.spend);
        return settled.flatMap((r) => {
          if (r.status === 'rejected') throw r.reason;
          return r.value;
        });
      },
      outOfBudget: () => allowanceSpent(input.allowance, totalSpend(spent)),
      firstChunk: spec.firstChunk,
    });
    const { progress: p, decision } = run;
    const incumbentPassed = p.solvedTotal;
    const candidatePassed = incumbentPassed - p.suspects + p.unlocked;
    const evaluatedTasks = run.candidate.length;
    if (run.outOfBudget) {
      checks.push({ check: 'seesaw', passed: false, detail: `stopped undecided after ${evaluatedTasks} of ${before.length} gate tasks: the evolution budget is spent` });
      return result({ incumbentPassed, candidatePassed, evaluatedTasks, budgetStopped: true });
    }
    const s = seesaw(run.incumbent, run.candidate, input.minGain, run.recheck);
    // The early stop is exact: the seesaw over the tasks that ran agrees with it (a mismatch is a bug, not a verdict).
    if (!decision.decided || decision.passed !== s.passed) throw new Error(`sequential gate disagrees with the seesaw on ${evaluatedTasks} of ${before.length} tasks: ${JSON.stringify(decision)} vs ${s.passed}`);
    const stopped = evaluatedTasks < before.length ? ` (${earlyStopExplanation(p, input.minGain, evaluatedTasks, before.length)})` : '';
    // The unseen tasks (validation) are the candidate's first chunk, so an early pass has run them already.
    const u = withUnseenGain(s, input.unseenTaskIds, input.minUnseenGain);
    checks.push({ check: u.check, passed: u.passed, detail: `${u.detail}${stopped}` });
    return result({ incumbentPassed, candidatePassed, regressions: u.regressions, unlocked: u.unlocked, evaluatedTasks });
  }
}

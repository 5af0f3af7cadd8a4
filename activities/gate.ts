import { ApplicationFailure } from '@temporalio/activity';
import { seesaw, statisticalSeesaw, suspectedRegressions } from '../aegis/gate';
import { gateSeeds } from '../aegis/gate-waves';
import { preGateChecks } from '../aegis/pre-gate';
import type { TaskOutcome } from '../aegis/rollout';
import { GATE_CHECKS } from '../aegis/types';
import type { Candidate, GateCheckResult, GateResult } from '../aegis/types';
import { getBenchmark } from '../benchmarks/registry';
import { heartbeat } from './activity-context';
import type { EndpointLimits } from '../models/endpoint-limits';
import { outcomesFor, ProgressReporter, withProgress } from './rollouts';
import type { ActivityServices } from './services';
import { Spend, totalSpend } from './spend';

/** How the gate compares candidate and incumbent: one paired rollout (seesaw) or paired repeats with a t-test. */
export interface GatingSpec {
  mode: 'seesaw' | 'statistical';
  repeats: number;
  tCritical: number;
}

/**
 * The gate: whether a candidate may replace the incumbent. Checks run in GATE_CHECKS order: the static ones
 * (manifest, canonical form, reward hacking, code processors), the smoke test, then the comparison on the
 * gate tasks (seesaw or statistical), whose rollouts reuse cached outcomes.
 */
export function createGateActivities(services: ActivityServices) {
  const { store } = services;
  return {
    /** The deterministic gate, in order; the first failing check stops it. */
    async gate(input: { benchmark: string; candidatesRef: string; candidateId: string; incumbentId: string; gateTaskIds: string[]; k: number; seed: string; minGain: number; gating?: GatingSpec; endpointLimits?: EndpointLimits }): Promise<GateResult & { spend: Spend }> {
      const candidate = (await store.get<Candidate[]>(input.candidatesRef)).find((c) => c.candidateId === input.candidateId);
      if (!candidate) throw ApplicationFailure.nonRetryable(`candidate ${input.candidateId} is not in ${input.candidatesRef}`, 'InvalidInput');
      const checks: GateCheckResult[] = [];
      const spent: Spend[] = [];
      const result = (extra: Partial<GateResult> = {}): GateResult & { spend: Spend } => {
        const failed = checks.find((c) => !c.passed);
        return { candidateId: candidate.candidateId, passed: !failed && checks.length === GATE_CHECKS.length, checks, reason: failed ? `${failed.check}: ${failed.detail}` : null, incumbentPassed: 0, candidatePassed: 0, gateTasks: input.gateTaskIds.length, regressions: [], unlocked: [], ...extra, spend: totalSpend(spent) };
      };
      // The rollout-free checks, exactly as the Evolver's pre-gate ran them (same incumbent, benchmark and seed).
      const pre = await preGateChecks(await store.getHarness(input.incumbentId), candidate, await store.getHarness(candidate.harnessId), getBenchmark(input.benchmark), { seed: input.seed });
      checks.push(...pre.checks);
      if (!pre.passed) return result();
      heartbeat({ stage: 'seesaw' });
      return withProgress((progress) => compare(input, candidate.harnessId, spent, progress, result));
    },
  };

  /**
   * The comparison on the gate tasks. Incumbent and candidate roll out concurrently (their episodes share
   * the endpoint limiter, so the endpoint stays busy); each keeps its own spend list, summed in a fixed
   * order, so the verdict and the reported spend never depend on which finishes first.
   */
  async function compare(
    input: { benchmark: string; incumbentId: string; gateTaskIds: string[]; k: number; seed: string; minGain: number; gating?: GatingSpec; endpointLimits?: EndpointLimits },
    candidateHarnessId: string,
    spent: Spend[],
    progress: ProgressReporter,
    result: (extra?: Partial<GateResult>) => GateResult & { spend: Spend },
  ): Promise<GateResult & { spend: Spend }> {
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
    const scope = { benchmark: input.benchmark, taskIds: input.gateTaskIds, k: input.k, endpointLimits: input.endpointLimits };
    if (input.gating?.mode === 'statistical') {
      // Paired repeats: the same R seeds for both harnesses; the first repeat reuses the round's seed.
      const seeds = gateSeeds(input.seed, input.gating);
      const runs = async (harnessId: string, spend: Spend[]) => {
        const out: TaskOutcome[][] = [];
        for (const seed of seeds) out.push(await outcomesFor(services, { ...scope, seed, harnessId }, spend, progress));
        return out;
      };
      const [incumbentRuns, candidateRuns] = await both(runs);
      const s = statisticalSeesaw(incumbentRuns, candidateRuns, { minGain: input.minGain, tCritical: input.gating.tCritical });
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
    const s = seesaw(before, after, input.minGain, recheck);
    checks.push({ check: s.check, passed: s.passed, detail: s.detail });
    return result({ incumbentPassed: s.incumbentPassed, candidatePassed: s.candidatePassed, regressions: s.regressions, unlocked: s.unlocked });
  }
}

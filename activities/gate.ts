import { ApplicationFailure } from '@temporalio/activity';
import { seesaw, statisticalSeesaw, suspectedRegressions } from '../aegis/gate';
import { preGateChecks } from '../aegis/pre-gate';
import type { TaskOutcome } from '../aegis/rollout';
import { GATE_CHECKS } from '../aegis/types';
import type { Candidate, GateCheckResult, GateResult } from '../aegis/types';
import { getBenchmark } from '../benchmarks/registry';
import { heartbeat } from './activity-context';
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
 * The gate: whether a candidate may replace the incumbent. Checks run in GATE_CHECKS order: the static ones
 * (manifest, canonical form, reward hacking, code processors), the smoke test, then the comparison on the
 * gate tasks (seesaw or statistical), whose rollouts reuse cached outcomes.
 */
export function createGateActivities(services: ActivityServices) {
  const { store } = services;
  return {
    /** The deterministic gate, in order; the first failing check stops it. */
    async gate(input: { benchmark: string; candidatesRef: string; candidateId: string; incumbentId: string; gateTaskIds: string[]; k: number; seed: string; minGain: number; gating?: GatingSpec }): Promise<GateResult & { spend: Spend }> {
      const candidate = store.get<Candidate[]>(input.candidatesRef).find((c) => c.candidateId === input.candidateId);
      if (!candidate) throw ApplicationFailure.nonRetryable(`candidate ${input.candidateId} is not in ${input.candidatesRef}`, 'InvalidInput');
      const checks: GateCheckResult[] = [];
      const spent: Spend[] = [];
      const result = (extra: Partial<GateResult> = {}): GateResult & { spend: Spend } => {
        const failed = checks.find((c) => !c.passed);
        return { candidateId: candidate.candidateId, passed: !failed && checks.length === GATE_CHECKS.length, checks, reason: failed ? `${failed.check}: ${failed.detail}` : null, incumbentPassed: 0, candidatePassed: 0, gateTasks: input.gateTaskIds.length, regressions: [], unlocked: [], ...extra, spend: totalSpend(spent) };
      };
      // The rollout-free checks, exactly as the Evolver's pre-gate ran them (same incumbent, benchmark and seed).
      const pre = await preGateChecks(store.getHarness(input.incumbentId), candidate, store.getHarness(candidate.harnessId), getBenchmark(input.benchmark), { seed: input.seed });
      checks.push(...pre.checks);
      if (!pre.passed) return result();
      heartbeat({ stage: 'seesaw' });
      if (input.gating?.mode === 'statistical') {
        // Paired repeats: the same R seeds for both harnesses; the first repeat reuses the round's seed.
        const seeds = Array.from({ length: input.gating.repeats }, (_, r) => (r === 0 ? input.seed : `${input.seed}|repeat-${r}`));
        const runs = async (harnessId: string) => {
          const out: TaskOutcome[][] = [];
          for (const seed of seeds) out.push(await outcomesFor(services, { benchmark: input.benchmark, taskIds: input.gateTaskIds, k: input.k, seed, harnessId }, spent));
          return out;
        };
        const s = statisticalSeesaw(await runs(input.incumbentId), await runs(candidate.harnessId), { minGain: input.minGain, tCritical: input.gating.tCritical });
        checks.push({ check: s.check, passed: s.passed, detail: s.detail });
        return result({ incumbentPassed: s.incumbentPassed, candidatePassed: s.candidatePassed, regressions: s.regressions, unlocked: s.unlocked });
      }
      const rollout = { benchmark: input.benchmark, taskIds: input.gateTaskIds, k: input.k, seed: input.seed };
      const before = await outcomesFor(services, { ...rollout, harnessId: input.incumbentId }, spent);
      const after = await outcomesFor(services, { ...rollout, harnessId: candidate.harnessId }, spent);
      const suspects = suspectedRegressions(before, after);
      // Confirmation attempts (fresh seeds, 2k of them) for suspected regressions only.
      const recheck = suspects.length
        ? await outcomesFor(services, { ...rollout, taskIds: suspects, k: 2 * input.k, seed: `${input.seed}|confirm`, harnessId: candidate.harnessId }, spent)
        : [];
      const s = seesaw(before, after, input.minGain, recheck);
      checks.push({ check: s.check, passed: s.passed, detail: s.detail });
      return result({ incumbentPassed: s.incumbentPassed, candidatePassed: s.candidatePassed, regressions: s.regressions, unlocked: s.unlocked });
    },
  };
}

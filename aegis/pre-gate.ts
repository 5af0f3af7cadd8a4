import type { Benchmark } from '../benchmarks/types';
import { verdictOrRejection } from '../harness/check-boundary';
import { HarnessConfig, harnessId } from '../harness/config';
import { checkCanonicalForm, checkCodeProcessors, checkManifest, checkRewardHacking } from './gate';
import type { PreGateChecker, PreGateVerdict } from './meta-agent';
import { runOneEpisode } from './rollout';
import type { Candidate, GateCheck, GateCheckResult } from './types';

/** The gate's checks that need no rollouts of the task model: all of them but the seesaw. */
export const PRE_GATE_CHECKS = ['manifest_complete', 'canonical_form', 'reward_hacking', 'code_sandbox', 'smoke_test'] as const satisfies readonly GateCheck[];

export type { PreGateChecker, PreGateVerdict };

/**
 * The deterministic part of the gate, as one function: manifest, canonical form, reward hacking, code
 * processors (type-check and smoke tests in the sandbox), and a smoke episode of the candidate harness on
 * the benchmark's synthetic smoke task with the simulator (no paid call). Same inputs, same verdict: the
 * Evolver may run it on its candidates before the Critic, and the gate runs it again before the seesaw.
 */
export async function preGateChecks(incumbent: HarnessConfig, candidate: Candidate, candidateConfig: HarnessConfig, benchmark: Benchmark, options: { seed: string }): Promise<PreGateVerdict> {
  const checks: GateCheckResult[] = [];
  const done = (): PreGateVerdict => {
    const failed = checks.find((c) => !c.passed);
    return { passed: !failed, checks, reason: failed ? `${failed.check}: ${failed.detail}` : null };
  };
  const steps: Array<[GateCheckResult['check'], () => GateCheckResult | Promise<GateCheckResult>]> = [
    ['manifest_complete', () => checkManifest(candidate)],
    ['canonical_form', () => checkCanonicalForm(incumbent, candidate, candidateConfig)],
    ['reward_hacking', () => checkRewardHacking(benchmark, incumbent, candidateConfig)],
    ['code_sandbox', () => checkCodeProcessors(incumbent, candidateConfig)],
    ['smoke_test', () => smokeEpisode(candidate.harnessId, candidateConfig, benchmark, options.seed)],
  ];
  for (const [check, step] of steps) {
    // Whatever a check throws (the candidate's doing or ours) rejects the candidate: the gate and the
    // Evolver get a verdict, never a failed activity (harness/check-boundary.ts).
    checks.push(await verdictOrRejection(step, (detail): GateCheckResult => ({ check, passed: false, detail })));
    if (!checks[checks.length - 1].passed) return done();
  }
  return done();
}

/** The candidate harness runs the benchmark's smoke task end to end with the simulator: no processor may crash. */
async function smokeEpisode(id: string, config: HarnessConfig, benchmark: Benchmark, seed: string): Promise<GateCheckResult> {
  const smoke = await runOneEpisode({ benchmark, config: { ...config, model: { main: { model: 'sim:large' } } }, harnessId: id, seed: `${seed}|smoke` }, benchmark.smokeTaskId(), 0);
  const harnessError = smoke.records.find((r) => r.kind === 'error' && r.processorId);
  return smoke.endReason === 'harness_error'
    ? { check: 'smoke_test', passed: false, detail: harnessError?.kind === 'error' ? harnessError.message : 'harness error' }
    : { check: 'smoke_test', passed: true, detail: `ran ${smoke.steps} step(s), ended ${smoke.endReason}` };
}

/** The checker the evolve activity passes to the meta-agent: bound to the incumbent, benchmark and round seed. */
export function makePreGateChecker(incumbent: HarnessConfig, benchmark: Benchmark, options: { seed: string }): PreGateChecker {
  return ({ config, ...draft }) => preGateChecks(incumbent, { ...draft, harnessId: harnessId(config) }, config, benchmark, options);
}

import { applyEdits } from '../harness/builder';
import { canonicalJson, sha256Hex } from '../harness/canonical';
import { HarnessConfig, harnessId, parseHarnessConfig, ProcessorSpec } from '../harness/config';
import { capProblems } from '../harness/sandbox/input-bounds';
import type { Benchmark } from '../benchmarks/types';
import { verdictOrRejection } from '../harness/check-boundary';
import { verifyCodeProcessor } from '../harness/processors/code';
import { HOOKS, HookName } from '../harness/types';
import { addedTexts, findLeaks } from './reward-hacking';
import type { TaskOutcome } from './rollout';
import { Candidate, GateCheckResult, ManifestSchema } from './types';

/** Gate check 1: the manifest is complete and names this candidate. */
export function checkManifest(candidate: Candidate): GateCheckResult {
  const parsed = ManifestSchema.safeParse(candidate.manifest);
  if (!parsed.success)
    return { check: 'manifest_complete', passed: false, detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  if (parsed.data.candidateId !== candidate.candidateId)
    return { check: 'manifest_complete', passed: false, detail: `manifest names ${parsed.data.candidateId}, not ${candidate.candidateId}` };
  return { check: 'manifest_complete', passed: true, detail: `${parsed.data.changes.length} change(s), ${parsed.data.capabilityEvidence.length} evidence item(s)` };
}

/**
 * Gate check 2: replaying the manifest's edits on the incumbent yields exactly the candidate's canonical
 * config (so what ships is what the manifest says), the JSON round trip is stable, and it is a change.
 */
export function checkCanonicalForm(incumbent: HarnessConfig, candidate: Candidate, candidateConfig: HarnessConfig): GateCheckResult {
  const fail = (detail: string): GateCheckResult => ({ check: 'canonical_form', passed: false, detail });
  const replayed = applyEdits(incumbent, candidate.manifest.changes);
  if (!replayed.ok) return fail(`manifest changes do not apply: ${replayed.error.rule}: ${replayed.error.message}`);
  let roundTrip: HarnessConfig;
  try {
    roundTrip = parseHarnessConfig(JSON.parse(JSON.stringify(candidateConfig)));
  } catch (e) {
    return fail((e as Error).message);
  }
  const id = harnessId(roundTrip);
  if (id !== candidate.harnessId) return fail(`candidate hashes to ${id}, recorded as ${candidate.harnessId}`);
  if (canonicalJson(replayed.config) !== canonicalJson(roundTrip)) return fail('the candidate config differs from the manifest changes applied to the incumbent');
  if (id === harnessId(incumbent)) return fail('the candidate equals the incumbent');
  return { check: 'canonical_form', passed: true, detail: id };
}

/** Tasks the incumbent solves and the candidate does not, on the gate's pass@k attempts. */
export function suspectedRegressions(incumbent: TaskOutcome[], candidate: TaskOutcome[]): string[] {
  const cand = new Map(candidate.map((o) => [o.taskId, o]));
  return incumbent.filter((o) => o.passed && !cand.get(o.taskId)?.passed).map((o) => o.taskId);
}

/**
 * Gate check 4, the seesaw: no task the incumbent solves may regress, and the candidate must solve at
 * least `minGain` more tasks of the gate set. A suspected regression is confirmed only if the candidate
 * also fails the extra confirmation attempts in `recheck` (pass@k flips from sampling noise are not
 * regressions); gain is counted on the regular attempts only.
 */
export function seesaw(
  incumbent: TaskOutcome[],
  candidate: TaskOutcome[],
  minGain: number,
  recheck: TaskOutcome[] = [],
): GateCheckResult & { regressions: string[]; unlocked: string[]; incumbentPassed: number; candidatePassed: number } {
  const cand = new Map(candidate.map((o) => [o.taskId, o]));
  const cleared = new Set(recheck.filter((o) => o.passed).map((o) => o.taskId));
  const regressions = suspectedRegressions(incumbent, candidate).filter((id) => !cleared.has(id));
  const unlocked = incumbent.filter((o) => !o.passed && cand.get(o.taskId)?.passed).map((o) => o.taskId);
  const incumbentPassed = incumbent.filter((o) => o.passed).length;
  const candidatePassed = incumbent.filter((o) => cand.get(o.taskId)?.passed).length;
  const base = { regressions, unlocked, incumbentPassed, candidatePassed, check: 'seesaw' as const };
  if (regressions.length) return { ...base, passed: false, detail: `regresses ${regressions.length} solved task(s): ${regressions.slice(0, 5).join(', ')}` };
  if (candidatePassed - incumbentPassed < minGain)
    return { ...base, passed: false, detail: `no gain: ${candidatePassed}/${incumbent.length} vs ${incumbentPassed}/${incumbent.length} (needs +${minGain})` };
  return { ...base, passed: true, detail: `${incumbentPassed} → ${candidatePassed} of ${incumbent.length}; unlocks ${unlocked.length}, no regression` };
}

/**
 * The gate's rule on unseen tasks (issue 28): a candidate's gain must show on tasks its author never saw.
 * The Evolver builds candidates from the round's batch (train) traces; the gate set is that batch plus the
 * validation tasks, which the author is not shown. A candidate that passed the comparison (no regression on
 * any gate task, validation included, and at least minGain more solved) ships only if its gain on the unseen
 * tasks is at least `minUnseenGain`: in the seesaw, the unseen tasks it unlocks; in statistical gating, its
 * mean gain over the paired repeats on the unseen tasks (`measured`, see statisticalUnseenGain). A gain on the
 * tasks it was built from alone (a per-task lookup table memorising their answers does exactly that) is no
 * evidence that it generalises. `unseenTaskIds` undefined or minUnseenGain 0: the verdict unchanged (gates
 * recorded before the rule).
 */
export function withUnseenGain<T extends { passed: boolean; detail: string; unlocked: string[] }>(
  s: T,
  unseenTaskIds: readonly string[] | undefined,
  minUnseenGain: number | undefined,
  measured?: number,
): T & { unseenGain?: number } {
  if (!unseenTaskIds || !minUnseenGain || minUnseenGain <= 0) return s;
  const unseen = new Set(unseenTaskIds);
  const unseenGain = measured ?? s.unlocked.filter((id) => unseen.has(id)).length;
  const what = measured === undefined ? `${unseenGain} of the unlocked on` : `a mean gain of ${unseenGain.toFixed(2)} on the`;
  if (!s.passed) return { ...s, unseenGain };
  if (unseenGain >= minUnseenGain) return { ...s, unseenGain, detail: `${s.detail}; ${what} ${unseen.size} validation task(s) its author never saw` };
  return {
    ...s,
    unseenGain,
    passed: false,
    detail: `no gain on unseen tasks: ${what} ${unseen.size} validation task(s) its author never saw (needs ≥ ${minUnseenGain}); a gain only on the tasks it was built from does not show that it generalises (the comparison alone: ${s.detail})`,
  };
}

/** Statistical gating's gain on the unseen tasks: the mean over the paired repeats of (candidate − incumbent) solved among them. */
export function statisticalUnseenGain(incumbentRuns: TaskOutcome[][], candidateRuns: TaskOutcome[][], unseenTaskIds: readonly string[] | undefined): number | undefined {
  if (!unseenTaskIds || !incumbentRuns.length) return undefined;
  const unseen = new Set(unseenTaskIds);
  const solved = (run: TaskOutcome[]) => run.filter((o) => o.passed && unseen.has(o.taskId)).length;
  return incumbentRuns.reduce((sum, run, r) => sum + solved(candidateRuns[r]) - solved(run), 0) / incumbentRuns.length;
}

/** Gate check 3: nothing the candidate adds carries task ids, gold solutions, task data or verifier access. */
export function checkRewardHacking(benchmark: Benchmark, incumbent: HarnessConfig, candidateConfig: HarnessConfig): GateCheckResult {
  const texts = addedTexts(incumbent, candidateConfig);
  const leaks = findLeaks(benchmark, texts);
  if (leaks.length) return { check: 'reward_hacking', passed: false, detail: leaks.slice(0, 3).map((l) => `${l.rule} at ${l.where}: ${l.detail}`).join('; ') };
  return { check: 'reward_hacking', passed: true, detail: `${texts.length} added text(s) clean` };
}

/** Gate check 4: every new or changed code processor type-checks and passes its smoke tests in the sandbox. */
export async function checkCodeProcessors(incumbent: HarnessConfig, candidateConfig: HarnessConfig): Promise<GateCheckResult> {
  const before = new Map(HOOKS.flatMap((h) => incumbent.hooks[h].map((p) => [p.id, JSON.stringify(p)] as const)));
  const details: string[] = [];
  for (const hook of HOOKS)
    for (const p of candidateConfig.hooks[hook]) {
      if (p.type !== 'code' || before.get(p.id) === JSON.stringify(p)) continue;
      const verdict = await verifyCodeProcessor(hook, p.params);
      if (!verdict.ok) return { check: 'code_sandbox', passed: false, detail: `${p.id}: ${verdict.stage}: ${verdict.reason}` };
      details.push(`${p.id}: ${verdict.detail}`);
    }
  return { check: 'code_sandbox', passed: true, detail: details.length ? details.join('; ') : 'no new code' };
}

export interface CodeProcessorProblem {
  hook: string;
  processorId: string;
  stage: 'params' | 'compile' | 'smoke_test' | 'reward_hacking';
  reason: string;
}
export type CodeProcessorsVerdict = { passed: true; detail: string } | { passed: false; detail: string; problems: CodeProcessorProblem[] };

/** Verdicts of verifyCodeProcessors per processor (hook, params and benchmark hashed): each source is checked once per process. */
const processorVerdicts = new Map<string, Promise<CodeProcessorProblem | null>>();
const MAX_PROCESSOR_VERDICTS = 1000;

function verifyOneCodeProcessor(benchmark: Benchmark, hook: HookName, spec: ProcessorSpec): Promise<CodeProcessorProblem | null> {
  const key = sha256Hex(canonicalJson({ benchmark: benchmark.name, hook, params: spec.params }));
  let verdict = processorVerdicts.get(key);
  if (!verdict) {
    verdict = verdictOrRejection(async (): Promise<CodeProcessorProblem | null> => {
      const checked = await verifyCodeProcessor(hook, spec.params);
      if (!checked.ok) return { hook, processorId: spec.id, stage: checked.stage, reason: checked.reason };
      // The gate's reward-hacking checks on this processor's texts, as if it were newly added.
      const none = Object.fromEntries(HOOKS.map((h) => [h, []])) as unknown as HarnessConfig['hooks'];
      const base = { schemaVersion: 1 as const, name: 'verify', model: { main: { model: 'sim:small' } }, slots: {} as HarnessConfig['slots'] };
      const leaks = findLeaks(benchmark, addedTexts({ ...base, hooks: none }, { ...base, hooks: { ...none, [hook]: [spec] } }));
      if (leaks.length) return { hook, processorId: spec.id, stage: 'reward_hacking', reason: leaks.slice(0, 3).map((l) => `${l.rule} at ${l.where}: ${l.detail}`).join('; ') };
      return null;
    }, (reason): CodeProcessorProblem => ({ hook, processorId: spec.id, stage: 'compile', reason }));
    if (processorVerdicts.size >= MAX_PROCESSOR_VERDICTS) processorVerdicts.clear();
    processorVerdicts.set(key, verdict);
  }
  return verdict.then((problem) => problem && { ...problem, processorId: spec.id });
}

/**
 * Every code processor of `config` passes what the gate asks of evolved code (params, an isolated and
 * bounded type-check, its smoke tests in the sandbox, the reward-hacking checks), wherever the config came
 * from: a seed harness in workflow input, a --harness file, a stored harness. Call it before anything
 * runs the config's code; a processor's verdict is computed once per process (by hook, params and
 * benchmark), so calling it on every load costs a hash after the first.
 */
export async function verifyCodeProcessors(config: HarnessConfig, benchmark: Benchmark): Promise<CodeProcessorsVerdict> {
  const problems: CodeProcessorProblem[] = [];
  let count = 0;
  for (const hook of HOOKS)
    for (const spec of config.hooks[hook]) {
      if (spec.type !== 'code') continue;
      count++;
      const problem = await verifyOneCodeProcessor(benchmark, hook, spec);
      if (problem) problems.push(problem);
    }
  if (problems.length)
    return { passed: false, problems, detail: capProblems(problems.map((p) => `hooks.${p.hook}.${p.processorId}: ${p.stage}: ${p.reason}`)).join('; ') };
  return { passed: true, detail: count ? `${count} code processor(s) verified` : 'no code processors' };
}

export interface StatisticalOptions {
  minGain: number;
  /** One-sided threshold on the paired statistic mean(gain) / standard error. */
  tCritical: number;
}

/**
 * The statistical seesaw: incumbent and candidate run R repeats of the gate set with the same R seeds
 * (paired). Per repeat r, gain g_r = candidate solved − incumbent solved. It ships only when the mean gain
 * is at least minGain AND beats the run-to-run noise: mean(g) / (sd(g)/√R) ≥ tCritical, with sd(g) floored
 * at 0.5 so R identical gains cannot pass on zero variance alone. A task counts as regressed when the
 * incumbent solves it in a majority of repeats and the candidate in a minority.
 */
export function statisticalSeesaw(incumbentRuns: TaskOutcome[][], candidateRuns: TaskOutcome[][], options: StatisticalOptions) {
  const R = incumbentRuns.length;
  const solved = (runs: TaskOutcome[]) => runs.filter((o) => o.passed).length;
  const gains = incumbentRuns.map((inc, r) => solved(candidateRuns[r]) - solved(inc));
  const mean = gains.reduce((a, b) => a + b, 0) / R;
  const sd = Math.max(0.5, Math.sqrt(gains.reduce((a, g) => a + (g - mean) ** 2, 0) / Math.max(1, R - 1)));
  const t = mean / (sd / Math.sqrt(R));
  const incCounts = incumbentRuns.map(solved);
  const incMean = incCounts.reduce((a, b) => a + b, 0) / R;
  const noise = Math.sqrt(incCounts.reduce((a, c) => a + (c - incMean) ** 2, 0) / Math.max(1, R - 1));
  const wins = (runs: TaskOutcome[][], taskId: string) => runs.filter((run) => run.find((o) => o.taskId === taskId)?.passed).length;
  const taskIds = incumbentRuns[0].map((o) => o.taskId);
  const regressions = taskIds.filter((id) => wins(incumbentRuns, id) * 2 > R && wins(candidateRuns, id) * 2 < R);
  const unlocked = taskIds.filter((id) => wins(incumbentRuns, id) * 2 < R && wins(candidateRuns, id) * 2 > R);
  const base = {
    check: 'seesaw' as const,
    regressions,
    unlocked,
    incumbentPassed: Math.round(incMean),
    candidatePassed: Math.round(candidateRuns.map(solved).reduce((a, b) => a + b, 0) / R),
    stats: { repeats: R, gains, meanGain: mean, t, incumbentNoiseSd: noise },
  };
  const summary = `gain ${mean.toFixed(2)} ± ${(sd / Math.sqrt(R)).toFixed(2)} over ${R} paired repeats (t = ${t.toFixed(2)}; incumbent run-to-run sd ${noise.toFixed(2)})`;
  if (regressions.length) return { ...base, passed: false, detail: `regresses ${regressions.length} task(s) solved in most repeats: ${regressions.slice(0, 5).join(', ')}` };
  if (mean < options.minGain) return { ...base, passed: false, detail: `no gain: ${summary}; needs ≥ ${options.minGain}` };
  if (t < options.tCritical) return { ...base, passed: false, detail: `gain within noise: ${summary}; needs t ≥ ${options.tCritical}` };
  return { ...base, passed: true, detail: `significant: ${summary}` };
}

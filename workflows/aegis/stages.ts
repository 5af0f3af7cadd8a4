import { digestNoOpReason, gateTermsFor } from '../../aegis/round-decisions';
import { seededSample } from '../../aegis/sampling';
import { patched } from '@temporalio/workflow';
import { ActivityResult, meta, rollouts } from './activities';
import type { AegisRun } from './run';
import { evolutionAllowanceFor, focusRecord, rolloutByStrategy, RoundFocus } from './strategies';

/**
 * The stages of one AEGIS round before the gate: rollout, then the meta-agent's digest, plan, evolve and
 * critique. Each stage calls its activity, accounts its spend, writes its audit record and returns either
 * what the next stage needs or a NoOp saying why the round has nothing more to do. A meta-agent stage
 * whose output stays invalid after its repair attempt comes back as `failed`: the round no-ops with that
 * reason and the run goes on.
 */
export interface NoOp {
  noop: string;
}
const noOp = (reason: string): NoOp => ({ noop: reason });

/** The batch of train tasks for a round: a seeded sample, the same for a given seed and round on any machine. */
export function roundBatch(run: AegisRun, round: number): string[] {
  return seededSample(run.state.trainIds, run.input.batchSize, `${run.input.seed}|batch|${round}`).sort();
}

/**
 * The round's rollout. One the evolution budget stopped part-way (budgetStopped) ends the round: its spend is
 * accounted and recorded, but a part of the batch is no basis for a digest or a gate, and its pass rate (over
 * the tasks it covered) does not enter the batch pass-rate history.
 */
export async function rolloutStage(run: AegisRun, round: number): Promise<RoundFocus | NoOp> {
  const { input, state: s } = run;
  const batch = roundBatch(run, round);
  const { roll, focus } = await rolloutByStrategy(run, batch);
  run.account(roll);
  const stopped = roll.budgetStopped ? { budgetStopped: true, coveredTasks: roll.coveredTasks, batchTasks: batch.length, beyondCutTokens: roll.beyondCutTokens } : {};
  if (!roll.budgetStopped) {
    s.lastPassRate = roll.passRate;
    if (s.seedBatchPassRate === null) s.seedBatchPassRate = roll.passRate;
  }
  run.controls.lastEvent = roll.budgetStopped
    ? `round ${round}: rollout stopped after ${roll.tasks} of ${batch.length} batch tasks (evolution budget spent)`
    : `round ${round}: pass@${input.k} ${roll.passed}/${roll.tasks} on the batch`;
  await run.audit({
    key: `${round}:rollout`,
    round,
    stage: 'rollout',
    kind: 'info',
    harnessId: s.incumbentId,
    payload: { ...focusRecord(run, focus), passRate: roll.passRate, passed: roll.passed, tasks: roll.tasks, episodes: roll.episodes, tokens: roll.tokens, inputTokens: roll.inputTokens, outputTokens: roll.outputTokens, costUsd: roll.costUsd, ...stopped },
    evidenceRefs: [roll.tracesRef, roll.outcomesRef],
  });
  return roll.budgetStopped ? noOp(`evolution budget spent during the rollout (${roll.tasks} of ${batch.length} batch tasks)`) : focus;
}

/**
 * A meta-agent stage's spend for its audit record (tokens, cached tokens, USD), so the log shows the
 * meta-agent's cost per stage and round; nothing for an agent that made no model call (the rule-based one).
 */
type StageSpend = { tokens: number; inputTokens?: number; outputTokens?: number; cacheReadTokens?: number; cacheWriteTokens?: number; costUsd: number | null };
const metaSpendRecord = (spend: StageSpend | undefined): { metaSpend?: StageSpend } => (spend && spend.tokens > 0 ? { metaSpend: spend } : {});

/** What every meta-agent stage is told: which agent, which evolver, which seed. */
// The processor library travels only when narrowed: a 'full' run's stage inputs are what they were before the field existed.
const stageSpec = (run: AegisRun) => ({
  metaAgent: run.input.metaAgent,
  evolver: run.input.evolver,
  seed: run.input.seed,
  ...(run.input.processorLibrary && run.input.processorLibrary !== 'full' ? { processorLibrary: run.input.processorLibrary } : {}),
});

export type DigestOutput = Extract<ActivityResult<'digest'>, { failed?: undefined }>;
export async function digestStage(run: AegisRun, round: number, focus: RoundFocus): Promise<DigestOutput | NoOp> {
  const s = run.state;
  const digest = await meta.digest({ round, harnessId: focus.base, tracesRef: focus.tracesRef, outcomesRef: focus.outcomesRef, previousDigestRef: s.previousDigestRef, ...stageSpec(run) });
  run.account(digest.spend);
  if (digest.failed !== undefined) return noOp(`stage failed: ${digest.failed}`);
  s.previousDigestRef = digest.digestRef;
  await run.audit({
    key: `${round}:digest`,
    round,
    stage: 'digest',
    kind: 'info',
    payload: { failing: digest.failing, actionability: digest.actionability, traceTokens: digest.traceTokens, digestTokens: digest.digestTokens, compression: digest.digestTokens ? digest.traceTokens / digest.digestTokens : null, ...metaSpendRecord(digest.spend) },
    evidenceRefs: [digest.digestRef],
  });
  // A batch that passes entirely leaves the round nothing to learn from the batch; the validation tasks
  // (part of every gate set) may still fail, and their traces are then what the round works from.
  if (digest.failing === 0 && s.validationIds.length > 0 && run.input.strategy !== 'ensemble' && patched('digest-validation-failures')) return validationDigest(run, round, focus);
  const idle = digestNoOpReason(digest, run.input.actionabilityThreshold);
  return idle ? noOp(idle) : digest;
}

/**
 * The round's digest from the base harness's validation rollouts, when its batch passed in full. Evolution
 * spend (it steers the search) under the same allowance as the batch; the gate later reuses these outcomes.
 */
async function validationDigest(run: AegisRun, round: number, focus: RoundFocus): Promise<DigestOutput | NoOp> {
  const { input, state: s } = run;
  // This rollout runs the validation tasks itself (the digest needs their traces) and pays for them, as it
  // did before overlap; an early gate baseline of the same tasks is then work nothing uses.
  run.overlap.drop('baseline');
  const roll = await rollouts.rollout({ benchmark: input.benchmark, harnessId: focus.base, taskIds: s.validationIds, k: input.k, seed: input.seed, endpointLimits: input.endpointLimits, ...evolutionAllowanceFor(run) });
  run.account(roll);
  await run.audit({ key: `${round}:rollout-validation`, round, stage: 'rollout', kind: 'info', harnessId: focus.base, payload: { validation: true, passRate: roll.passRate, passed: roll.passed, tasks: roll.tasks, episodes: roll.episodes, tokens: roll.tokens, costUsd: roll.costUsd, ...(roll.budgetStopped ? { budgetStopped: true } : {}) }, evidenceRefs: [roll.tracesRef, roll.outcomesRef] });
  if (roll.budgetStopped) return noOp(`evolution budget spent during the validation rollout (${roll.tasks} of ${s.validationIds.length} tasks)`);
  if (roll.passed === roll.tasks) return noOp('nothing actionable: every task passed, the validation tasks too');
  const digest = await meta.digest({ round, harnessId: focus.base, tracesRef: roll.tracesRef, outcomesRef: roll.outcomesRef, previousDigestRef: s.previousDigestRef, ...stageSpec(run) });
  run.account(digest.spend);
  if (digest.failed !== undefined) return noOp(`stage failed: ${digest.failed}`);
  s.previousDigestRef = digest.digestRef;
  await run.audit({ key: `${round}:digest-validation`, round, stage: 'digest', kind: 'info', payload: { fromValidation: true, failing: digest.failing, actionability: digest.actionability, traceTokens: digest.traceTokens, digestTokens: digest.digestTokens, ...metaSpendRecord(digest.spend) }, evidenceRefs: [digest.digestRef] });
  const idle = digestNoOpReason(digest, input.actionabilityThreshold);
  return idle ? noOp(`validation: ${idle}`) : digest;
}

export type PlanOutput = Extract<ActivityResult<'plan'>, { failed?: undefined }>;
export async function planStage(run: AegisRun, round: number, focus: RoundFocus, digest: DigestOutput): Promise<PlanOutput | NoOp> {
  const plan = await meta.plan({ digestRef: digest.digestRef, harnessId: focus.base, tried: run.state.tried, gate: gateTerms(run, focus), ...stageSpec(run) });
  run.account(plan.spend);
  if (plan.failed !== undefined) return noOp(`stage failed: ${plan.failed}`);
  await run.audit({ key: `${round}:plan`, round, stage: 'plan', kind: 'info', payload: { options: plan.options, categories: plan.categories, ...metaSpendRecord(plan.spend) }, evidenceRefs: [plan.landscapeRef] });
  return plan.options === 0 ? noOp('empty landscape') : plan;
}

/** How the gate will decide this round's candidates, in numbers (the Evolver and the Critic are told). */
const gateTerms = (run: AegisRun, focus: RoundFocus) => gateTermsFor(run.input, focus.gateTaskIds, run.state.validationIds);

export type EvolveOutput = Extract<ActivityResult<'evolve'>, { failed?: undefined }>;
export async function evolveStage(run: AegisRun, round: number, focus: RoundFocus, digest: DigestOutput, plan: PlanOutput): Promise<EvolveOutput | NoOp> {
  const evolved = await meta.evolve({ landscapeRef: plan.landscapeRef, digestRef: digest.digestRef, harnessId: focus.base, maxCandidates: run.input.candidatesPerRound, round, tracesRef: focus.tracesRef, benchmark: run.input.benchmark, gate: gateTerms(run, focus), ...stageSpec(run) });
  run.account(evolved.spend);
  if (evolved.failed !== undefined) return noOp(`stage failed: ${evolved.failed}`);
  await run.audit({ key: `${round}:evolve`, round, stage: 'evolve', kind: 'info', payload: { candidates: evolved.candidates, ...metaSpendRecord(evolved.spend) }, evidenceRefs: [evolved.candidatesRef] });
  return evolved.candidates.length === 0 ? noOp('no candidates') : evolved;
}

/** The candidates the gate may try, and the critic's order for trying them. */
export interface Shortlist {
  /** The evolver's candidates, plus any the critic revised (stored together under a new candidatesRef). */
  pool: Pick<EvolveOutput, 'candidatesRef' | 'candidates'>;
  ranking: string[];
}
export async function critiqueStage(run: AegisRun, round: number, focus: RoundFocus, digest: DigestOutput, evolved: EvolveOutput): Promise<Shortlist | NoOp> {
  const critique = await meta.critique({ candidatesRef: evolved.candidatesRef, digestRef: digest.digestRef, reputation: run.state.reputation, harnessId: focus.base, round, tried: run.state.tried, gate: gateTerms(run, focus), ...stageSpec(run) });
  run.account(critique.spend);
  if (critique.failed !== undefined) return noOp(`stage failed: ${critique.failed}`);
  const pool = critique.candidatesRef && critique.candidates ? { candidatesRef: critique.candidatesRef, candidates: critique.candidates } : evolved;
  const { spend: _spend, candidates: _pool, ...critiqueRecord } = critique;
  await run.audit({ key: `${round}:critique`, round, stage: 'critique', kind: 'info', payload: { ...(critiqueRecord as unknown as Record<string, unknown>), ...metaSpendRecord(critique.spend) }, evidenceRefs: pool === evolved ? [] : [pool.candidatesRef] });
  if (critique.decision === 'no_op') return noOp(`critic: ${critique.reason}`);
  return { pool, ranking: critique.ranking };
}

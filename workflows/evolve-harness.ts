import {
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { TriedEdit } from '../aegis/meta-agent';
import { EvolveInput, evolveInputSchema, inputProblems } from '../aegis/run-input';
import { seededSample } from '../aegis/sampling';
import { anyOf, BUDGET_EXHAUSTED, maxRounds, patience, stopRequested, tokenBudget, usdBudget } from '../aegis/stop';
import { RunStatusValue, SA } from '../aegis/search-attributes';
import type { AuditRecord, GateResult } from '../aegis/types';
import { leadVariant, Variant } from '../aegis/variants';
import { ACTIVITY_OPTIONS, LOCAL_ACTIVITY_OPTIONS } from '../temporal.config';

const rollouts = proxyActivities<Activities>(ACTIVITY_OPTIONS.rollout);
const meta = proxyActivities<Activities>(ACTIVITY_OPTIONS.meta);
const books = proxyActivities<Activities>(ACTIVITY_OPTIONS.bookkeeping);
/** Audit appends are millisecond, idempotent file appends: local activities spare a server round trip each. */
const ledger = proxyLocalActivities<Activities>(LOCAL_ACTIVITY_OPTIONS);

export type Stage = 'setup' | 'rollout' | 'digest' | 'plan' | 'evolve' | 'critique' | 'gate' | 'paused' | 'final' | 'done';

/** The compact state carried across continue-as-new: ids, scores and small decisions only. */
export interface RunState {
  runId: string;
  round: number;
  seedHarnessId: string;
  incumbentId: string;
  trainIds: string[];
  validationIds: string[];
  testIds: string[];
  previousDigestRef: string | null;
  tried: TriedEdit[];
  reputation: Record<string, number>;
  roundsWithoutShip: number;
  shipped: number;
  rejected: number;
  seedBatchPassRate: number | null;
  lastPassRate: number | null;
  /** Incumbent's pass rate on the gate set after its last ship (the best score so far). */
  bestScore: number | null;
  tokens: number;
  /** Task-model spend in USD; null once any of it was unpriced. */
  costUsd: number | null;
  /** Per-round pass rates, last 200 rounds (the audit log keeps all). */
  passRates: Array<{ round: number; passRate: number; shipped: boolean }>;
  /** The budget, changeable while running through the setBudget update. */
  budget: { rounds: number; patience: number };
  /** The cumulative-regression guard's best harness so far on its fixed suite (absent before its first check). */
  regressionBest?: { harnessId: string; solved: number; round: number };
  rollbacks?: number;
  /** The variant pool under strategy 'ensemble' (absent under 'global'). */
  variants?: Variant[];
}

export interface PendingApproval {
  candidateId: string;
  harnessId: string;
  editKey: string;
  gate: string;
}

export interface RunStatus {
  runId: string;
  round: number;
  rounds: number;
  stage: Stage;
  paused: boolean;
  stopRequested: boolean;
  incumbentHarnessId: string | null;
  bestScore: number | null;
  lastPassRate: number | null;
  shipped: number;
  rejected: number;
  lastEvent: string;
  pendingApproval: PendingApproval | null;
}

export interface RunSummary {
  workflowId: string;
  benchmark: string;
  model: string;
  rounds: number;
  stopReason: string;
  seedHarnessId: string;
  harnessId: string;
  shipped: number;
  rejected: number;
  seedPassRate: number;
  evolvedPassRate: number;
  seedTestPassRate: number | null;
  evolvedTestPassRate: number | null;
  trainTasks: number;
  testTasks: number;
  tokens: number;
  costUsd: number | null;
  summaryPath: string;
  /** Under strategy 'ensemble': the final variant pool (harnessId is the lead variant's). */
  strategy?: 'ensemble';
  variants?: Array<{ id: string; harnessId: string; parentId: string | null; born: number }>;
}

export const statusQuery = defineQuery<RunStatus>('status');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
/** Changes the round budget or patience of a running run; validated before it is accepted. */
export const setBudgetUpdate = defineUpdate<{ rounds: number; patience: number }, [{ rounds?: number; patience?: number }]>('setBudget');
/** In approval mode 'human': approve or reject the candidate waiting after the gate. */
export const decideUpdate = defineUpdate<string, [{ candidateId: string; approve: boolean; reason?: string }]>('decide');

/** AEGIS (Algorithm 1): rollout → digest → plan → evolve → critique → deterministic gate, per round. */
export async function evolveHarness(rawInput: unknown): Promise<RunSummary> {
  const parsed = evolveInputSchema().safeParse(rawInput ?? {});
  if (!parsed.success) {
    const problems = inputProblems(parsed.error);
    throw ApplicationFailure.nonRetryable(`invalid evolveHarness input:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput', { problems });
  }
  const input: EvolveInput = parsed.data;
  const workflowId = workflowInfo().workflowId;

  let stage: Stage = 'setup';
  let paused = false;
  let waiting = false;
  let stopping = false;
  let lastEvent = 'starting';
  let state = input.resume as RunState | undefined;
  let pending: PendingApproval | null = null;
  let decision: { approve: boolean; reason: string } | null = null;

  const publish = (status: RunStatusValue) => {
    if (!input.searchAttributes) return;
    upsertSearchAttributes([
      { key: SA.benchmark, value: input.benchmark },
      { key: SA.taskModel, value: input.model },
      { key: SA.metaModel, value: input.metaAgent },
      { key: SA.status, value: status },
      { key: SA.round, value: state?.round ?? 0 },
      { key: SA.bestScore, value: state?.bestScore ?? state?.lastPassRate ?? 0 },
      ...(state ? [{ key: SA.harnessId, value: state.incumbentId }] : []),
    ]);
  };

  setHandler(statusQuery, () => ({
    runId: workflowId,
    round: state?.round ?? 0,
    rounds: state?.budget.rounds ?? input.rounds,
    stage: waiting ? 'paused' : stage,
    paused,
    stopRequested: stopping,
    incumbentHarnessId: state?.incumbentId ?? null,
    bestScore: state?.bestScore ?? null,
    lastPassRate: state?.lastPassRate ?? null,
    shipped: state?.shipped ?? 0,
    rejected: state?.rejected ?? 0,
    lastEvent,
    pendingApproval: pending,
  }));
  setHandler(pauseSignal, () => {
    paused = true;
    publish('paused');
  });
  setHandler(resumeSignal, () => {
    paused = false;
    publish('running');
  });
  setHandler(
    setBudgetUpdate,
    (change) => {
      state!.budget = { rounds: change.rounds ?? state!.budget.rounds, patience: change.patience ?? state!.budget.patience };
      lastEvent = `budget set to ${state!.budget.rounds} rounds, patience ${state!.budget.patience}`;
      return state!.budget;
    },
    {
      validator: (change) => {
        if (!state) throw new Error('the run is still starting; try again in a moment');
        if (change.rounds === undefined && change.patience === undefined) throw new Error('give rounds and/or patience');
        if (change.rounds !== undefined && (!Number.isInteger(change.rounds) || change.rounds < state.round || change.rounds > 10000))
          throw new Error(`rounds must be a whole number from the current round (${state.round}) to 10000`);
        if (change.patience !== undefined && (!Number.isInteger(change.patience) || change.patience < 1 || change.patience > 1000))
          throw new Error('patience must be a whole number from 1 to 1000');
      },
    },
  );
  setHandler(
    decideUpdate,
    (d) => {
      decision = { approve: d.approve, reason: d.reason ?? '' };
      return `${d.approve ? 'approved' : 'rejected'} ${d.candidateId}`;
    },
    {
      validator: (d) => {
        if (!pending) throw new Error('no candidate is waiting for approval');
        if (d.candidateId !== pending.candidateId) throw new Error(`the candidate waiting is ${pending.candidateId}, not ${d.candidateId}`);
        if (typeof d.approve !== 'boolean') throw new Error('approve must be true or false');
      },
    },
  );
  setHandler(stopSignal, () => void (stopping = true));

  /** Stage boundary: a pause takes effect here, so a stage in flight always completes. */
  const enter = async (next: Stage) => {
    waiting = paused && !stopping;
    await condition(() => !paused || stopping);
    waiting = false;
    stage = next;
  };
  const audit = (r: Omit<AuditRecord, 'ts' | 'runId' | 'evidenceRefs'> & { evidenceRefs?: string[] }) =>
    ledger.recordAudit({ runId: workflowId, evidenceRefs: [], ...r });

  if (!state) {
    const prepared = await books.prepareRun({ benchmark: input.benchmark, model: input.model, metaAgent: input.metaAgent, seedHarness: input.seedHarness, validationSize: input.validationSize, seed: input.seed, maxUsd: input.maxUsd });
    state = {
      runId: workflowId,
      round: 0,
      seedHarnessId: prepared.seedHarnessId,
      incumbentId: prepared.seedHarnessId,
      trainIds: prepared.trainIds,
      validationIds: prepared.validationIds,
      testIds: prepared.testIds,
      previousDigestRef: null,
      tried: [],
      reputation: { prompt: 1, tools: 1, config: 1, processor: 1 },
      roundsWithoutShip: 0,
      shipped: 0,
      rejected: 0,
      seedBatchPassRate: null,
      lastPassRate: null,
      bestScore: null,
      tokens: 0,
      costUsd: 0,
      passRates: [],
      budget: { rounds: input.rounds, patience: input.patience },
      ...(input.strategy === 'ensemble' ? { variants: [{ id: 'v0', harnessId: prepared.seedHarnessId, parentId: null, born: 0, stats: {} }] } : {}),
    };
    await audit({ key: 'setup', round: 0, stage: 'setup', kind: 'info', harnessId: state.seedHarnessId, payload: { input: { ...input, resume: undefined } } });
  }
  const s = state;
  // Results recorded by older workers (in flight across a deploy) carry no spend or cost: tokens count as 0
  // and the cost becomes unknown (null), never NaN.
  const account = (spend: { tokens?: number; costUsd?: number | null } | undefined) => {
    s.tokens += spend?.tokens ?? 0;
    s.costUsd = typeof s.costUsd === 'number' && typeof spend?.costUsd === 'number' ? s.costUsd + spend.costUsd : null;
  };
  publish('running');
  // The budget can change mid-run (setBudget), so the stop condition is rebuilt each time.
  const progress = () => ({ round: s.round, roundsWithoutShip: s.roundsWithoutShip, stopRequested: stopping, tokens: s.tokens, costUsd: s.costUsd });
  const budgetSpent = anyOf(tokenBudget(input.maxTokens), usdBudget(input.maxUsd));
  const budgetLeft = () => !budgetSpent(progress());
  const shouldStop = () => anyOf(stopRequested, budgetSpent, maxRounds(s.budget.rounds), patience(s.budget.patience))(progress());
  let stopReason: string | null = null;

  while (!(stopReason = shouldStop())) {
    s.round++;
    const round = s.round;
    const shippedThisRound = await runRound(round);
    if (shippedThisRound) s.roundsWithoutShip = 0;
    else s.roundsWithoutShip++;
    s.passRates = [...s.passRates, { round, passRate: s.lastPassRate ?? 0, shipped: shippedThisRound }].slice(-200);
    // Held-out tracking for reports: outcomes are cached per harness, so this costs rollouts only after a ship.
    const track = async (taskIds: string[], seed: string) => {
      const r = await rollouts.evaluate({ benchmark: input.benchmark, harnessId: s.incumbentId, taskIds, k: input.k, seed });
      account(r.spend);
      return r.passRate;
    };
    const tracking =
      input.trackHeldOut && budgetLeft()
        ? {
            validation: s.validationIds.length ? await track(s.validationIds, input.seed) : null,
            test: input.evaluateTest ? await track(s.testIds, `${input.seed}|final`) : null,
          }
        : { validation: null, test: null };
    await audit({ key: `${round}:round_end`, round, stage: 'round_end', kind: 'info', harnessId: s.incumbentId, payload: { shipped: shippedThisRound, passRate: s.lastPassRate, ...tracking } });
    // patched: histories recorded before the guard existed replay without it.
    if (input.regressionGuard.every > 0 && round % input.regressionGuard.every === 0 && budgetLeft() && patched('regression-guard')) await guardAgainstDrift(round);
    publish(stopping ? 'stopped' : budgetLeft() ? 'running' : 'budget_exhausted');
    if (workflowInfo().continueAsNewSuggested && !stopping) {
      log.info('continuing as new', { round });
      await continueAsNew<typeof evolveHarness>({ ...input, rounds: s.budget.rounds, patience: s.budget.patience, resume: s });
    }
  }

  /**
   * The cumulative-regression guard: per-edit gating sees only the gate set of its round, so small losses
   * elsewhere can add up. Every N rounds the incumbent and the best earlier harness are compared on one fixed
   * suite (outcomes are cached per harness, so only new harnesses cost rollouts); a drift beyond the
   * tolerance rolls the run back to the best harness.
   */
  async function guardAgainstDrift(round: number): Promise<void> {
    const guard = input.regressionGuard;
    const suite = [...s.validationIds, ...seededSample(s.trainIds, guard.trainSample, `${input.seed}|regression-suite`)].sort();
    if (!suite.length) return;
    const solved = async (harnessId: string) => {
      const r = await rollouts.evaluate({ benchmark: input.benchmark, harnessId, taskIds: suite, k: input.k, seed: `${input.seed}|regression` });
      account(r.spend);
      return r.passed;
    };
    const best = s.regressionBest ?? { harnessId: s.seedHarnessId, solved: await solved(s.seedHarnessId), round: 0 };
    const current = s.incumbentId === best.harnessId ? best.solved : await solved(s.incumbentId);
    const base = { key: `${round}:regression`, round, stage: 'regression' as const, harnessId: s.incumbentId };
    if (best.solved - current > guard.tolerance) {
      await audit({ ...base, kind: 'rollback', payload: { from: s.incumbentId, to: best.harnessId, solved: current, bestSolved: best.solved, bestRound: best.round, suite: suite.length } });
      lastEvent = `round ${round}: regression guard rolled back to ${best.harnessId} (${current} < ${best.solved} of ${suite.length})`;
      if (s.variants) s.variants = s.variants.map((v) => (v.harnessId === s.incumbentId ? { ...v, harnessId: best.harnessId } : v));
      s.incumbentId = best.harnessId;
      s.rollbacks = (s.rollbacks ?? 0) + 1;
      s.regressionBest = best;
      return;
    }
    s.regressionBest = current >= best.solved ? { harnessId: s.incumbentId, solved: current, round } : best;
    await audit({ ...base, kind: 'info', payload: { solved: current, bestSolved: best.solved, bestHarnessId: best.harnessId, suite: suite.length } });
  }

  async function runRound(round: number): Promise<boolean> {
    const noop = async (reason: string) => {
      lastEvent = `round ${round}: no-op (${reason})`;
      await audit({ key: `${round}:noop`, round, stage: stage as AuditRecord['stage'], kind: 'info', harnessId: s.incumbentId, payload: { noop: reason } });
      return false;
    };
    await enter('rollout');
    const batch = seededSample(s.trainIds, input.batchSize, `${input.seed}|batch|${round}`).sort();
    // `base` is the harness this round improves: the incumbent, or under the ensemble strategy the variant
    // with the most failures in the batch; its gate set is its own share of the batch and validation tasks.
    let base = s.incumbentId;
    let focus: string | null = null;
    let gateTaskIds = [...batch, ...s.validationIds];
    const ensembleRoll = async () => {
      const er = await rollouts.ensembleRollout({ benchmark: input.benchmark, variants: s.variants!, taskIds: batch, validationIds: s.validationIds, k: input.k, seed: input.seed });
      s.variants = er.variants;
      const f = [...er.perVariant].sort((a, b) => b.tasks - b.passed - (a.tasks - a.passed))[0];
      focus = f.variantId;
      base = f.harnessId;
      gateTaskIds = [...f.taskIds, ...er.validationRoutes[f.variantId]];
      const { perVariant: _p, variants: _v, validationRoutes: _r, ...totals } = er;
      return { ...totals, tracesRef: f.tracesRef, outcomesRef: f.outcomesRef };
    };
    const roll = input.strategy === 'ensemble' ? await ensembleRoll() : await rollouts.rollout({ benchmark: input.benchmark, harnessId: s.incumbentId, taskIds: batch, k: input.k, seed: input.seed });
    s.lastPassRate = roll.passRate;
    account(roll);
    if (s.seedBatchPassRate === null) s.seedBatchPassRate = roll.passRate;
    lastEvent = `round ${round}: pass@${input.k} ${roll.passed}/${roll.tasks} on the batch`;
    await audit({ key: `${round}:rollout`, round, stage: 'rollout', kind: 'info', harnessId: s.incumbentId, payload: { ...(focus ? { focusVariant: focus, variants: s.variants!.map((v) => ({ id: v.id, harnessId: v.harnessId })) } : {}), passRate: roll.passRate, passed: roll.passed, tasks: roll.tasks, episodes: roll.episodes, tokens: roll.tokens, inputTokens: roll.inputTokens, outputTokens: roll.outputTokens, costUsd: roll.costUsd }, evidenceRefs: [roll.tracesRef, roll.outcomesRef] });

    // Meta-agent stages: an LLM stage whose output stays invalid after its repair attempt comes back as
    // `failed`; the round no-ops with that reason and the run goes on.
    const metaAgent = input.metaAgent;
    const spec = { metaAgent, evolver: input.evolver, seed: input.seed };
    await enter('digest');
    const digest = await meta.digest({ round, harnessId: base, tracesRef: roll.tracesRef, outcomesRef: roll.outcomesRef, previousDigestRef: s.previousDigestRef, ...spec });
    account(digest.spend);
    if (digest.failed !== undefined) return noop(`stage failed: ${digest.failed}`);
    s.previousDigestRef = digest.digestRef;
    await audit({ key: `${round}:digest`, round, stage: 'digest', kind: 'info', payload: { failing: digest.failing, actionability: digest.actionability, traceTokens: digest.traceTokens, digestTokens: digest.digestTokens, compression: digest.digestTokens ? digest.traceTokens / digest.digestTokens : null }, evidenceRefs: [digest.digestRef] });
    if (digest.failing === 0) return noop('nothing actionable: every task passed');
    if (digest.actionability < input.actionabilityThreshold) return noop(`actionability ${digest.actionability.toFixed(2)} < ${input.actionabilityThreshold}`);

    await enter('plan');
    const plan = await meta.plan({ digestRef: digest.digestRef, harnessId: base, tried: s.tried, ...spec });
    account(plan.spend);
    if (plan.failed !== undefined) return noop(`stage failed: ${plan.failed}`);
    await audit({ key: `${round}:plan`, round, stage: 'plan', kind: 'info', payload: { options: plan.options, categories: plan.categories }, evidenceRefs: [plan.landscapeRef] });
    if (plan.options === 0) return noop('empty landscape');

    await enter('evolve');
    const evolved = await meta.evolve({ landscapeRef: plan.landscapeRef, digestRef: digest.digestRef, harnessId: base, maxCandidates: input.candidatesPerRound, round, tracesRef: roll.tracesRef, ...spec });
    account(evolved.spend);
    if (evolved.failed !== undefined) return noop(`stage failed: ${evolved.failed}`);
    await audit({ key: `${round}:evolve`, round, stage: 'evolve', kind: 'info', payload: { candidates: evolved.candidates }, evidenceRefs: [evolved.candidatesRef] });
    if (evolved.candidates.length === 0) return noop('no candidates');

    await enter('critique');
    const critique = await meta.critique({ candidatesRef: evolved.candidatesRef, digestRef: digest.digestRef, reputation: s.reputation, harnessId: base, round, ...spec });
    account(critique.spend);
    if (critique.failed !== undefined) return noop(`stage failed: ${critique.failed}`);
    // A revision by the critic adds candidates: they live under a new candidatesRef.
    const pool = critique.candidatesRef && critique.candidates ? { candidatesRef: critique.candidatesRef, candidates: critique.candidates } : evolved;
    const { spend: _spend, candidates: _pool, ...critiqueRecord } = critique;
    await audit({ key: `${round}:critique`, round, stage: 'critique', kind: 'info', payload: critiqueRecord as unknown as Record<string, unknown>, evidenceRefs: pool === evolved ? [] : [pool.candidatesRef] });
    if (critique.decision === 'no_op') return noop(`critic: ${critique.reason}`);

    await enter('gate');
    for (const candidateId of critique.ranking) {
      if (!budgetLeft()) return noop('budget exhausted before the gate');
      const candidate = pool.candidates.find((c) => c.candidateId === candidateId)!;
      const gate: GateResult & { spend?: { tokens: number; costUsd: number | null } } = await rollouts.gate({ benchmark: input.benchmark, candidatesRef: pool.candidatesRef, candidateId, incumbentId: base, gateTaskIds, k: input.k, seed: input.seed, minGain: input.minGain, gating: input.gating });
      account(gate.spend);
      s.tried = [...s.tried, { key: candidate.editKey, bucket: candidate.bucket, harnessId: base, outcome: gate.passed ? 'shipped' : `rejected: ${gate.reason}` }].slice(-500);
      s.reputation[candidate.bucket] = Math.max(0.25, Math.min(4, (s.reputation[candidate.bucket] ?? 1) * (gate.passed ? 1.25 : 0.9)));
      if (!gate.passed) {
        s.rejected++;
        lastEvent = `round ${round}: rejected ${candidate.editKey} (${gate.reason})`;
        await audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'rollback', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, reason: gate.reason, checks: gate.checks } });
        // Ensemble: an edit that passed every check but the seesaw, unlocking tasks while regressing others,
        // becomes a new variant; routing then sends each cluster to whichever variant serves it better.
        // The seesaw runs last, so a failed seesaw means every other check passed.
        const onlySeesaw = gate.checks.some((c) => c.check === 'seesaw' && !c.passed);
        if (focus && onlySeesaw && gate.regressions.length > 0 && gate.unlocked.length >= Math.max(1, input.minGain)) {
          const forked = await books.forkVariant({ benchmark: input.benchmark, variants: s.variants!, parentId: focus, harnessId: candidate.harnessId, round, unlocked: gate.unlocked, regressions: gate.regressions, maxVariants: input.maxVariants });
          s.variants = forked.variants;
          await audit({ key: `${round}:ship`, round, stage: 'ship', kind: 'commit', candidateId, harnessId: candidate.harnessId, payload: { fork: true, variant: forked.forked.id, parentVariant: focus, retired: forked.retired?.id ?? null, from: base, to: candidate.harnessId, editKey: candidate.editKey, bucket: candidate.bucket, gate: { unlocked: gate.unlocked, regressions: gate.regressions } }, evidenceRefs: [pool.candidatesRef] });
          s.shipped++;
          s.incumbentId = leadVariant(s.variants).harnessId;
          lastEvent = `round ${round}: forked ${candidate.editKey} into variant ${forked.forked.id} (unlocks ${gate.unlocked.length}, regresses ${gate.regressions.length})${forked.retired ? `; retired ${forked.retired.id}` : ''}`;
          return true;
        }
        continue;
      }
      await audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'info', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, checks: gate.checks } });
      if (input.approval === 'human') {
        pending = { candidateId, harnessId: candidate.harnessId, editKey: candidate.editKey, gate: `${gate.incumbentPassed} → ${gate.candidatePassed} of ${gate.gateTasks}` };
        decision = null;
        lastEvent = `round ${round}: ${candidateId} (${candidate.editKey}) passed the gate and awaits approval`;
        publish('awaiting_approval');
        await condition(() => decision !== null || stopping);
        const verdict: { approve: boolean; reason: string } = decision ?? { approve: false, reason: 'run stopped while awaiting approval' };
        pending = null;
        publish('running');
        await audit({ key: `${round}:approval:${candidateId}`, round, stage: 'gate', kind: verdict.approve ? 'info' : 'rollback', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, approval: verdict.approve ? 'approved' : 'rejected', reason: verdict.reason } });
        if (!verdict.approve) {
          s.rejected++;
          s.tried = [...s.tried.slice(0, -1), { key: candidate.editKey, bucket: candidate.bucket, harnessId: base, outcome: `rejected: by reviewer${verdict.reason ? `: ${verdict.reason}` : ''}` }];
          if (stopping) return false;
          continue;
        }
      }
      await audit({ key: `${round}:ship`, round, stage: 'ship', kind: 'commit', candidateId, harnessId: candidate.harnessId, payload: { ...(focus ? { variant: focus } : {}), from: base, to: candidate.harnessId, editKey: candidate.editKey, bucket: candidate.bucket, gate: { incumbentPassed: gate.incumbentPassed, candidatePassed: gate.candidatePassed, gateTasks: gate.gateTasks, unlocked: gate.unlocked } }, evidenceRefs: [pool.candidatesRef] });
      if (focus) {
        s.variants = s.variants!.map((v) => (v.id === focus ? { ...v, harnessId: candidate.harnessId } : v));
        s.incumbentId = leadVariant(s.variants).harnessId;
      } else s.incumbentId = candidate.harnessId;
      s.shipped++;
      s.bestScore = gate.gateTasks ? gate.candidatePassed / gate.gateTasks : null;
      lastEvent = `round ${round}: shipped ${candidate.editKey} (${gate.incumbentPassed} → ${gate.candidatePassed} of ${gate.gateTasks})`;
      return true;
    }
    return false;
  }

  await enter('final');
  const evalArgs = { benchmark: input.benchmark, k: input.k, seed: `${input.seed}|final` };
  // With the budget spent, the final evaluation is skipped: the summary reports the batch pass rates seen.
  const exhausted = !!stopReason?.startsWith(BUDGET_EXHAUSTED);
  const evaluate = async (harnessId: string, taskIds: string[]) => {
    const r = await rollouts.evaluate({ ...evalArgs, harnessId, taskIds });
    account(r.spend);
    return r;
  };
  const finalTrain = input.finalTrainTasks > 0 ? seededSample(s.trainIds, input.finalTrainTasks, `${input.seed}|final-train`).sort() : s.trainIds;
  // Under the ensemble strategy the evolved system is the routed pool of variants, evaluated as such.
  const evaluateEvolved = async (taskIds: string[]) => {
    if (!s.variants) return evaluate(s.incumbentId, taskIds);
    const r = await rollouts.ensembleEvaluate({ ...evalArgs, variants: s.variants, taskIds });
    account(r.spend);
    return r;
  };
  const [seedTrain, evolvedTrain] = exhausted
    ? [{ passRate: s.seedBatchPassRate ?? 0, tasks: input.batchSize }, { passRate: s.lastPassRate ?? 0, tasks: input.batchSize }]
    : [await evaluate(s.seedHarnessId, finalTrain), await evaluateEvolved(finalTrain)];
  const [seedTest, evolvedTest] =
    input.evaluateTest && !exhausted ? [await evaluate(s.seedHarnessId, s.testIds), await evaluateEvolved(s.testIds)] : [null, null];
  const summary: Omit<RunSummary, 'summaryPath'> = {
    workflowId,
    benchmark: input.benchmark,
    model: input.model,
    rounds: s.round,
    stopReason,
    seedHarnessId: s.seedHarnessId,
    harnessId: s.incumbentId,
    shipped: s.shipped,
    rejected: s.rejected,
    seedPassRate: seedTrain.passRate,
    evolvedPassRate: evolvedTrain.passRate,
    seedTestPassRate: seedTest?.passRate ?? null,
    evolvedTestPassRate: evolvedTest?.passRate ?? null,
    trainTasks: seedTrain.tasks,
    testTasks: seedTest?.tasks ?? 0,
    tokens: s.tokens,
    costUsd: s.costUsd,
    ...(s.variants ? { strategy: 'ensemble' as const, variants: s.variants.map(({ id, harnessId, parentId, born }) => ({ id, harnessId, parentId, born })) } : {}),
  };
  const written = await books.writeSummary({ runId: workflowId, summary: { ...summary, passRates: s.passRates, tried: s.tried } });
  await audit({ key: 'final', round: s.round, stage: 'final', kind: 'info', harnessId: s.incumbentId, payload: summary as unknown as Record<string, unknown> });
  stage = 'done';
  lastEvent = `done: ${stopReason}`;
  publish(stopping ? 'stopped' : exhausted ? 'budget_exhausted' : 'completed');
  return { ...summary, summaryPath: written.path };
}

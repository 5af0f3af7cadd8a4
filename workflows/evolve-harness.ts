import { continueAsNew, log, patched, workflowInfo } from '@temporalio/workflow';
import { MAX_ROUND_RECOMPUTES, unavailableArtifact } from '../aegis/recompute';
import { regressionGuardDue } from '../aegis/round-decisions';
import type { AuditRecord } from '../aegis/types';
import type { RunSummary } from '../aegis/run-summary';
import { labelActivitiesWith } from './aegis/activities';
import { installControls, RunControls } from './aegis/controls';
import { finishRun } from './aegis/final-evaluation';
import { beginGateDuringCritique, gateStage } from './aegis/gate-stage';
import { accountRound } from './aegis/held-out';
import { guardAgainstDrift } from './aegis/regression-guard';
import { AegisRun, openRun, parseEvolveInput } from './aegis/run';
import { critiqueStage, digestStage, evolveStage, planStage, rolloutStage } from './aegis/stages';
import { settleOverlap, speculateNextBatch, startIncumbentFinal } from './aegis/early-work';

// What cli/, workers and tests import from here: the run's types and its query, signal and update definitions.
export type { PendingApproval, RunState, RunStatus, Stage } from '../aegis/run-state';
export type { RunSummary } from '../aegis/run-summary';
export { decideUpdate, pauseSignal, resumeSignal, setBudgetUpdate, statusQuery, stopSignal } from './aegis/controls';

/**
 * AEGIS (Algorithm 1): after setup, each round runs rollout → digest → plan → evolve → critique →
 * deterministic gate, then accounts for itself; every N rounds the regression guard checks for drift. The
 * loop ends on a stop request, spent budget, the round budget or patience; a final evaluation follows.
 * Each step lives in workflows/aegis/ (Temporal side) and its decisions in aegis/ (pure, unit-tested).
 */
export async function evolveHarness(rawInput: unknown): Promise<RunSummary> {
  const input = parseEvolveInput(rawInput);
  const controls = new RunControls(workflowInfo().workflowId, input);
  installControls(controls);
  labelActivitiesWith(() => ({ round: controls.state?.round ?? 0, stage: controls.stage }));
  const run = await openRun(input, controls);
  const s = run.state;
  controls.publish('running');
  let stopReason: string | null;
  while (!(stopReason = run.stopReason())) {
    const round = ++s.round;
    const shipped = await roundRecomputingArtifacts(run, round);
    await accountRound(run, round, shipped);
    // patched: histories recorded before the guard existed replay without it.
    if (regressionGuardDue(input.regressionGuard, round) && run.budgetLeft() && patched('regression-guard')) await guardAgainstDrift(run, round);
    controls.publish(controls.stopping ? 'stopped' : run.budgetLeft() ? 'running' : 'budget_exhausted');
    if (workflowInfo().continueAsNewSuggested && !controls.stopping) {
      log.info('continuing as new', { round });
      await settleOverlap(run);
      await continueAsNew<typeof evolveHarness>({ ...input, rounds: s.budget.rounds, patience: s.budget.patience, resume: s });
    }
  }
  await run.overlap.drain();
  await controls.enter('final');
  return finishRun(run, stopReason);
}

/**
 * One round, run again from its rollout when an activity found an artifact of the round missing or damaged
 * (aegis/recompute.ts): the activity that wrote it runs again, instead of the run failing. After
 * MAX_ROUND_RECOMPUTES more runs the round ends as a no-op naming the artifact. Each recompute is in the audit
 * log. Histories recorded before this (no 'recompute-unavailable-artifacts' marker) replay without it.
 */
async function roundRecomputingArtifacts(run: AegisRun, round: number): Promise<boolean> {
  if (!patched('recompute-unavailable-artifacts')) return aegisRound(run, round);
  // What a round's stages read from the state and change: restored before running it again, so the second
  // run starts where the first did (its spend stays accounted: it was spent).
  const start = { previousDigestRef: run.state.previousDigestRef, ...(run.state.variants ? { variants: run.state.variants } : {}) };
  try {
    for (let redo = 1; ; redo++) {
      try {
        return await aegisRound(run, round);
      } catch (e) {
        const lost = unavailableArtifact(e);
        if (!lost) throw e;
        const giveUp = redo > MAX_ROUND_RECOMPUTES;
        run.redo = 0;
        await run.audit({
          key: `${round}:recompute-${redo}`,
          round,
          stage: run.controls.stage as AuditRecord['stage'],
          kind: 'info',
          harnessId: run.state.incumbentId,
          payload: { artifact: lost.ref, reason: lost.reason, action: giveUp ? 'round ends as a no-op' : 'the round runs again from its rollout, which writes its artifacts again' },
        });
        if (giveUp) return await run.noop(round, `artifact ${lost.ref} was ${lost.reason === 'missing' ? 'not in the store' : 'damaged'} after the round ran ${redo} times`);
        run.controls.lastEvent = `round ${round}: artifact ${lost.ref} ${lost.reason}; running the round again`;
        run.redo = redo;
        Object.assign(run.state, start);
        run.overlap.drop('all');
      }
    }
  } finally {
    run.redo = 0;
  }
}

/** One round; true when a candidate shipped (or forked a variant). Each stage may end the round as a no-op. */
async function aegisRound(run: AegisRun, round: number): Promise<boolean> {
  await run.controls.enter('rollout');
  const focus = await rolloutStage(run, round);
  if ('noop' in focus) return run.noop(round, focus.noop);
  speculateNextBatch(run, round);
  startIncumbentFinal(run, round);
  await run.controls.enter('digest');
  const digest = await digestStage(run, round, focus);
  if ('noop' in digest) return run.noop(round, digest.noop);
  await run.controls.enter('plan');
  const plan = await planStage(run, round, focus, digest);
  if ('noop' in plan) return run.noop(round, plan.noop);
  await run.controls.enter('evolve');
  const evolveStarted = Date.now();
  const evolved = await evolveStage(run, round, focus, digest, plan);
  if ('noop' in evolved) return run.noop(round, evolved.noop);
  // The Evolver's first candidate gated while the Critic ranks, when the meta-agent takes its time (aegis/overlap.ts gateDuringCritique).
  beginGateDuringCritique(run, focus, evolved, Date.now() - evolveStarted);
  await run.controls.enter('critique');
  const shortlist = await critiqueStage(run, round, focus, digest, evolved);
  if ('noop' in shortlist) {
    run.overlap.drop('gate');
    return run.noop(round, shortlist.noop);
  }
  await run.controls.enter('gate');
  return gateStage(run, round, focus, shortlist);
}

import { ApplicationFailure, CancellationScope, patched, workflowInfo } from '@temporalio/workflow';
import { measurementBudgetLeft, spendExhausted, stopReason } from '../../aegis/run-budget';
import { sequentialFirstChunk } from '../../aegis/sequential-gate';
import { EvolveInput, evolveInputSchema, inputProblems, workflowIdProblem } from '../../aegis/run-input';
import { addSpend, initialRunState, measurementSpend, ReportedSpend, RunState } from '../../aegis/run-state';
import type { AuditRecord } from '../../aegis/types';
import { finalTrainTaskIds } from '../../aegis/run-summary';
import { finalFitsSlack, overlapPlan } from '../../aegis/overlap';
import { books, cancellableRollouts, ledger, rollouts } from './activities';
import type { RunControls } from './controls';
import { RunOverlap } from './overlap';

/**
 * Validates the workflow id and input first thing, before any command: invalid input fails the run at once,
 * non-retryably, listing its first problems (capped, free of host paths).
 */
export function parseEvolveInput(rawInput: unknown): EvolveInput {
  const idProblem = workflowIdProblem(workflowInfo().workflowId);
  if (idProblem) throw ApplicationFailure.nonRetryable(`invalid evolveHarness run: ${idProblem}`, 'InvalidInput', { problems: [idProblem] });
  const parsed = evolveInputSchema().safeParse(rawInput ?? {});
  if (!parsed.success) {
    const problems = inputProblems(parsed.error);
    throw ApplicationFailure.nonRetryable(`invalid evolveHarness input:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput', { problems });
  }
  return parsed.data;
}

export type AuditEntry = Omit<AuditRecord, 'ts' | 'runId' | 'evidenceRefs'> & { evidenceRefs?: string[] };

/**
 * What every step of a round works with: the input, the state (one object, mutated in place, which the
 * status query reads and continue-as-new carries), the controls, and the three things every stage does:
 * write an audit record, account the spend of an activity result, check the spend budget.
 */
export class AegisRun {
  constructor(
    readonly input: EvolveInput,
    readonly state: RunState,
    readonly controls: RunControls,
  ) {}

  get workflowId(): string {
    return this.controls.workflowId;
  }

  /**
   * How many times the current round has been run again because an artifact it read was unavailable (see
   * aegis/recompute.ts); 0 on a round's first run. Not carried by continue-as-new: a round never spans two histories.
   */
  redo = 0;

  /** Work started ahead of the stage that needs it (aegis/overlap.ts); none in runs recorded before it. */
  overlap = new RunOverlap();

  /**
   * Appends to the run's audit log (idempotent by key, so a retried append never duplicates). A round run
   * again records under keys of its own ("3:rollout~redo1"), so the records of both runs are kept.
   */
  audit(entry: AuditEntry): Promise<boolean> {
    return ledger.recordAudit({ runId: this.workflowId, evidenceRefs: [], ...entry, ...(this.redo ? { key: `${entry.key}~redo${this.redo}` } : {}) });
  }

  /** Adds an activity result's task-model spend to the run's totals. */
  account(spend: ReportedSpend | undefined): void {
    const total = addSpend(this.state, spend);
    this.state.tokens = total.tokens;
    this.state.costUsd = total.costUsd;
  }

  /** False once maxTokens or maxUsd is reached: evolution work (gating, the guard) is skipped from then on. */
  budgetLeft(): boolean {
    return !spendExhausted(this.input, this.state);
  }

  /**
   * Whether measurement (held-out tracking, the final evaluation) is paid from its own budget. Runs recorded
   * before the split (no 'measurement-budget' marker) paid it from the evolution budget and skipped it once
   * that was gone; they replay that way.
   */
  measurementApart(): boolean {
    return patched('measurement-budget');
  }

  /** Adds a measurement's spend: to the measurement totals, or (in runs recorded before the split) to the evolution totals. */
  accountMeasurement(spend: ReportedSpend | undefined): void {
    if (!this.measurementApart()) return this.account(spend);
    const total = addSpend(measurementSpend(this.state), spend);
    this.state.measurementTokens = total.tokens;
    this.state.measurementUsd = total.costUsd;
  }

  /** Whether a measurement may run now: within maxMeasurementTokens (or, before the split, while evolution budget is left). */
  measurementLeft(): boolean {
    if (!this.measurementApart()) return this.budgetLeft();
    return measurementBudgetLeft(this.input, measurementSpend(this.state).tokens);
  }

  /** Why the run stops before its next round (stop request, spent budget, rounds, patience), or null. */
  stopReason(): string | null {
    return stopReason(this.input, this.state, this.controls.stopping);
  }

  /** Ends the round without a ship, recording why under the current stage. */
  async noop(round: number, reason: string): Promise<false> {
    this.controls.lastEvent = `round ${round}: no-op (${reason})`;
    await this.audit({ key: `${round}:noop`, round, stage: this.controls.stage as AuditRecord['stage'], kind: 'info', harnessId: this.state.incumbentId, payload: { noop: reason } });
    return false;
  }
}

/**
 * Setup: a fresh run prepares its seed harness and task split (prepareRun validates what the schema
 * cannot) and records its input; a run continued as new picks up the state it carried.
 */
export async function openRun(input: EvolveInput, controls: RunControls): Promise<AegisRun> {
  if (!controls.state) {
    const prepared = await books.prepareRun({ benchmark: input.benchmark, model: input.model, metaAgent: input.metaAgent, seedHarness: input.seedHarness, validationSize: input.validationSize, seed: input.seed, maxUsd: input.maxUsd });
    controls.state = initialRunState(controls.workflowId, prepared, input);
    const run = new AegisRun(input, controls.state, controls);
    await run.audit({ key: 'setup', round: 0, stage: 'setup', kind: 'info', harnessId: controls.state.seedHarnessId, payload: { input: { ...input, resume: undefined } } });
    // Runs started before the limits were recorded replay without this activity.
    if (patched('endpoint-limits')) {
      controls.state.endpointLimits = await rollouts.endpointLimitsInForce({ models: [input.model], endpointLimits: input.endpointLimits });
      await run.audit({ key: 'endpoint-limits', round: 0, stage: 'setup', kind: 'info', harnessId: controls.state.seedHarnessId, payload: { endpointLimits: controls.state.endpointLimits, gateFirstChunk: sequentialFirstChunk({ requested: input.gateChunk, limits: controls.state.endpointLimits, model: input.model, episodesPerTask: input.k }) } });
    }
    await startOverlap(run);
    return run;
  }
  const run = new AegisRun(input, controls.state, controls);
  await startOverlap(run);
  return run;
}

/**
 * Which stages overlap in this run (aegis/overlap.ts, from the input and the limits recorded at setup) and,
 * in a fresh run, the seed harness's half of the final evaluation, started now. Runs recorded before it
 * (no 'overlap-stages' marker) replay one stage after another; runs that overlap nothing record no marker.
 */
async function startOverlap(run: AegisRun): Promise<void> {
  const { input, state: s } = run;
  const plan = overlapPlan(input, s.endpointLimits);
  if (!Object.values(plan).some(Boolean) || !patched('overlap-stages')) return;
  run.overlap = new RunOverlap(plan, s);
  // A baseline the previous history ran for a gate that had not come yet (continue-as-new).
  if (s.overlapBaseline) run.overlap.returnBaseline(s.overlapBaseline.harnessId, s.overlapBaseline.spend);
  delete s.overlapBaseline;
  if (s.round === 0) await run.audit({ key: 'overlap', round: 0, stage: 'setup', kind: 'info', harnessId: s.seedHarnessId, payload: { ...plan } });
  if (plan.seedFinalEarly && s.round === 0) startFinalEvaluation(run, s.seedHarnessId);
}

/**
 * A harness's final evaluation (train tasks, test tasks when evaluated), started now (aegis/overlap.ts).
 * A speculative one (a last-round candidate's, the incumbent's) runs at background priority, in its own
 * cancellation scope: dropped, it is cancelled. Runs recorded before 'cancel-dropped-speculation' let it run
 * to its end.
 */
export function startFinalEvaluation(run: AegisRun, harnessId: string, priority?: 'background'): void {
  const { input, state: s } = run;
  run.overlap.startFinal(harnessId, () => {
    const scope = priority && patched('cancel-dropped-speculation') ? new CancellationScope() : null;
    const evaluate = (taskIds: string[]) => {
      const args = { benchmark: input.benchmark, harnessId, taskIds, k: input.k, seed: `${input.seed}|final`, endpointLimits: input.endpointLimits, ...(priority ? { priority } : {}) };
      return scope ? scope.run(() => cancellableRollouts.evaluate(args)) : rollouts.evaluate(args);
    };
    return { train: evaluate(finalTrainTaskIds(s.trainIds, input.finalTrainTasks, input.seed)), test: input.evaluateTest ? evaluate(s.testIds) : null, ...(scope ? { cancel: () => scope.cancel() } : {}) };
  });
}

/**
 * Whether this round's candidates get their final evaluations beside their gates, and the incumbent its own
 * while the meta-agent works (aegis/overlap.ts finalWithLastGate): the run's last round, when they fit the
 * endpoint's slack.
 */
export function finalBesideGate(run: AegisRun, round: number): boolean {
  const { input, state: s } = run;
  if (!run.overlap.plan.finalWithLastGate || round < s.budget.rounds || run.controls.stopping) return false;
  const finalTasks = finalTrainTaskIds(s.trainIds, input.finalTrainTasks, input.seed).length + (input.evaluateTest ? s.testIds.length : 0);
  return finalFitsSlack({ finalEpisodes: finalTasks * input.k, maxInFlight: s.endpointLimits?.find((l) => l.model === input.model)?.limit.maxInFlight });
}

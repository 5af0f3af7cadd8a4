import { condition, defineQuery, defineSignal, defineUpdate, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { applyBudgetChange, BudgetChange, budgetChangeProblem } from '../../aegis/run-budget';
import type { EvolveInput } from '../../aegis/run-input';
import { decisionProblem, PendingApproval, ReviewerDecision, RoundBudget, RunState, RunStatus, runStatus, Stage } from '../../aegis/run-state';
import { bestValidation, currentDetails } from '../../aegis/run-labels';
import { RunStatusValue, SA } from '../../aegis/search-attributes';

/**
 * How operators steer a running evolveHarness: the status query, pause/resume/stop signals, and the
 * setBudget and decide updates. The handlers only record intent here; the run acts on it at its own
 * points (a stage boundary, between rounds, at the approval step), so a stage in flight always completes.
 */
export const statusQuery = defineQuery<RunStatus>('status');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
/** Changes the round budget or patience of a running run; validated before it is accepted. */
export const setBudgetUpdate = defineUpdate<RoundBudget, [BudgetChange]>('setBudget');
/** In approval mode 'human': approve or reject the candidate waiting after the gate. */
export const decideUpdate = defineUpdate<string, [{ candidateId: string; approve: boolean; reason?: string }]>('decide');

/** The run's control state: what the handlers set and the status query reports. */
export class RunControls {
  stage: Stage = 'setup';
  paused = false;
  /** True while the run waits at a stage boundary for a resume: the status shows stage 'paused'. */
  waitingForResume = false;
  stopping = false;
  private event = 'starting';
  /** Undefined until setup has prepared the run (or the run resumed from continue-as-new). */
  state: RunState | undefined;
  pending: PendingApproval | null = null;
  decision: ReviewerDecision | null = null;

  constructor(
    readonly workflowId: string,
    private readonly input: EvolveInput,
  ) {
    this.state = input.resume as RunState | undefined;
  }

  /** What happened last, in words; setting it refreshes the run's current details in the Web UI. */
  get lastEvent(): string {
    return this.event;
  }
  set lastEvent(event: string) {
    this.event = event;
    this.refreshDetails();
  }

  /** Stage boundary: a pause takes effect here, so a stage in flight always completes. */
  async enter(next: Stage): Promise<void> {
    this.waitingForResume = this.paused && !this.stopping;
    if (this.waitingForResume) this.refreshDetails();
    await condition(() => !this.paused || this.stopping);
    this.waitingForResume = false;
    this.stage = next;
    this.refreshDetails();
  }

  /**
   * The workflow's current details (user metadata the Web UI shows on the run's page). Setting them is no
   * command, so it changes nothing a replay compares.
   */
  refreshDetails(): void {
    const st = this.status();
    setCurrentDetails(
      currentDetails({ round: st.round, rounds: st.rounds, stage: st.stage, shipped: st.shipped, rejected: st.rejected, bestValidation: bestValidation(this.state?.heldOut), lastPassRate: st.lastPassRate, tokens: st.tokens, lastEvent: st.lastEvent }),
    );
  }

  /** Keeps the HarnessX* search attributes current (when the input asks for them), so runs can be filtered. */
  publish(status: RunStatusValue): void {
    this.refreshDetails();
    if (!this.input.searchAttributes) return;
    const s = this.state;
    upsertSearchAttributes([
      { key: SA.benchmark, value: this.input.benchmark },
      { key: SA.taskModel, value: this.input.model },
      { key: SA.metaModel, value: this.input.metaAgent },
      { key: SA.status, value: status },
      { key: SA.round, value: s?.round ?? 0 },
      // The best held-out validation pass rate so far (0 until measured): the number status, the summary and the report show.
      { key: SA.bestScore, value: bestValidation(s?.heldOut) ?? 0 },
      ...(s ? [{ key: SA.harnessId, value: s.incumbentId }] : []),
    ]);
  }

  status(): RunStatus {
    return runStatus(this.workflowId, this.input.rounds, this.state, {
      stage: this.stage,
      waitingForResume: this.waitingForResume,
      paused: this.paused,
      stopRequested: this.stopping,
      lastEvent: this.lastEvent,
      pendingApproval: this.pending,
    });
  }
}

/** Registers the query, signal and update handlers; first thing in the workflow, before any await. */
export function installControls(c: RunControls): void {
  setHandler(statusQuery, () => c.status());
  setHandler(pauseSignal, () => {
    c.paused = true;
    c.publish('paused');
  });
  setHandler(resumeSignal, () => {
    c.paused = false;
    c.publish('running');
  });
  setHandler(
    setBudgetUpdate,
    (change) => {
      const s = c.state!;
      s.budget = applyBudgetChange(s.budget, change);
      c.lastEvent = `budget set to ${s.budget.rounds} rounds, patience ${s.budget.patience}`;
      return s.budget;
    },
    {
      validator: (change) => {
        const problem = budgetChangeProblem(c.state?.round, change);
        if (problem) throw new Error(problem);
      },
    },
  );
  setHandler(
    decideUpdate,
    (d) => {
      c.decision = { approve: d.approve, reason: d.reason ?? '' };
      return `${d.approve ? 'approved' : 'rejected'} ${d.candidateId}`;
    },
    {
      validator: (d) => {
        const problem = decisionProblem(c.pending, d);
        if (problem) throw new Error(problem);
      },
    },
  );
  setHandler(stopSignal, () => void (c.stopping = true));
}

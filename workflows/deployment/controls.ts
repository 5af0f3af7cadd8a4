import { condition, defineQuery, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import type { DeploymentInput } from '../../aegis/live/deployment-input';
import { MAX_REASON_CHARS, textFieldProblem } from '../../harness/sandbox/input-bounds';
import {
  currentHarness,
  CurrentHarness,
  DeploymentState,
  DeploymentStatus,
  deploymentStatus,
  Feedback,
  feedbackProblem,
  manualCanaryProblem,
  manualRollback,
  startCanary,
  reportProblem,
  rollbackProblem,
  RunReport,
} from '../../aegis/live/deployment-state';
import type { EpisodeTrace } from '../../harness/trace';
import type { RoundOutcome } from './round-workflow';

/**
 * How agents and operators talk to a deployment. Agents read `current` (the harnesses to serve) and send
 * `report` and `feedback` updates; operators send pause/resume/stop and the `rollback` update and read
 * `deploymentStatus`. Handlers only queue or record; the deployment's loop acts on the queues, so an update
 * returns as soon as it is durably in the history (a report is never lost once accepted).
 */
export const currentQuery = defineQuery<CurrentHarness | { revision: number; unchanged: true }, [number?]>('current');
export const deploymentStatusQuery = defineQuery<DeploymentStatus>('deploymentStatus');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
/** A batch of finished runs: their outcome and, unless the deployment keeps only digests, their trace. */
export type ReportedRun = RunReport & { trace?: EpisodeTrace | null };
export const reportUpdate = defineUpdate<{ queued: number }, [ReportedRun[]]>('report');
export const feedbackUpdate = defineUpdate<{ queued: number }, [Feedback[]]>('feedback');
export const rollbackUpdate = defineUpdate<{ harnessId: string }, [{ reason?: string }]>('rollback');
/** An operator's own candidate straight to the canary (`harnessx deploy canary`); the sequential test decides it. */
export const canaryUpdate = defineUpdate<{ harnessId: string; share: number }, [{ harnessId: string; config: Record<string, unknown>; reason?: string }]>('canary');
export const decideUpdate = defineUpdate<string, [{ harnessId: string; approve: boolean; reason?: string }]>('decide');

/** Most reports one update may carry: a bounded batch keeps each history event small. */
export const MAX_REPORTS_PER_UPDATE = 200;

export class DeploymentControls {
  paused = false;
  stopping = false;
  /** Reports and feedback accepted by the handlers and not yet applied by the loop. */
  inbox: ReportedRun[] = [];
  feedbackInbox: Feedback[] = [];
  /** Manual rollbacks done by the handler, for the loop to audit. */
  rollbacks: Array<{ harnessId: string; reason: string; at: number }> = [];
  /** Operators' candidates put out as canaries by the handler, for the loop to audit. */
  manualCanaries: Array<{ harnessId: string; reason: string }> = [];
  /** About to continue as new: reports are refused (agents send them again to the next run) while the inbox is applied. */
  closedForReports = false;
  /** A live round is running beside the loop (status shows it; a paced workload waits for it). */
  roundRunning = false;
  /** The live round working as a child workflow (rounds of deployments started before that run in-workflow), and its outcome once heard. */
  liveRound: { workflowId: string; round: number; base: string; done?: RoundOutcome; handleHeld?: boolean } | null = null;
  pendingApproval: { harnessId: string; round: number } | null = null;
  decision: { approve: boolean; reason: string } | null = null;
  state!: DeploymentState;

  constructor(readonly input: DeploymentInput) {}

  /** Something for the loop to do. */
  hasWork(): boolean {
    return this.inbox.length > 0 || this.feedbackInbox.length > 0 || this.rollbacks.length > 0 || this.manualCanaries.length > 0 || this.stopping || !!this.liveRound?.done;
  }
}

export function installDeploymentControls(c: DeploymentControls): void {
  setHandler(currentQuery, (known?: number) => {
    if (!c.state) throw new Error(`deployment ${c.input.name} is still setting up`);
    if (known !== undefined && c.state && known === c.state.revision) return { revision: known, unchanged: true as const };
    return currentHarness(c.state, c.input, c.paused);
  });
  setHandler(deploymentStatusQuery, () => {
    if (!c.state) throw new Error(`deployment ${c.input.name} is still setting up`);
    return deploymentStatus(c.state, c.input, c, Date.now());
  });
  setHandler(pauseSignal, () => void (c.paused = true));
  setHandler(resumeSignal, () => void (c.paused = false));
  setHandler(stopSignal, () => void (c.stopping = true));
  setHandler(
    reportUpdate,
    (reports) => {
      // With keepOnlyDigests the trace is dropped before it reaches the loop, so it is never stored.
      c.inbox.push(...reports.map((r) => (c.input.keepOnlyDigests ? { ...r, trace: null } : r)));
      return { queued: reports.length };
    },
    {
      validator: (reports) => {
        if (!Array.isArray(reports)) throw new Error('report: expected an array of run reports');
        if (reports.length > MAX_REPORTS_PER_UPDATE) throw new Error(`report: at most ${MAX_REPORTS_PER_UPDATE} runs per update, got ${reports.length}`);
        if (c.stopping) throw new Error(`deployment ${c.input.name} is stopping`);
        if (c.closedForReports) throw new Error(`deployment ${c.input.name} is moving to a new history; send the reports again in a moment`);
        for (const [i, r] of reports.entries()) {
          const problem = reportProblem(r, i);
          if (problem) throw new Error(problem);
        }
      },
    },
  );
  setHandler(
    feedbackUpdate,
    (items) => {
      c.feedbackInbox.push(...items);
      return { queued: items.length };
    },
    {
      validator: (items) => {
        if (!Array.isArray(items)) throw new Error('feedback: expected an array of { runId, score, note? }');
        for (const f of items) {
          const problem = feedbackProblem(f);
          if (problem) throw new Error(problem);
        }
      },
    },
  );
  setHandler(
    rollbackUpdate,
    ({ reason }): { harnessId: string } => {
      const text = reason?.trim() || 'rolled back by an operator';
      const done = manualRollback(c.state, Date.now(), text);
      if ('problem' in done) throw new Error(done.problem);
      c.rollbacks.push({ harnessId: done.harnessId, reason: text, at: Date.now() });
      return { harnessId: done.harnessId };
    },
    {
      validator: (request) => {
        if (!c.state) throw new Error('the deployment is still setting up');
        const long = textFieldProblem('reason', request?.reason, MAX_REASON_CHARS);
        if (long) throw new Error(long);
        const problem = rollbackProblem(c.state);
        if (problem) throw new Error(problem);
      },
    },
  );
  setHandler(
    canaryUpdate,
    (request) => {
      startCanary(c.state, { harnessId: request.harnessId, config: request.config }, c.state.round, c.input.canary.share, Date.now(), { offlineChecked: false });
      c.manualCanaries.push({ harnessId: request.harnessId, reason: request.reason?.trim() || 'an operator\'s candidate' });
      return { harnessId: request.harnessId, share: c.input.canary.share };
    },
    {
      validator: (request) => {
        if (c.stopping) throw new Error(`deployment ${c.input.name} is stopping`);
        const problem = manualCanaryProblem(c.state, request);
        if (problem) throw new Error(problem);
      },
    },
  );
}

/** Waits until there is work or `timeoutMs` passed (windows by time, canaries by time need a clock tick). */
export function nextWork(c: DeploymentControls, timeoutMs: number): Promise<boolean> {
  return condition(() => c.hasWork(), timeoutMs);
}

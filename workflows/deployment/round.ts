import { condition, getExternalWorkflowHandle, ParentClosePolicy, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import { CanaryRules } from '../../aegis/live/canary';
import { accountSpend, LiveRun, startCanary } from '../../aegis/live/deployment-state';
import { MAX_REASON_CHARS, textFieldProblem } from '../../harness/sandbox/input-bounds';
import { ledger } from './activities';
import { decideUpdate, type DeploymentControls } from './controls';
import { deploymentRound, roundCheckSignal, roundDecisionSignal, RoundNews, roundNewsSignal } from './round-workflow';
import { canaryAudit, canaryBlockedReason, noopAudit, PassedCandidate, RoundHost, runRound } from './round-stages';

/**
 * The round inside the deployment's own workflow, as deployments that started before rounds became child
 * workflows run it (their histories replay this path; new rounds run in workflows/deployment/round-workflow.ts).
 */
export function liveRound(d: DeploymentControls, windowRuns: LiveRun[]): Promise<void> {
  const { input, state: s } = d;
  const round = ++s.round;
  s.counts.rounds++;
  const base = s.championId;
  const audit: RoundHost['audit'] = (entry) => ledger.recordAudit({ runId: workflowInfo().workflowId, round, evidenceRefs: [], ...entry });
  return runRound(
    {
      input,
      round,
      base,
      memory: s,
      audit,
      spend: (x) => accountSpend(s, x, Date.now()),
      noop: (reason) => endWithoutChange(s, round, base, reason, audit),
      approved: (harnessId) => approved(d, harnessId, round),
      canaryBlocked: (c) => canaryBlockedReason(s.canary, c),
      startCanary: (c) => (startCanary(s, { harnessId: c.harnessId, config: c.config }, round, input.canary.share, Date.now()), true),
    },
    windowRuns,
  );
}

/**
 * The deployment side of a passed candidate: an operator's canary (deploy canary) that went out while the
 * round worked keeps the traffic's slice; otherwise the candidate goes out and its canary is audited.
 */
export async function putOutCanary(d: DeploymentControls, round: number, base: string, c: PassedCandidate, audit: RoundHost['audit']): Promise<void> {
  const s = d.state;
  const reason = canaryBlockedReason(s.canary, c);
  if (reason) return endWithoutChange(s, round, base, reason, audit);
  startCanary(s, { harnessId: c.harnessId, config: c.config }, round, d.input.canary.share, Date.now());
  await audit(canaryAudit(round, base, d.input.canary.share, c));
}

/** The round ends with no change: said in the status and audited. */
async function endWithoutChange(s: DeploymentControls['state'], round: number, base: string, reason: string, audit: RoundHost['audit']): Promise<void> {
  s.lastEvent = `round ${round}: no change (${reason})`;
  await audit(noopAudit(round, base, reason));
}

/** Approval mode 'human': the candidate waits for the decide update (a stop rejects it). */
async function approved(d: DeploymentControls, harnessId: string, round: number): Promise<boolean> {
  d.pendingApproval = { harnessId, round };
  d.decision = null;
  d.state.lastEvent = `round ${round}: ${harnessId} passed the offline check and awaits approval`;
  await condition(() => d.decision !== null || d.stopping);
  // The decide update's handler sets the decision while this waits.
  const ok = (d.decision as { approve: boolean } | null)?.approve ?? false;
  d.pendingApproval = null;
  return ok;
}

/** The canary rules from the input; after maxHours the run cap is the runs seen, so the cap rule decides now. */
export function canaryRules(d: DeploymentControls, now: number): CanaryRules {
  const { canary } = d.input;
  const c = d.state.canary!;
  const overTime = canary.maxHours !== undefined && now - c.startedAt >= canary.maxHours * 3_600_000;
  // The relative margin holds a candidate no offline check vouched for (an operator's) to the champion's own level.
  return { ...canary, relativeMargin: c.offlineChecked === false ? canary.relativeMargin : undefined, maxRuns: overTime ? Math.max(1, Math.min(canary.maxRuns, c.runs.length)) : canary.maxRuns, minRuns: overTime ? Math.min(canary.minRuns, Math.max(1, c.runs.length)) : canary.minRuns };
}

/** The deployment starts the round for a closed window as a child it does not wait for; it hears back by roundNews. */
export async function startRoundChild(d: DeploymentControls, windowRuns: readonly LiveRun[]): Promise<void> {
  const s = d.state;
  const round = ++s.round;
  s.counts.rounds++;
  const info = workflowInfo();
  const deploymentId = info.workflowId;
  // Unique across the deployment's whole chain of runs and across a later deployment of the same name.
  const workflowId = `${deploymentId}-round-${round}-${info.firstExecutionRunId.slice(0, 8)}`;
  d.liveRound = { workflowId, round, base: s.championId };
  d.roundRunning = true;
  const { resume: _resume, ...input } = d.input;
  const failed = (e: unknown) => {
    if (d.liveRound?.workflowId === workflowId && !d.liveRound.done) d.liveRound.done = { memory: null, failed: (e as Error)?.message ?? String(e) };
  };
  try {
    const child = await startChild(deploymentRound, {
      workflowId,
      args: [{ deploymentId, input, round, base: s.championId, memory: { tried: s.tried, reputation: s.reputation, previousDigestRef: s.previousDigestRef, regressionSet: s.regressionSet }, windowRuns: windowRuns.map(({ taskId, harnessId, traceRef, score, source }) => ({ taskId, harnessId, traceRef, score, source })) }],
      // The deployment continues as new while the round works: the round must outlive the run that started it.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    // While this run lasts it also hears the round's end from its result (the news signal is for the runs
    // that continue as new); a round that fails or is terminated ends here too.
    if (d.liveRound?.workflowId === workflowId) d.liveRound.handleHeld = true;
    child.result().then((outcome) => {
      if (d.liveRound?.workflowId === workflowId && !d.liveRound.done) d.liveRound.done = outcome;
    }, failed);
  } catch (e) {
    failed(e);
  }
}

/** The round's news, as the deployment's signal handler takes them (news of another round are stale and ignored). */
export function takeRoundNews(d: DeploymentControls, news: RoundNews, accountSpend: (x: { tokens: number; costUsd: number | null }) => void): void {
  const r = d.liveRound;
  if (!r || news.round !== r.round || (news.workflowId !== undefined && news.workflowId !== r.workflowId) || r.done) return;
  if (news.spend) accountSpend(news.spend);
  if (news.lastEvent) d.state.lastEvent = news.lastEvent;
  if (news.awaitingApproval) d.pendingApproval = { harnessId: news.awaitingApproval, round: r.round };
  if (news.done) r.done = news.done;
}

/**
 * An operator's decision on the candidate awaiting approval, passed on to the round that waits for it. The
 * candidate stops waiting at once (a second decision is refused); a round that is gone has ended, failed.
 */
export async function forwardDecision(d: DeploymentControls, decision: { approve: boolean; reason: string }): Promise<void> {
  const r = d.liveRound;
  const waiting = d.pendingApproval;
  if (!r || !waiting) return;
  d.pendingApproval = null;
  try {
    await getExternalWorkflowHandle(r.workflowId).signal(roundDecisionSignal, { harnessId: waiting.harnessId, ...decision });
  } catch (e) {
    roundGone(r, e);
  }
}

/**
 * Whether the round still runs, for a run of the deployment that has no handle on it (it continued as new
 * since): a signal to a closed workflow fails. A round terminated by an operator, or whose last news never
 * arrived, then ends as failed instead of holding rounds (and a stop) back for good.
 */
export async function checkRound(d: DeploymentControls): Promise<void> {
  const r = d.liveRound;
  if (!r || r.done || r.handleHeld) return;
  try {
    await getExternalWorkflowHandle(r.workflowId).signal(roundCheckSignal);
  } catch (e) {
    roundGone(r, e);
  }
}

function roundGone(r: NonNullable<DeploymentControls['liveRound']>, e: unknown): void {
  if (!r.done) r.done = { memory: null, failed: `round workflow ${r.workflowId} ended without telling the deployment (${(e as Error)?.message ?? String(e)})` };
}

/**
 * The live round's news and the operator's decision on its candidate. Installed once the deployment knows
 * its round (after a continue-as-new, from the carried state): news and decisions that arrived before this
 * run's first task wait for the handlers, and would otherwise be taken for another round's or refused.
 */
export function installRoundControls(c: DeploymentControls): void {
  setHandler(roundNewsSignal, (news) => takeRoundNews(c, news, (x) => accountSpend(c.state, x, Date.now())));
  setHandler(
    decideUpdate,
    (d) => {
      const said = `${d.approve ? 'approved' : 'rejected'} ${d.harnessId}`;
      // A round working as a child workflow waits for the decision there.
      if (c.liveRound) return forwardDecision(c, { approve: d.approve, reason: d.reason ?? '' }).then(() => said);
      c.decision = { approve: d.approve, reason: d.reason ?? '' };
      return said;
    },
    {
      validator: (d) => {
        if (!c.pendingApproval) throw new Error('no candidate is waiting for approval');
        if (d.harnessId !== c.pendingApproval.harnessId) throw new Error(`the candidate waiting is ${c.pendingApproval.harnessId}, not ${d.harnessId}`);
        const long = textFieldProblem('reason', d.reason, MAX_REASON_CHARS);
        if (long) throw new Error(long);
      },
    },
  );
}

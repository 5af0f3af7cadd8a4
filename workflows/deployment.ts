import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import { canaryDecision } from '../aegis/live/canary';
import { DeploymentInput, deploymentInputSchema } from '../aegis/live/deployment-input';
import { acceptReports, applyFeedback, closeWindow, DeploymentState, DeploymentStatus, deploymentStatus, endCanary, initialDeploymentState, roundBlocked, windowFull } from '../aegis/live/deployment-state';
import { inputProblems, workflowIdProblem } from '../aegis/run-input';
import type { AuditRecord } from '../aegis/types';
import { books, ledger, live } from './deployment/activities';
import { DeploymentControls, installDeploymentControls, nextWork, ReportedRun } from './deployment/controls';
import { canaryRules, checkRound, forwardDecision, installRoundControls, liveRound, putOutCanary, startRoundChild } from './deployment/round';

export type { CurrentHarness, DeploymentState, DeploymentStatus, Feedback, RunReport } from '../aegis/live/deployment-state';
export { currentQuery, decideUpdate as deployDecideUpdate, deploymentStatusQuery, feedbackUpdate, reportUpdate, rollbackUpdate, MAX_REPORTS_PER_UPDATE } from './deployment/controls';
export type { ReportedRun } from './deployment/controls';
export { deploymentRound } from './deployment/round-workflow';

/** Reports applied before the deployment continues as new, besides Temporal's own suggestion (history size). */
const REPORTS_PER_HISTORY = 2000;
/** A patch: the deployment stops taking reports and applies its inbox before continuing as new, and applying yields to it. */
const YIELD_TO_CONTINUE_AS_NEW = 'deployment-yields-to-continue-as-new';
/** How often the loop wakes without work, so windows and canaries bounded by time close on time. */
const TICK_MS = 60_000;

/**
 * A deployed harness, live for weeks: it serves agents the champion (and a canary to its share of run keys)
 * through the `current` query, takes their run reports and feedback, closes a window every `window.runs`
 * runs and then starts a live AEGIS round (a child workflow, workflows/deployment/round-workflow.ts) that may
 * put a candidate out as a canary; after each batch of reports the sequential test decides the canary
 * (promote, roll back, or pull). Only this workflow changes the champion. Evolution stops when the day's
 * budget is spent; serving never does. It continues as new before its history grows large, also while a
 * round works, carrying its state, unapplied reports and the round it waits to hear from.
 */
export async function deployHarness(rawInput: unknown): Promise<DeploymentStatus> {
  const input = parseDeploymentInput(rawInput);
  const d = new DeploymentControls(input);
  installDeploymentControls(d);
  const resume = input.resume as
    | { state: DeploymentState; inbox: ReportedRun[]; feedback: DeploymentControls['feedbackInbox']; paused: boolean; liveRound?: DeploymentControls['liveRound']; pendingApproval?: DeploymentControls['pendingApproval'] }
    | undefined;
  if (resume) {
    d.state = resume.state;
    d.inbox.unshift(...resume.inbox);
    d.feedbackInbox.unshift(...resume.feedback);
    d.paused = resume.paused;
    // A round still working as a child workflow: this run hears its news and end.
    d.liveRound = resume.liveRound ? { ...resume.liveRound, handleHeld: false } : null;
    d.roundRunning = !!d.liveRound;
    d.pendingApproval = resume.pendingApproval ?? null;
  } else d.state = await setUp(input);
  installRoundControls(d);
  let applied = 0;
  const pendingAudits: Promise<boolean>[] = [];
  const closeFullWindow = (d: DeploymentControls, now: number) => {
    if (!windowFull(d.state, input, now)) return;
    const { summary, runs } = closeWindow(d.state, now);
    pendingAudits.push(audit(d, { key: `window:${summary.index}`, round: d.state.round, stage: 'rollout', kind: 'info', harnessId: summary.harnessId, payload: { live: true, window: summary } }));
    const blocked = d.paused ? 'paused' : d.roundRunning ? 'a round is still running' : roundBlocked(d.state, input, now);
    if (blocked) d.state.lastEvent = `window ${summary.index} closed; no round (${blocked})`;
    // A child workflow: the deployment continues as new while it works (its history does not wait for the round).
    else if (patched('live-round-child-workflow')) pendingAudits.push(startRoundChild(d, runs).then(() => true));
    // The round runs beside the loop, so reports keep being applied while the meta-agent and the gate work.
    else {
      d.roundRunning = true;
      round = liveRound(d, runs)
        // A round that fails (an activity out of retries) ends as a no-op; the deployment goes on serving.
        .catch(async (e: unknown) => {
          d.state.lastEvent = `round ${d.state.round} failed: ${(e as Error)?.message ?? String(e)}`;
          await audit(d, { key: `${d.state.round}:failed`, round: d.state.round, stage: 'round_end', kind: 'info', harnessId: d.state.championId, payload: { failed: d.state.lastEvent } });
        })
        .finally(() => {
          round = null;
          d.roundRunning = false;
        });
    }
  };
  let round: Promise<void> | null = null;
  for (;;) {
    // A minute without work: a round this run has no handle on is checked (it may have been terminated).
    if (!(await nextWork(d, TICK_MS)) && d.liveRound) await checkRound(d);
    applied += await applyInbox(d, (now) => closeFullWindow(d, now));
    await auditRollbacks(d);
    await auditManualCanaries(d);
    // (Only when there is something: an extra await here would reorder deployments that started before.)
    if (d.liveRound?.done) await roundEnded(d);
    await decideCanary(d);
    closeFullWindow(d, Date.now());
    await Promise.all(pendingAudits.splice(0));
    if (d.stopping && !d.inbox.length && !d.feedbackInbox.length) break;
    if ((workflowInfo().continueAsNewSuggested || applied >= REPORTS_PER_HISTORY) && !round) {
      // New reports wait in the agents' queues (they retry) while the queued ones are applied: the next run
      // starts with an empty inbox, since queued traces could make its input pass Temporal's 2 MB limit.
      if (patched(YIELD_TO_CONTINUE_AS_NEW)) {
        d.closedForReports = true;
        if (d.inbox.length) continue;
      }
      await condition(allHandlersFinished);
      const { state, inbox, feedbackInbox: feedback, paused, liveRound, pendingApproval } = d;
      await continueAsNew<typeof deployHarness>({ ...input, resume: { state, inbox, feedback, paused, ...(liveRound ? { liveRound, pendingApproval } : {}) } });
    }
  }
  if (round) await round;
  // A stopping deployment waits for its round; a candidate awaiting approval is rejected.
  while (d.liveRound) {
    if (d.pendingApproval) await forwardDecision(d, { approve: false, reason: 'the deployment is stopping' });
    if (!(await condition(() => !!d.liveRound?.done || !!d.pendingApproval, TICK_MS))) await checkRound(d);
    await roundEnded(d);
  }
  await condition(allHandlersFinished);
  await audit(d, { key: `stop:${d.state.counts.reports}`, round: d.state.round, stage: 'final', kind: 'info', harnessId: d.state.championId, payload: { stopped: true, counts: d.state.counts, spend: { total: d.state.totalSpend } } });
  return deploymentStatus(d.state, input, d, Date.now());
}

/** The input checked first thing: an invalid one fails the deployment at once, non-retryably, listing its problems. */
function parseDeploymentInput(raw: unknown): DeploymentInput {
  const idProblem = workflowIdProblem(workflowInfo().workflowId);
  if (idProblem) throw ApplicationFailure.nonRetryable(`invalid deployHarness run: ${idProblem}`, 'InvalidInput', { problems: [idProblem] });
  const parsed = deploymentInputSchema().safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = inputProblems(parsed.error);
    throw ApplicationFailure.nonRetryable(`invalid deployHarness input:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput', { problems });
  }
  return parsed.data;
}

/** The seed harness checked and stored as evolveHarness's setup does it; its config is what agents serve first. */
async function setUp(input: DeploymentInput): Promise<DeploymentState> {
  const prepared = await books.prepareRun({ benchmark: input.benchmark, model: input.model, metaAgent: input.metaAgent, seedHarness: input.seedHarness, validationSize: 0, seed: input.seed });
  const configs = await live.harnessConfigs({ harnessIds: [prepared.seedHarnessId] });
  const state = initialDeploymentState(input.name, { harnessId: prepared.seedHarnessId, config: configs[prepared.seedHarnessId] as unknown as Record<string, unknown> }, Date.now());
  await ledger.recordAudit({ runId: workflowInfo().workflowId, key: 'setup', round: 0, stage: 'setup', kind: 'info', harnessId: state.championId, evidenceRefs: [], payload: { deployment: true, input: { ...input, resume: undefined } } });
  return state;
}

/** Queued reports: traces to the store (only refs stay in the state), then into the window; then queued feedback. */
async function applyInbox(d: DeploymentControls, windowCheck: (now: number) => void): Promise<number> {
  let applied = 0;
  while (d.inbox.length) {
    // Under a stream of reports faster than this loop applies them, the inbox never empties: the loop
    // yields to continue-as-new instead of growing one history toward Temporal's 50 MB limit.
    // Not while a round runs inside this workflow (deployments that started before child rounds): it cannot
    // continue as new then, and an inbox left full would spin the loop.
    const inWorkflowRound = d.roundRunning && !d.liveRound;
    if (!d.closedForReports && !inWorkflowRound && workflowInfo().continueAsNewSuggested && patched(YIELD_TO_CONTINUE_AS_NEW)) break;
    // A window holds exactly window.runs runs: a batch never crosses its end, and a full window closes before the next batch.
    let size = Math.max(1, Math.min(200, d.input.window.runs - d.state.window.runs.length));
    // With a canary deciding, a batch never carries it past its run cap: the cap decides at exactly maxRuns canary runs.
    if (d.state.canary && patched('canary-cap-exact')) size = Math.max(1, Math.min(size, d.input.canary.maxRuns - d.state.canary.runs.length));
    // And at most ~400 KiB of traces, so the activity's input stays far below Temporal's 2 MiB payload limit
    // (updates bring 400 KiB each; several queued updates must not become one oversized activity input).
    if (patched('live-trace-batch-bytes')) size = Math.min(size, withinBytes(d.inbox, size, TRACE_BATCH_BYTES));
    const batch = d.inbox.slice(0, size);
    const refs = await live.storeLiveTraces({ traces: batch.map((r) => r.trace ?? null) });
    const reports = batch.map(({ trace: _trace, ...r }, i) => (refs[i] ? { ...r, traceRef: refs[i]! } : r));
    acceptReports(d.state, reports, d.input);
    // Removed only once applied: a continue-as-new or a failure before this point keeps them queued.
    d.inbox.splice(0, batch.length);
    applied += batch.length;
    await decideCanary(d);
    windowCheck(Date.now());
  }
  for (const f of d.feedbackInbox.splice(0)) {
    const outcome = applyFeedback(d.state, f, d.input);
    if (outcome === 'late') await audit(d, { key: `feedback:${f.runId}:${d.state.counts.feedback}`, round: d.state.round, stage: 'rollout', kind: 'info', payload: { lateFeedback: f } });
  }
  return applied;
}

const TRACE_BATCH_BYTES = 400 * 1024;

/** How many of the first `max` queued reports fit in `bytes` of trace JSON (at least one). */
function withinBytes(inbox: readonly ReportedRun[], max: number, bytes: number): number {
  let total = 0;
  for (let i = 0; i < Math.min(max, inbox.length); i++) {
    total += inbox[i].trace ? JSON.stringify(inbox[i].trace).length : 0;
    if (total > bytes) return Math.max(1, i);
  }
  return max;
}

/** A child round's end, heard: its memory back into the state, its candidate out as the canary (or its failure said). */
async function roundEnded(d: DeploymentControls): Promise<void> {
  const r = d.liveRound;
  if (!r?.done) return;
  const { round, base, done } = r;
  d.liveRound = null;
  d.roundRunning = false;
  d.pendingApproval = null;
  if (done.memory) Object.assign(d.state, done.memory);
  if (done.failed !== undefined) {
    d.state.lastEvent = `round ${round} failed: ${done.failed}`;
    await audit(d, { key: `${round}:failed`, round, stage: 'round_end', kind: 'info', harnessId: d.state.championId, payload: { failed: d.state.lastEvent } });
  } else if (done.canary) await putOutCanary(d, round, base, done.canary, (entry) => audit(d, { round, ...entry }));
}

async function auditRollbacks(d: DeploymentControls): Promise<void> {
  for (const r of d.rollbacks.splice(0)) {
    d.state.lastEvent = `manual rollback: now serving ${r.harnessId} (${r.reason})`;
    await audit(d, { key: `rollback:${d.state.revision}`, round: d.state.round, stage: 'ship', kind: 'rollback', harnessId: r.harnessId, payload: { manual: true, to: r.harnessId, reason: r.reason } });
  }
}

/** An operator's candidate went out as the canary (the update's handler started it): recorded with its reason. */
async function auditManualCanaries(d: DeploymentControls): Promise<void> {
  for (const m of d.manualCanaries.splice(0)) {
    await audit(d, { key: `manual-canary:${d.state.revision}:${m.harnessId}`, round: d.state.round, stage: 'ship', kind: 'info', harnessId: m.harnessId, payload: { canary: true, manual: true, from: d.state.championId, to: m.harnessId, share: d.input.canary.share, reason: m.reason } });
  }
}

/** The canary's sequential test on the outcomes so far; a decision is applied and audited with its evidence. */
async function decideCanary(d: DeploymentControls): Promise<void> {
  const c = d.state.canary;
  if (!c) return;
  const decision = canaryDecision(c.runs, c.championRuns, canaryRules(d, Date.now()));
  if (decision.decision === 'continue') return;
  const { harnessId, round } = c;
  endCanary(d.state, decision, Date.now());
  await audit(d, {
    key: `${round}:canary-end:${harnessId}`,
    round,
    stage: 'ship',
    kind: decision.decision === 'promote' ? 'commit' : 'rollback',
    harnessId,
    payload: { live: true, decision: decision.decision, pulled: decision.pulled, reason: decision.reason, evidence: decision.evidence, champion: d.state.championId },
  });
}

/** Appends to the deployment's audit log (idempotent by key: a retried append never duplicates). */
function audit(_d: DeploymentControls, entry: Omit<AuditRecord, 'ts' | 'runId' | 'evidenceRefs'> & { evidenceRefs?: string[] }): Promise<boolean> {
  return ledger.recordAudit({ runId: workflowInfo().workflowId, evidenceRefs: [], ...entry });
}

import { MAX_REASON_CHARS, MAX_REPORTED_ID_CHARS, textFieldProblem } from '../../harness/sandbox/input-bounds';
import type { EpisodeEndReason } from '../../harness/types';
import type { TriedEdit } from '../meta-agent';
import { assignsToCanary, CanaryDecision, CanaryRun } from './canary';
import type { DeploymentInput } from './deployment-input';
import { ExecutionSignals, executionScore, OutcomeSource, passes, resolveOutcome, TRUST, weightedRate, WeightedRate } from './outcomes';

/**
 * A deployment's state, as its workflow keeps it and continue-as-new carries it: the champion, any canary,
 * the current window's runs, closed windows, the regression set, spend per day, the version history and
 * counters. Pure reducers over it, so every decision is unit-tested without Temporal and depends only on
 * the reports' content (never on wall time or arrival order beyond the window they land in).
 */

/** What an agent reports after a run (batched). Traces travel separately (traceRef) or not at all (keepOnlyDigests). */
export interface RunReport {
  /** Unique per run; a report sent twice (a retried batch) counts once. */
  runId: string;
  /** The assignment key (user, conversation); defaults to runId on the agent. */
  runKey: string;
  /** The harness that ran the run's last step. */
  harnessId: string;
  /** Every harness that ran a step, in order, when the run adopted a newer one mid-task. */
  harnessIds?: string[];
  taskId: string;
  endReason: EpisodeEndReason | 'crashed';
  steps: number;
  signals?: ExecutionSignals;
  /** The suite's verifier score where the product could check the task (state-reading verifiers on live runs). */
  verifier?: number | null;
  /** The judge model's score, where the harness has a judge and the deployment a rubric. */
  judge?: number | null;
  /** The run threw in the product (a model or tool failure): counted as failed, scored 0. */
  failed?: string;
  /** Where the workflow stored the trace; set by the workflow, not the agent. */
  traceRef?: string;
}

export interface Feedback {
  runId: string;
  score: number;
  note?: string;
}

/** One run as the deployment keeps it while its window or canary is open. */
export interface LiveRun {
  runId: string;
  runKey: string;
  harnessId: string;
  taskId: string;
  score: number;
  weight: number;
  source: OutcomeSource;
  failed: boolean;
  midTaskSwap: boolean;
  traceRef?: string;
  /** Which outcome sources were known, so later feedback can outrank an execution signal. */
  known: Partial<Record<OutcomeSource, number>>;
}

export interface WindowSummary {
  index: number;
  runs: number;
  passRate: number | null;
  low: number | null;
  high: number | null;
  /** The champion when the window closed. */
  harnessId: string;
  bySource: Partial<Record<OutcomeSource, number>>;
  startedAt: number;
  endedAt: number;
}

export interface CanaryState {
  harnessId: string;
  config: Record<string, unknown>;
  round: number;
  share: number;
  startedAt: number;
  runs: CanaryRun[];
  championRuns: CanaryRun[];
  /** False for an operator's candidate (deploy canary), which skipped the offline check; absent means checked. */
  offlineChecked?: boolean;
}

export type VersionStatus = 'seed' | 'canary' | 'champion' | 'retired' | 'rolled_back' | 'pulled';
export interface Version {
  harnessId: string;
  parentId: string | null;
  round: number;
  status: VersionStatus;
  at: number;
  reason?: string;
  /** A canary's runs when it was decided (its evidence's size). */
  canaryRuns?: number;
}

export interface DeploymentCounts {
  reports: number;
  duplicates: number;
  productRunsFailed: number;
  feedback: number;
  lateFeedback: number;
  swaps: number;
  midTaskSwaps: number;
  promotions: number;
  rollbacks: number;
  pulls: number;
  rounds: number;
}

export interface DeploymentState {
  name: string;
  seedHarnessId: string;
  championId: string;
  championConfig: Record<string, unknown>;
  /** Configs of the seed and earlier champions (the last few), so a rollback can serve them again at once. */
  keptConfigs: Record<string, Record<string, unknown>>;
  canary: CanaryState | null;
  /** Bumped at each change of champion or canary: agents compare it to know their harness is current. */
  revision: number;
  window: { index: number; startedAt: number; runs: LiveRun[] };
  windows: WindowSummary[];
  regressionSet: string[];
  spend: { day: string; tokens: number; usd: number };
  totalSpend: { tokens: number; usd: number };
  versions: Version[];
  counts: DeploymentCounts;
  /** The most recent run ids, to drop duplicates of a retried batch (bounded). */
  recentRunIds: string[];
  round: number;
  /** The meta-agent's memory across rounds, as in evolveHarness. */
  tried: TriedEdit[];
  reputation: Record<string, number>;
  previousDigestRef: string | null;
  lastEvent: string;
}

const RECENT_IDS = 5000;
export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function initialDeploymentState(name: string, seed: { harnessId: string; config: Record<string, unknown> }, now: number): DeploymentState {
  return {
    name,
    seedHarnessId: seed.harnessId,
    championId: seed.harnessId,
    championConfig: seed.config,
    keptConfigs: { [seed.harnessId]: seed.config },
    canary: null,
    revision: 1,
    window: { index: 1, startedAt: now, runs: [] },
    windows: [],
    regressionSet: [],
    spend: { day: dayOf(now), tokens: 0, usd: 0 },
    totalSpend: { tokens: 0, usd: 0 },
    versions: [{ harnessId: seed.harnessId, parentId: null, round: 0, status: 'seed', at: now }],
    counts: { reports: 0, duplicates: 0, productRunsFailed: 0, feedback: 0, lateFeedback: 0, swaps: 0, midTaskSwaps: 0, promotions: 0, rollbacks: 0, pulls: 0, rounds: 0 },
    recentRunIds: [],
    round: 0,
    tried: [],
    reputation: {},
    previousDigestRef: null,
    lastEvent: 'serving the seed harness',
  };
}

/** Why a report cannot be accepted (its field and what was expected), or null. */
export function reportProblem(r: unknown, i: number): string | null {
  const at = `reports[${i}]`;
  if (!r || typeof r !== 'object') return `${at}: expected an object`;
  const o = r as Record<string, unknown>;
  for (const f of ['runId', 'runKey', 'harnessId', 'taskId'] as const) {
    if (typeof o[f] !== 'string' || !(o[f] as string)) return `${at}.${f}: expected a non-empty string`;
    const long = textFieldProblem(`${at}.${f}`, o[f], MAX_REPORTED_ID_CHARS);
    if (long) return long;
  }
  if (typeof o.steps !== 'number' || !Number.isInteger(o.steps) || o.steps < 0) return `${at}.steps: expected a whole number ≥ 0`;
  for (const f of ['verifier', 'judge'] as const) if (o[f] != null && (typeof o[f] !== 'number' || (o[f] as number) < 0 || (o[f] as number) > 1)) return `${at}.${f}: expected a score in [0, 1]`;
  return null;
}

export function feedbackProblem(f: unknown): string | null {
  if (!f || typeof f !== 'object') return 'feedback: expected an object { runId, score, note? }';
  const o = f as Record<string, unknown>;
  if (typeof o.runId !== 'string' || !o.runId) return 'feedback.runId: expected a non-empty string';
  if (typeof o.score !== 'number' || !(o.score >= 0 && o.score <= 1)) return 'feedback.score: expected a number in [0, 1]';
  if (o.note !== undefined && typeof o.note !== 'string') return 'feedback.note: expected a string';
  return textFieldProblem('feedback.runId', o.runId, MAX_REPORTED_ID_CHARS) ?? textFieldProblem('feedback.note', o.note, MAX_REASON_CHARS);
}

/** One report as a LiveRun: its best-trusted outcome among the sources the deployment counts. */
export function liveRunOf(r: RunReport, sources: readonly OutcomeSource[]): LiveRun {
  const known: Partial<Record<OutcomeSource, number>> = {};
  const failed = r.failed !== undefined || r.endReason === 'crashed' || r.endReason === 'harness_error';
  if (r.verifier != null) known.verifier = r.verifier;
  if (r.judge != null) known.judge = r.judge;
  known.execution = failed || !r.signals ? 0 : executionScore(r.signals);
  const counted = Object.fromEntries(Object.entries(known).filter(([s]) => sources.includes(s as OutcomeSource)));
  const outcome = resolveOutcome(counted) ?? { score: 0, source: 'execution' as const, weight: TRUST.execution };
  const midTaskSwap = (r.harnessIds?.length ?? 0) > 1 && new Set(r.harnessIds).size > 1;
  return { runId: r.runId, runKey: r.runKey, harnessId: r.harnessId, taskId: r.taskId, ...outcome, failed, midTaskSwap, known, ...(r.traceRef ? { traceRef: r.traceRef } : {}) };
}

/**
 * Adds a batch of reports to the window (and to the canary test when they ran under the champion or the
 * canary). A run id seen before is a duplicate of a retried batch and counts once.
 */
export function acceptReports(s: DeploymentState, reports: readonly RunReport[], input: Pick<DeploymentInput, 'outcomeSources' | 'gate'>): { accepted: number; duplicates: number } {
  const seen = new Set(s.recentRunIds);
  let accepted = 0;
  let duplicates = 0;
  for (const r of reports) {
    if (seen.has(r.runId)) {
      duplicates++;
      continue;
    }
    seen.add(r.runId);
    s.recentRunIds.push(r.runId);
    const run = liveRunOf(r, input.outcomeSources);
    s.window.runs.push(run);
    accepted++;
    if (run.failed) s.counts.productRunsFailed++;
    if (run.midTaskSwap) s.counts.midTaskSwaps++;
    if (s.canary) {
      const arm = run.harnessId === s.canary.harnessId ? s.canary.runs : run.harnessId === s.championId ? s.canary.championRuns : null;
      arm?.push({ score: run.score, weight: run.weight, source: run.source, failed: run.failed });
    }
    if (run.harnessId === s.championId && run.source === 'verifier' && passes(run.score)) rememberSolved(s, run.taskId, input.gate.regressionSetSize);
  }
  if (s.recentRunIds.length > RECENT_IDS) s.recentRunIds.splice(0, s.recentRunIds.length - RECENT_IDS);
  s.counts.reports += accepted;
  s.counts.duplicates += duplicates;
  return { accepted, duplicates };
}

/** The regression set: tasks the champion solved live (verified), most recent kept, at most `size`. */
function rememberSolved(s: DeploymentState, taskId: string, size: number): void {
  if (size <= 0) return;
  const i = s.regressionSet.indexOf(taskId);
  if (i >= 0) s.regressionSet.splice(i, 1);
  s.regressionSet.push(taskId);
  if (s.regressionSet.length > size) s.regressionSet.splice(0, s.regressionSet.length - size);
}

/**
 * Feedback on a run, from the product (agent.feedback) or any process with the run id: it outranks the
 * judge and execution signals of a run still held in the window. Feedback on a run no longer held (its
 * window closed) is late: counted and audited, it no longer moves a decision already taken.
 */
export function applyFeedback(s: DeploymentState, f: Feedback, input: Pick<DeploymentInput, 'outcomeSources'>): 'applied' | 'late' | 'ignored' {
  s.counts.feedback++;
  if (!input.outcomeSources.includes('feedback')) return 'ignored';
  const run = s.window.runs.find((r) => r.runId === f.runId);
  if (!run) {
    s.counts.lateFeedback++;
    return 'late';
  }
  run.known.feedback = f.score;
  const counted = Object.fromEntries(Object.entries(run.known).filter(([src]) => input.outcomeSources.includes(src as OutcomeSource)));
  Object.assign(run, resolveOutcome(counted)!);
  return 'applied';
}

/** Whether the current window is full: enough runs, or (with window.hours) long enough with at least one run. */
export function windowFull(s: DeploymentState, input: Pick<DeploymentInput, 'window'>, now: number): boolean {
  const { runs } = s.window;
  if (runs.length >= input.window.runs) return true;
  return input.window.hours !== undefined && runs.length > 0 && now - s.window.startedAt >= input.window.hours * 3_600_000;
}

/** Closes the window: its summary joins the history; returns the closed window's runs (the round's evidence). */
export function closeWindow(s: DeploymentState, now: number): { summary: WindowSummary; runs: LiveRun[] } {
  const runs = s.window.runs;
  const rate = weightedRate(runs);
  const summary: WindowSummary = { index: s.window.index, runs: runs.length, passRate: rate.rate, low: rate.low, high: rate.high, harnessId: s.championId, bySource: rate.bySource, startedAt: s.window.startedAt, endedAt: now };
  s.windows.push(summary);
  s.window = { index: s.window.index + 1, startedAt: now, runs: [] };
  return { summary, runs };
}

/** Spend on evolution (meta-agent, offline checks), counted against today's budget. */
export function accountSpend(s: DeploymentState, spend: { tokens: number; costUsd: number | null } | undefined, now: number): void {
  if (!spend) return;
  const day = dayOf(now);
  if (s.spend.day !== day) s.spend = { day, tokens: 0, usd: 0 };
  s.spend.tokens += spend.tokens;
  s.spend.usd += spend.costUsd ?? 0;
  s.totalSpend.tokens += spend.tokens;
  s.totalSpend.usd += spend.costUsd ?? 0;
}

/** Why no evolution round may start now (budget spent today, a canary still out), or null. Serving is never stopped. */
export function roundBlocked(s: DeploymentState, input: Pick<DeploymentInput, 'budgetPerDay'>, now: number): string | null {
  if (s.canary) return `canary ${s.canary.harnessId} still deciding`;
  const today = s.spend.day === dayOf(now) ? s.spend : { tokens: 0, usd: 0 };
  if (input.budgetPerDay.tokens !== undefined && today.tokens >= input.budgetPerDay.tokens) return `evolution budget for ${dayOf(now)} spent (${today.tokens} of ${input.budgetPerDay.tokens} tokens)`;
  if (input.budgetPerDay.usd !== undefined && today.usd >= input.budgetPerDay.usd) return `evolution budget for ${dayOf(now)} spent ($${today.usd.toFixed(4)} of $${input.budgetPerDay.usd})`;
  return null;
}

/** The evidence of a round: the closed window's runs that ran under the champion and have a stored trace. */
export function roundEvidence(runs: readonly LiveRun[], championId: string): LiveRun[] {
  return runs.filter((r) => r.harnessId === championId && r.traceRef);
}

/** The candidate goes out to its share of traffic. */
export function startCanary(s: DeploymentState, candidate: { harnessId: string; config: Record<string, unknown> }, round: number, share: number, now: number, options: { offlineChecked?: boolean } = {}): void {
  s.canary = { harnessId: candidate.harnessId, config: candidate.config, round, share, startedAt: now, runs: [], championRuns: [], ...(options.offlineChecked === false ? { offlineChecked: false } : {}) };
  s.versions.push({ harnessId: candidate.harnessId, parentId: s.championId, round, status: 'canary', at: now });
  s.revision++;
  s.lastEvent = `round ${round}: canary ${candidate.harnessId} serves ${(share * 100).toFixed(0)}% of runs`;
}

/**
 * Why an operator's own candidate cannot go out as the canary now, or null. An operator's candidate skips
 * the offline check (there is nothing to replay it against that the operator has not already chosen), so
 * the canary's sequential test and its pull rule are what protect users from it.
 */
export function manualCanaryProblem(s: DeploymentState | undefined, request: unknown): string | null {
  if (!s) return 'the deployment is still setting up';
  if (typeof request !== 'object' || request === null) return 'canary: expected { harnessId, config, reason? }';
  const { harnessId, config, reason } = request as Record<string, unknown>;
  if (typeof harnessId !== 'string' || !/^hx-[0-9a-f]{8,64}$/.test(harnessId)) return `canary: harnessId must be a harness content id (hx-…), got ${JSON.stringify(String(harnessId).slice(0, 80))}`;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return 'canary: config must be the harness config object';
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) return 'canary: reason must be a text of at most 500 characters';
  if (s.canary) return `canary ${s.canary.harnessId} is still deciding; roll it back first (harnessx deploy rollback ${s.name})`;
  if (harnessId === s.championId) return `${harnessId} is already the champion`;
  return null;
}

/** Applies the sequential test's decision: the canary becomes champion, or is rolled back (pulled when early). */
export function endCanary(s: DeploymentState, decision: Extract<CanaryDecision, { decision: 'promote' | 'rollback' }>, now: number): void {
  const c = s.canary!;
  const version = [...s.versions].reverse().find((v) => v.harnessId === c.harnessId && v.status === 'canary');
  if (version) version.canaryRuns = c.runs.length;
  if (decision.decision === 'promote') {
    const old = [...s.versions].reverse().find((v) => v.harnessId === s.championId && (v.status === 'champion' || v.status === 'seed'));
    if (old && old.status === 'champion') old.status = 'retired';
    if (version) Object.assign(version, { status: 'champion', reason: decision.reason });
    s.championId = c.harnessId;
    s.championConfig = c.config;
    keepConfig(s, c.harnessId, c.config);
    s.counts.promotions++;
    s.counts.swaps++;
    s.lastEvent = `round ${c.round}: promoted ${c.harnessId} (${decision.reason})`;
  } else {
    if (version) Object.assign(version, { status: decision.pulled ? 'pulled' : 'rolled_back', reason: decision.reason });
    s.counts.rollbacks++;
    if (decision.pulled) s.counts.pulls++;
    s.lastEvent = `round ${c.round}: rolled back ${c.harnessId} (${decision.reason})`;
  }
  s.canary = null;
  s.revision++;
}

const KEPT_CONFIGS = 5;
/** Keeps a champion's config for later rollbacks: the seed always, and the last few champions. */
function keepConfig(s: DeploymentState, harnessId: string, config: Record<string, unknown>): void {
  delete s.keptConfigs[harnessId];
  s.keptConfigs[harnessId] = config;
  const ids = Object.keys(s.keptConfigs).filter((id) => id !== s.seedHarnessId);
  for (const id of ids.slice(0, Math.max(0, ids.length - KEPT_CONFIGS))) delete s.keptConfigs[id];
}

/**
 * A person's rollback (`harnessx deploy rollback`): a canary out is withdrawn; with no canary, the champion
 * goes back to the previous champion (or the seed). Returns what the deployment now serves, or an error.
 */
/** Why a manual rollback cannot be done now, or null (the rollback update's validator: it changes nothing). */
export function rollbackProblem(s: DeploymentState): string | null {
  if (s.canary) return null;
  const previous = [...s.versions].reverse().find((v) => v.harnessId !== s.championId && (v.status === 'retired' || v.status === 'seed'));
  if (!previous) return `deployment ${s.name} serves its first harness ${s.championId}: there is nothing earlier to roll back to`;
  if (!s.keptConfigs[previous.harnessId]) return `the config of ${previous.harnessId} is no longer kept by the deployment`;
  return null;
}

export function manualRollback(s: DeploymentState, now: number, reason: string): { harnessId: string } | { problem: string } {
  if (s.canary) {
    endCanary(s, { decision: 'rollback', pulled: true, reason: `manual: ${reason}`, evidence: undefined as never }, now);
    return { harnessId: s.championId };
  }
  const previous = [...s.versions].reverse().find((v) => v.harnessId !== s.championId && (v.status === 'retired' || v.status === 'seed'));
  if (!previous) return { problem: `deployment ${s.name} serves its first harness ${s.championId}: there is nothing earlier to roll back to` };
  const config = s.keptConfigs[previous.harnessId];
  if (!config) return { problem: `the config of ${previous.harnessId} is not kept by the deployment` };
  const current = [...s.versions].reverse().find((v) => v.harnessId === s.championId && v.status === 'champion');
  if (current) Object.assign(current, { status: 'rolled_back', reason: `manual: ${reason}` });
  if (previous.status === 'retired') previous.status = 'champion';
  s.championId = previous.harnessId;
  s.championConfig = config;
  s.counts.rollbacks++;
  s.counts.swaps++;
  s.revision++;
  s.lastEvent = `manual rollback to ${previous.harnessId}: ${reason}`;
  return { harnessId: previous.harnessId };
}

/** What agents read (the `current` query): the harnesses to serve and how to pick between them. */
export interface CurrentHarness {
  name: string;
  revision: number;
  champion: { harnessId: string; config: Record<string, unknown> };
  canary: { harnessId: string; config: Record<string, unknown>; share: number } | null;
  swap: DeploymentInput['swap'];
  ttlMs: number;
  paused: boolean;
  /** The deployment's rubric for the harness's judge model (agents score runs with it when nothing better is known). */
  rubric?: string;
}

export function currentHarness(s: DeploymentState, input: Pick<DeploymentInput, 'swap' | 'ttlMs'> & { judge?: DeploymentInput['judge'] }, paused: boolean): CurrentHarness {
  return {
    name: s.name,
    revision: s.revision,
    champion: { harnessId: s.championId, config: s.championConfig },
    canary: s.canary ? { harnessId: s.canary.harnessId, config: s.canary.config, share: s.canary.share } : null,
    swap: input.swap,
    ttlMs: input.ttlMs,
    paused,
    ...(input.judge?.rubric ? { rubric: input.judge.rubric } : {}),
  };
}

/** The harness a run with this key is served: the canary for its share of keys, else the champion. */
export function harnessFor(current: Pick<CurrentHarness, 'champion' | 'canary'>, runKey: string): { harnessId: string; config: Record<string, unknown>; arm: 'champion' | 'canary' } {
  const c = current.canary;
  if (c && assignsToCanary(runKey, c.harnessId, c.share)) return { harnessId: c.harnessId, config: c.config, arm: 'canary' };
  return { ...current.champion, arm: 'champion' };
}

/** `deploy status --json`: the champion, any canary with its live evidence, the windows, spend, and what comes next. */
export interface DeploymentStatus {
  name: string;
  /** The suite it serves and the task model its agents run. */
  benchmark: string;
  model: string;
  status: 'running' | 'paused' | 'stopping';
  revision: number;
  champion: string;
  canary: null | { harnessId: string; round: number; share: number; runs: number; championRuns: number; canary: WeightedRate; champion: WeightedRate };
  window: { index: number; runs: number; of: number; passRate: number | null; low: number | null; high: number | null };
  windows: WindowSummary[];
  regressionSet: number;
  spend: { today: DeploymentState['spend']; total: DeploymentState['totalSpend']; budgetPerDay: DeploymentInput['budgetPerDay'] };
  versions: Version[];
  counts: DeploymentCounts;
  round: number;
  /** A live round (digest … offline check) is working now; the loop keeps serving and taking reports meanwhile. */
  roundRunning: boolean;
  /** Approval mode 'human': the candidate that passed the offline check and waits for `harnessx deploy approve|reject`. */
  awaitingApproval: string | null;
  nextRound: string;
  lastEvent: string;
}

export function deploymentStatus(s: DeploymentState, input: DeploymentInput, control: { paused: boolean; stopping: boolean; roundRunning?: boolean; pendingApproval?: { harnessId: string } | null }, now: number): DeploymentStatus {
  const w = weightedRate(s.window.runs);
  const blocked = control.paused ? 'paused' : control.roundRunning ? `round ${s.round} still working${control.pendingApproval ? ' (its candidate awaits approval)' : ''}` : roundBlocked(s, input, now);
  return {
    name: s.name,
    benchmark: input.benchmark,
    model: input.model,
    status: control.stopping ? 'stopping' : control.paused ? 'paused' : 'running',
    revision: s.revision,
    champion: s.championId,
    canary: s.canary
      ? { harnessId: s.canary.harnessId, round: s.canary.round, share: s.canary.share, runs: s.canary.runs.length, championRuns: s.canary.championRuns.length, canary: weightedRate(s.canary.runs), champion: weightedRate(s.canary.championRuns) }
      : null,
    window: { index: s.window.index, runs: s.window.runs.length, of: input.window.runs, passRate: w.rate, low: w.low, high: w.high },
    windows: s.windows,
    regressionSet: s.regressionSet.length,
    spend: { today: s.spend, total: s.totalSpend, budgetPerDay: input.budgetPerDay },
    versions: s.versions,
    counts: s.counts,
    round: s.round,
    roundRunning: control.roundRunning ?? false,
    awaitingApproval: control.pendingApproval?.harnessId ?? null,
    nextRound: blocked ? `not before: ${blocked}` : `when window ${s.window.index} has ${input.window.runs} runs (${s.window.runs.length} so far)`,
    lastEvent: s.lastEvent,
  };
}

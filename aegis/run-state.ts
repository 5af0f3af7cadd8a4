import type { TriedEdit } from './meta-agent';
import type { Variant } from './variants';
import type { EndpointLimit } from '../models/endpoint-limits';
import { MAX_REASON_CHARS, textFieldProblem } from '../harness/sandbox/input-bounds';

/**
 * The state of one evolveHarness run and what its status query shows. Pure (types and plain functions),
 * so the workflow bundle imports it and unit tests call it without a Temporal server.
 */
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
  /** Evolution spend (rollouts, meta-agent, gate, regression guard): what maxTokens/maxUsd cap. */
  tokens: number;
  /** Evolution spend in USD; null once any of it was unpriced. */
  costUsd: number | null;
  /**
   * Measurement spend (held-out tracking, the final evaluation), kept apart from the evolution budget so an
   * arm is never charged for being measured; capped by maxMeasurementTokens. Absent in states carried by
   * runs that started before the split (read as 0 via measurementSpend).
   */
  measurementTokens?: number;
  measurementUsd?: number | null;
  /** The incumbent's held-out pass rates after each tracked round, with the evolution tokens spent by then (last 200). */
  heldOut?: HeldOutPoint[];
  /** Per-round pass rates, last 200 rounds (the audit log keeps all). */
  passRates: Array<{ round: number; passRate: number; shipped: boolean }>;
  /** The budget, changeable while running through the setBudget update. */
  budget: RoundBudget;
  /** The cumulative-regression guard's best harness so far on its fixed suite (absent before its first check). */
  regressionBest?: { harnessId: string; solved: number; round: number };
  rollbacks?: number;
  /** The variant pool under strategy 'ensemble' (absent under 'global'). */
  variants?: Variant[];
  /** Early work (aegis/overlap.ts) that no stage used: spent, but in no budget. Absent until there is some. */
  overlapDiscarded?: { tokens: number; costUsd: number | null; rollouts: number };
  /** A gate baseline run early whose gate had not come when the run continued as new: that gate counts its spend. */
  overlapBaseline?: { harnessId: string; spend: { inputTokens: number; outputTokens: number; tokens: number; costUsd: number | null } };
  /** The endpoint limits in force for the run's models, as a worker resolved them at setup (absent in older runs). */
  endpointLimits?: EndpointLimitInForce[];
}

/** One model's endpoint limit and where it came from (run input, a worker's environment, or the default). */
export interface EndpointLimitInForce {
  model: string;
  limit: EndpointLimit;
  source: string;
}

/** One round's held-out tracking: where the incumbent stood after `evolutionTokens` of evolution spend. */
export interface HeldOutPoint {
  round: number;
  evolutionTokens: number;
  validation: number | null;
  test: number | null;
}

export interface RoundBudget {
  rounds: number;
  patience: number;
}

/** A candidate that passed the gate and waits for a reviewer (approval mode 'human'). */
export interface PendingApproval {
  candidateId: string;
  harnessId: string;
  editKey: string;
  gate: string;
}

/** A reviewer's verdict on the candidate waiting for approval. */
export interface ReviewerDecision {
  approve: boolean;
  reason: string;
}

/** Why a decide update is refused, or null to accept it: it must name the candidate waiting, with a boolean verdict. */
export function decisionProblem(pending: PendingApproval | null, d: { candidateId: string; approve: unknown }): string | null {
  if (!pending) return 'no candidate is waiting for approval';
  if (d.candidateId !== pending.candidateId) return `the candidate waiting is ${pending.candidateId}, not ${d.candidateId}`;
  if (typeof d.approve !== 'boolean') return 'approve must be true or false';
  return textFieldProblem('reason', (d as { reason?: unknown }).reason, MAX_REASON_CHARS);
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
  /** Evolution spend so far (what maxTokens caps) and measurement spend (tracking, final evaluation). */
  tokens: number;
  measurementTokens: number;
  /** The endpoint limits in force (resolved at setup by a worker; workers of other settings may differ), or null before setup. */
  endpointLimits: EndpointLimitInForce[] | null;
}

/** What the prepareRun activity hands the run: the stored seed harness and the task split. */
export interface PreparedRun {
  seedHarnessId: string;
  trainIds: string[];
  validationIds: string[];
  testIds: string[];
}

/** Every edit bucket starts with the same reputation; the gate's verdicts move it (see reputationAfterGate). */
const NEUTRAL_REPUTATION = { prompt: 1, tools: 1, config: 1, processor: 1 };

/** A fresh run's state; under strategy 'ensemble' the pool starts as the seed harness alone (variant v0). */
export function initialRunState(runId: string, prepared: PreparedRun, settings: { rounds: number; patience: number; strategy: 'global' | 'ensemble' }): RunState {
  return {
    runId,
    round: 0,
    seedHarnessId: prepared.seedHarnessId,
    incumbentId: prepared.seedHarnessId,
    trainIds: prepared.trainIds,
    validationIds: prepared.validationIds,
    testIds: prepared.testIds,
    previousDigestRef: null,
    tried: [],
    reputation: { ...NEUTRAL_REPUTATION },
    roundsWithoutShip: 0,
    shipped: 0,
    rejected: 0,
    seedBatchPassRate: null,
    lastPassRate: null,
    bestScore: null,
    tokens: 0,
    costUsd: 0,
    measurementTokens: 0,
    measurementUsd: 0,
    heldOut: [],
    passRates: [],
    budget: { rounds: settings.rounds, patience: settings.patience },
    ...(settings.strategy === 'ensemble' ? { variants: [{ id: 'v0', harnessId: prepared.seedHarnessId, parentId: null, born: 0, stats: {} }] } : {}),
  };
}

/** Task-model spend reported by an activity. Results recorded by older workers carry none (undefined). */
export interface ReportedSpend {
  tokens?: number;
  costUsd?: number | null;
}

/**
 * The run's spend after one more activity result: missing tokens count as 0, and a missing or unpriced
 * cost makes the total unknown (null) for good, never NaN.
 */
export function addSpend(total: { tokens: number; costUsd: number | null }, spend: ReportedSpend | undefined): { tokens: number; costUsd: number | null } {
  return {
    tokens: total.tokens + (spend?.tokens ?? 0),
    costUsd: typeof total.costUsd === 'number' && typeof spend?.costUsd === 'number' ? total.costUsd + spend.costUsd : null,
  };
}

/** The run's measurement spend; a state carried from before the split has none recorded (0 tokens, $0). */
export function measurementSpend(s: Pick<RunState, 'measurementTokens' | 'measurementUsd'>): { tokens: number; costUsd: number | null } {
  return { tokens: s.measurementTokens ?? 0, costUsd: s.measurementUsd === undefined ? 0 : s.measurementUsd };
}

/** The held-out history after a tracked round (rounds where nothing was tracked add nothing). */
export function heldOutAfterRound(history: HeldOutPoint[] | undefined, point: HeldOutPoint): HeldOutPoint[] {
  if (point.validation === null && point.test === null) return history ?? [];
  return [...(history ?? []), point].slice(-PASS_RATE_HISTORY);
}

/** Rounds kept in the state's pass-rate history; the audit log keeps every round. */
export const PASS_RATE_HISTORY = 200;

/** The round counters after a round: patience counts rounds without a ship; the pass-rate history grows. */
export function stateAfterRound(s: Pick<RunState, 'roundsWithoutShip' | 'passRates' | 'lastPassRate'>, round: number, shipped: boolean): Pick<RunState, 'roundsWithoutShip' | 'passRates'> {
  return {
    roundsWithoutShip: shipped ? 0 : s.roundsWithoutShip + 1,
    passRates: [...s.passRates, { round, passRate: s.lastPassRate ?? 0, shipped }].slice(-PASS_RATE_HISTORY),
  };
}

/** The run's controls as the status query reports them (owned by the workflow's signal and update handlers). */
export interface ControlsView {
  stage: Stage;
  /** True while the run waits at a stage boundary for a resume: the status then shows stage 'paused'. */
  waitingForResume: boolean;
  paused: boolean;
  stopRequested: boolean;
  lastEvent: string;
  pendingApproval: PendingApproval | null;
}

/** The status query's answer; before setup finishes (no state yet) it reports the input's round budget. */
export function runStatus(runId: string, inputRounds: number, state: RunState | undefined, controls: ControlsView): RunStatus {
  return {
    runId,
    round: state?.round ?? 0,
    rounds: state?.budget.rounds ?? inputRounds,
    stage: controls.waitingForResume ? 'paused' : controls.stage,
    paused: controls.paused,
    stopRequested: controls.stopRequested,
    incumbentHarnessId: state?.incumbentId ?? null,
    bestScore: state?.bestScore ?? null,
    lastPassRate: state?.lastPassRate ?? null,
    shipped: state?.shipped ?? 0,
    rejected: state?.rejected ?? 0,
    lastEvent: controls.lastEvent,
    pendingApproval: controls.pendingApproval,
    tokens: state?.tokens ?? 0,
    measurementTokens: state ? measurementSpend(state).tokens : 0,
    endpointLimits: state?.endpointLimits ?? null,
  };
}

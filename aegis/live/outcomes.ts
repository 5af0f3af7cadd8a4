import type { EpisodeTrace } from '../../harness/trace';
import type { EpisodeEndReason } from '../../harness/types';

/**
 * What is known about a live run's outcome, and how far to trust it. A live product has no benchmark: the
 * outcome of a run comes, in falling order of trust, from the suite's verifier (where the live task can be
 * checked), from feedback the product reports later, from the harness's judge model, or from execution
 * signals that need no label. Pure: the deployment workflow and the product-side reporter both use it.
 */
export const OUTCOME_SOURCES = ['verifier', 'feedback', 'judge', 'execution'] as const;
export type OutcomeSource = (typeof OUTCOME_SOURCES)[number];

/**
 * How much one run's outcome counts in a window's pass rate and in the canary test. A verifier reads the
 * real final state; a person's feedback is right but partial and noisy; a judge model can be fooled; the
 * execution signals only say a run went badly, not that it went well.
 */
export const TRUST: Record<OutcomeSource, number> = { verifier: 1, feedback: 0.7, judge: 0.4, execution: 0.2 };

/** The label-free signals of one run, counted from its trace (what the product reports when nothing else is known). */
export interface ExecutionSignals {
  endReason: EpisodeEndReason;
  steps: number;
  toolErrors: number;
  /** The same tool call with the same arguments again within the run. */
  repeatedCalls: number;
  /** Model replies that had to be repaired or that carried no action. */
  formatProblems: number;
  /** In dialogues: the user said (nearly) the same thing again. */
  userRepeats: number;
}

export function executionSignals(trace: Pick<EpisodeTrace, 'records' | 'endReason' | 'steps'>): ExecutionSignals {
  let toolErrors = 0;
  let repeatedCalls = 0;
  let formatProblems = 0;
  let userRepeats = 0;
  const calls = new Set<string>();
  const userLines = new Set<string>();
  for (const r of trace.records) {
    if (r.kind === 'tool_call') {
      if (!r.result.ok) toolErrors++;
      const key = `${r.call.name}\u0000${JSON.stringify(r.call.args)}`;
      if (calls.has(key)) repeatedCalls++;
      calls.add(key);
    } else if (r.kind === 'error' && /no tool call|repair|format/i.test(r.message)) formatProblems++;
    else if (r.kind === 'note' && /repair/i.test(r.note)) formatProblems++;
    else if (r.kind === 'dialogue') {
      const line = r.user.trim().toLowerCase();
      if (userLines.has(line)) userRepeats++;
      userLines.add(line);
    }
  }
  return { endReason: trace.endReason, steps: trace.steps, toolErrors, repeatedCalls, formatProblems, userRepeats };
}

/**
 * A score in [0, 1] from execution signals alone: a run that did not end by answering scores 0, one that
 * answered loses a little for each problem on the way. It can only say a run went badly, which is why its trust is lowest.
 */
export function executionScore(s: ExecutionSignals): number {
  if (s.endReason !== 'goal_reached') return 0;
  const penalty = 0.1 * s.toolErrors + 0.15 * s.repeatedCalls + 0.1 * s.formatProblems + 0.25 * s.userRepeats;
  return Math.max(0, Math.min(1, 1 - penalty));
}

/** The outcomes known for one run, by source (any may be missing; execution signals always exist for a finished run). */
export interface KnownOutcomes {
  verifier?: number | null;
  feedback?: number | null;
  judge?: number | null;
  execution?: number | null;
}

/** One run's outcome as the deployment counts it: the most trusted source known, with its weight. */
export interface ResolvedOutcome {
  score: number;
  source: OutcomeSource;
  weight: number;
}

/** The most trusted known outcome; null when nothing at all is known (a run that crashed before it could report is scored by the caller). */
export function resolveOutcome(known: KnownOutcomes): ResolvedOutcome | null {
  for (const source of OUTCOME_SOURCES) {
    const value = known[source];
    if (typeof value === 'number' && Number.isFinite(value)) return { score: Math.max(0, Math.min(1, value)), source, weight: TRUST[source] };
  }
  return null;
}

/** A score is a pass at 0.5 or more (the offline gate's pass@1 threshold for verifiers returning fractions). */
export const passes = (score: number) => score >= 0.5;

/** Weighted outcomes summed: the pass rate, its interval and the effective sample size (Kish) they rest on. */
export interface WeightedRate {
  runs: number;
  /** Σ weight. */
  weight: number;
  /** Σ weight · score / Σ weight; null without runs. */
  rate: number | null;
  /** Kish's effective sample size (Σw)² / Σw²: what the interval uses. */
  effectiveRuns: number;
  /** A Wilson 95% interval on rate at the effective sample size. */
  low: number | null;
  high: number | null;
  bySource: Partial<Record<OutcomeSource, number>>;
}

export function weightedRate(outcomes: ReadonlyArray<Pick<ResolvedOutcome, 'score' | 'weight' | 'source'>>): WeightedRate {
  let w = 0;
  let w2 = 0;
  let ws = 0;
  const bySource: Partial<Record<OutcomeSource, number>> = {};
  for (const o of outcomes) {
    w += o.weight;
    w2 += o.weight * o.weight;
    ws += o.weight * o.score;
    bySource[o.source] = (bySource[o.source] ?? 0) + 1;
  }
  if (!outcomes.length || w === 0) return { runs: outcomes.length, weight: 0, rate: null, effectiveRuns: 0, low: null, high: null, bySource };
  const rate = ws / w;
  const n = (w * w) / w2;
  const [low, high] = wilson(rate, n);
  return { runs: outcomes.length, weight: w, rate, effectiveRuns: n, low, high, bySource };
}

/** Wilson score interval (95%) for a proportion p observed over n (possibly fractional) trials. */
export function wilson(p: number, n: number, z = 1.96): [number, number] {
  if (n <= 0) return [0, 1];
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Whether a set of outcomes rests only on weak signals (no verifier and no feedback): an audit record says so. */
export function onlyWeakEvidence(bySource: Partial<Record<OutcomeSource, number>>): boolean {
  return !bySource.verifier && !bySource.feedback;
}

import { ActivityFailure, CancelledFailure, isCancellation, log } from '@temporalio/workflow';
import { NO_OVERLAP, OverlapPlan } from '../../aegis/overlap';
import { addSpend, ReportedSpend } from '../../aegis/run-state';
import type { ActivityResult } from './activities';

type Rollout = ActivityResult<'rollout'>;
type Evaluation = ActivityResult<'evaluate'>;

/** Work started early for a harness, used by the first stage that needs it. */
interface Early<T> {
  harnessId: string;
  result: Promise<T>;
  /** What the work is, for the log when nothing used it. */
  what: string;
  /** Cancels it (work started in its own cancellation scope); absent for work that runs to its end. */
  cancel?: () => void;
}
/** A final evaluation's two halves: the train tasks, and the test tasks when the run evaluates them. */
export interface FinalEvaluation {
  train: Promise<Evaluation>;
  test: Promise<Evaluation> | null;
  /** Cancels both halves (a speculative final evaluation runs in its own cancellation scope). */
  cancel?: () => void;
}
/** A gate begun before its stage: which candidate (of which candidate list), its verdict to come, and how to cancel it. */
export interface EarlyGate {
  candidateId: string;
  harnessId: string;
  candidatesRef: string;
  verdict: Promise<ActivityResult<'gate'>>;
  cancel: () => void;
}
/** What a rollout or an evaluation spent. */
const spendOf = (r: Rollout | Evaluation | { spend: ReportedSpend }): ReportedSpend => ('spend' in r ? r.spend : r);

/**
 * The work a run started ahead of the stage that needs it (aegis/overlap.ts says which, and why no decision
 * changes). One per run, not carried by continue-as-new: `drain` settles everything first. Background
 * promises are awaited where they are used or in `drain`; a failure of one that nothing uses is logged, and
 * a failure of one that is used fails that stage as its own activity would have.
 */
export class RunOverlap {
  /** `state` receives the spend of early work nothing used (overlapDiscarded: in the summary, in no budget). */
  constructor(
    readonly plan: OverlapPlan = NO_OVERLAP,
    private readonly state: { overlapDiscarded?: { tokens: number; costUsd: number | null; rollouts: number } } = {},
  ) {}

  /** Held-out tracking, one round after another: each step starts when the one before it has been accounted. */
  private measurements: Promise<void> = Promise.resolve();
  /** Pending held-out measurements by harness: a gate of that harness waits for it (it reuses the outcomes). */
  private measuring = new Map<string, Promise<void>>();
  /** The incumbent's rollout on the validation tasks, run beside the batch rollout. */
  private baseline: Early<Evaluation> | null = null;
  /** The next round's batch rollout of the incumbent, run while the meta-agent works. */
  private speculation: (Early<Rollout> & { round: number }) | null = null;
  /**
   * The final evaluation of a harness started early (aegis/overlap.ts): the seed's from setup on, and in the
   * last round each candidate's while it is gated. Taken by the final evaluation; the others are discarded.
   */
  private finals = new Map<string, FinalEvaluation>();
  /** The gate begun while the Critic ranks (aegis/overlap.ts gateDuringCritique), for the gate stage to use or drop. */
  private earlyGate: EarlyGate | null = null;
  /** Discarded work still settling: `drain` waits for it, so its spend is counted before the summary. */
  private settling: Array<Promise<void>> = [];

  startFinal(harnessId: string, start: () => FinalEvaluation): void {
    if (this.finals.has(harnessId)) return;
    const { train, test, cancel } = start();
    this.finals.set(harnessId, { train: quiet(train), test: test && quiet(test), ...(cancel ? { cancel } : {}) });
  }

  /** The early final evaluation of this harness, taken (null when there is none). */
  takeFinal(harnessId: string): FinalEvaluation | null {
    const early = this.finals.get(harnessId) ?? null;
    this.finals.delete(harnessId);
    return early;
  }

  /** Drops every early final evaluation not taken: their spend is discarded once they settle. */
  dropFinals(): void {
    for (const [harnessId, early] of this.finals) {
      early.cancel?.();
      for (const r of [early.train, early.test]) if (r) this.discard({ harnessId, result: r, what: `final evaluation of ${harnessId}` });
    }
    this.finals.clear();
  }

  /**
   * Waits for an early final test evaluation of this harness, if one is running: a held-out measurement of
   * the same harness reads the same outcomes (same tasks and seed) and would otherwise run them a second time.
   */
  async finalTestSettled(harnessId: string): Promise<void> {
    await this.finals.get(harnessId)?.test?.catch(() => undefined);
  }

  /** Queues a measurement after those before it; `harnessId`'s gate waits for it. */
  measureLater(harnessId: string, step: () => Promise<void>): void {
    const done = this.measurements.then(step);
    this.measurements = done;
    this.measuring.set(harnessId, done);
    void done.then(
      () => this.measuring.get(harnessId) === done && this.measuring.delete(harnessId),
      () => undefined,
    );
  }

  /** Whether a queued measurement will roll this harness out on the validation tasks (so no baseline is needed). */
  measures(harnessId: string): boolean {
    return this.measuring.has(harnessId);
  }

  /** Waits for a queued measurement of this harness, if any. */
  async measured(harnessId: string): Promise<void> {
    await this.measuring.get(harnessId);
  }

  /** Starts the baseline of this harness, unless one is pending already (a round that ended before its gate leaves it for the next). */
  startBaseline(harnessId: string, run: () => Promise<Evaluation>): void {
    if (this.baseline?.harnessId === harnessId) return;
    this.drop('baseline');
    this.baseline = { harnessId, result: quiet(run()), what: `validation baseline of ${harnessId}` };
  }

  /** The baseline of this harness, taken by the stage that uses it (its spend is that stage's); null when none. */
  takeBaseline(harnessId: string): Promise<Evaluation> | null {
    if (this.baseline?.harnessId !== harnessId) return null;
    const { result } = this.baseline;
    this.baseline = null;
    return result;
  }

  /** Waits until this harness's early baseline, if one is running, has settled (without taking it): its outcomes are then in the cache. */
  async baselineSettled(harnessId: string): Promise<void> {
    if (this.baseline?.harnessId === harnessId) await this.baseline.result.catch(() => undefined);
  }

  startEarlyGate(gate: EarlyGate): void {
    this.drop('gate');
    this.earlyGate = { ...gate, verdict: quiet(gate.verdict) };
  }

  /** The gate begun during the critique, taken by the gate stage (null when none). */
  takeEarlyGate(): EarlyGate | null {
    const gate = this.earlyGate;
    this.earlyGate = null;
    return gate;
  }

  /** `run` starts it; `cancel`, when given, stops it once it is dropped (its spend so far still counted). */
  startSpeculation(harnessId: string, round: number, run: () => Promise<Rollout>, cancel?: () => void): void {
    this.drop('speculation');
    this.speculation = { harnessId, round, result: quiet(run()), what: `round ${round}'s batch rollout of ${harnessId}`, ...(cancel ? { cancel } : {}) };
  }

  /** The speculative batch rollout for this round and incumbent, or null (one for another harness is dropped). */
  takeSpeculation(harnessId: string, round: number): Promise<Rollout> | null {
    const s = this.speculation;
    if (!s) return null;
    this.speculation = null;
    if (s.harnessId === harnessId && s.round === round) return s.result;
    this.discard(s);
    return null;
  }

  /** Drops early work nobody will use now (a round run again, continue-as-new, the run's end): its spend is counted as discarded once it settles. */
  drop(which: 'baseline' | 'speculation' | 'gate' | 'all'): void {
    if ((which === 'baseline' || which === 'all') && this.baseline) this.discard(this.baseline), (this.baseline = null);
    if ((which === 'speculation' || which === 'all') && this.speculation) this.discard(this.speculation), (this.speculation = null);
    const gate = which === 'gate' || which === 'all' ? this.takeEarlyGate() : null;
    if (gate) this.discardEarlyGate(gate);
  }

  /** Cancels a gate begun during the critique that no stage will use; its spend so far is discarded work. */
  discardEarlyGate(gate: EarlyGate): void {
    this.discardWork(`gate of ${gate.candidateId} begun during the critique`, gate.verdict, gate.cancel);
  }

  /** Everything settled: measurements accounted, unused work counted as discarded. The seed's final evaluation is left to whoever drains. */
  async drain(): Promise<void> {
    this.drop('all');
    await this.measurements;
    await Promise.all(this.settling);
    this.settling = [];
  }

  /** The pending baseline, settled, for a continue-as-new to carry (its next gate counts it); null when none. */
  async carryBaseline(): Promise<{ harnessId: string; spend: Evaluation['spend'] } | null> {
    const b = this.baseline;
    if (!b) return null;
    this.baseline = null;
    return { harnessId: b.harnessId, spend: (await b.result).spend };
  }

  /** A baseline taken but not used (no gate compared), kept for the next gate of the same harness. */
  returnBaseline(harnessId: string, spend: Evaluation['spend']): void {
    this.drop('baseline');
    this.baseline = { harnessId, result: Promise.resolve({ passRate: 0, passed: 0, tasks: 0, episodes: 0, spend }), what: `validation baseline of ${harnessId}` };
  }

  /**
   * Work started ahead that no stage will use (a gate started ahead of a round decided before it): cancelled
   * when it can be, and its spend — the result's, or what a cancelled activity reports in its cancellation's
   * details — counted as discarded once it settles.
   */
  discardWork(what: string, result: Promise<{ spend?: ReportedSpend }>, cancel?: () => void): void {
    this.discard({ harnessId: '', what, result: result.then((r) => ({ spend: r.spend ?? { tokens: 0, costUsd: 0 } })), ...(cancel ? { cancel } : {}) });
  }

  /** Cancels the work when it can be, and counts its spend (the result's, or a cancellation's details) as discarded once it settles. */
  private discard(early: Early<Rollout | Evaluation | { spend: ReportedSpend }>): void {
    early.cancel?.();
    const settled = early.result.then(spendOf, (e: unknown) => {
      const spend = cancelledSpend(e);
      if (spend) return spend;
      throw e;
    });
    this.settling.push(
      settled.then(
        (spend) => {
          const before = this.state.overlapDiscarded ?? { tokens: 0, costUsd: 0, rollouts: 0 };
          this.state.overlapDiscarded = { ...addSpend(before, spend), rollouts: before.rollouts + 1 };
          log.info('overlap: work started early was not used', { what: early.what, tokens: spend.tokens ?? 0 });
        },
        (e) => log.warn('overlap: work started early failed and was not used', { what: early.what, error: String(e) }),
      ),
    );
  }
}

/** What a cancelled activity reported it had spent (its cancellation's first detail), or null for any other failure. */
function cancelledSpend(e: unknown): ReportedSpend | null {
  if (!isCancellation(e)) return null;
  const cancelled = e instanceof ActivityFailure && e.cause instanceof CancelledFailure ? e.cause : e instanceof CancelledFailure ? e : null;
  const detail = cancelled?.details?.[0] as Partial<ReportedSpend> | undefined;
  return { tokens: typeof detail?.tokens === 'number' ? detail.tokens : 0, costUsd: typeof detail?.costUsd === 'number' || detail?.costUsd === null ? detail.costUsd : 0 };
}

/** A promise whose rejection is handled (it is awaited later, or counted as discarded): no unhandled rejection fails the workflow task meanwhile. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

import type { HarnessConfig } from '../harness/config';
import type { EpisodeTrace } from '../harness/trace';
import type { CachedUsage } from '../models/structured';
import type { Bucket, Candidate, Critique, Digest, GateCheck, GateCheckResult, GateResult, GateTerms, Landscape } from './types';

/**
 * Why the gate rejected an edit. "idea": the change ran and did not help (seesaw: no gain or a regression;
 * reward hacking; a reviewer's no) — the same idea on the same harness will not do better. "mistake": the
 * change never got to run (manifest, builder, canonical form, type error, failing smoke test, a crash in
 * the smoke episode) — the idea is untested, and a corrected version deserves a try.
 */
export type RejectionKind = 'idea' | 'mistake';

/** Gate checks whose failure is a mistake in the candidate's making, not evidence against its idea. */
export const MISTAKE_CHECKS: readonly GateCheck[] = ['manifest_complete', 'canonical_form', 'code_sandbox', 'smoke_test'];

export interface TriedEdit {
  key: string;
  bucket: Bucket;
  /** The incumbent the edit was tried on: a rejected edit may be retried once the incumbent changes. */
  harnessId: string;
  /** "shipped", or "rejected: <check>: <detail>" (the gate's reason), or "rejected: by reviewer…". */
  outcome: string;
  /** Set when rejected; derived from `outcome` (rejectionKind) when a ledger entry predates the field. */
  rejectedFor?: RejectionKind;
}

/** Idea or mistake, from a ledger outcome string; null when the edit shipped. */
export function rejectionKind(edit: Pick<TriedEdit, 'outcome' | 'rejectedFor'>): RejectionKind | null {
  if (edit.outcome.startsWith('shipped')) return null;
  if (edit.rejectedFor) return edit.rejectedFor;
  const check = /^rejected: ([a-z_]+):/.exec(edit.outcome)?.[1];
  return check && (MISTAKE_CHECKS as readonly string[]).includes(check) ? 'mistake' : 'idea';
}

/** The gate's counts, where the verdict carries them (ships are reported with their measured effect). */
type GateCounts = Partial<Pick<GateResult, 'incumbentPassed' | 'candidatePassed' | 'gateTasks' | 'unlocked' | 'regressions' | 'checks'>>;

/** "shipped" with what it did on the gate set, in numbers: passed before and after, and the tasks it unlocked. */
export function shippedOutcome(gate: GateCounts): string {
  if (gate.gateTasks === undefined || gate.candidatePassed === undefined || gate.incumbentPassed === undefined) return 'shipped';
  const seesaw = gate.checks?.find((c) => c.check === 'seesaw')?.detail;
  const unlocked = gate.unlocked?.length ? `; unlocked ${gate.unlocked.slice(0, 8).join(', ')}${gate.unlocked.length > 8 ? ` and ${gate.unlocked.length - 8} more` : ''}` : '';
  return `shipped: ${gate.incumbentPassed} → ${gate.candidatePassed} of ${gate.gateTasks} gate tasks passed (${gate.candidatePassed - gate.incumbentPassed >= 0 ? '+' : ''}${gate.candidatePassed - gate.incumbentPassed})${unlocked}${seesaw ? `; seesaw: ${seesaw}` : ''}`;
}

/** The ledger entry for a gated candidate (what the workflows append after each gate). */
export function triedEditFromGate(candidate: Pick<Candidate, 'editKey' | 'bucket'>, incumbentId: string, gate: Pick<GateResult, 'passed' | 'reason'> & GateCounts): TriedEdit {
  if (gate.passed) return { key: candidate.editKey, bucket: candidate.bucket, harnessId: incumbentId, outcome: shippedOutcome(gate) };
  const outcome = `rejected: ${gate.reason}`;
  return { key: candidate.editKey, bucket: candidate.bucket, harnessId: incumbentId, outcome, rejectedFor: rejectionKind({ outcome }) ?? 'idea' };
}

/** A candidate before the activity stores its harness: the evolver's output. */
export type CandidateDraft = Omit<Candidate, 'harnessId'> & { config: HarnessConfig };

/** The verdict of the gate's rollout-free checks on one candidate (aegis/pre-gate.ts runs them). */
export interface PreGateVerdict {
  passed: boolean;
  /** The checks run, in gate order, up to and including the first failure. */
  checks: GateCheckResult[];
  /** "<check>: <detail>" of the first failure, exactly as the gate would word it; null when passed. */
  reason: string | null;
}

/** Runs the pre-gate checks on one of the Evolver's drafts (what a meta-agent receives by injection). */
export type PreGateChecker = (draft: CandidateDraft) => Promise<PreGateVerdict>;

/** The critic's decision, plus candidates it had revised (the LLM critic may ask the evolver once). */
export type CritiqueWithRevisions = Critique & { revised?: CandidateDraft[] };

/**
 * A stage could not produce usable output (an LLM reply stayed invalid after its repair attempt). The
 * round no-ops with this reason; the run goes on. Provider errors are not this: they throw as they are.
 */
export class StageFailure extends Error {
  constructor(readonly stage: string, message: string) {
    super(message);
    this.name = 'StageFailure';
  }
}

/**
 * The meta-agent stages. The rule-based agent and the LLM agent implement the same interface; only the
 * deterministic gate decides what ships.
 */
export interface MetaAgent {
  readonly name: string;
  /** Refines the deterministic digest (the LLM Digester writes per-task failure summaries). Optional. */
  /** `config`: the harness the traces ran on (the LLM Digester shows it, to name implicated processors). */
  digest?(input: { digest: Digest; traces: EpisodeTrace[]; config?: HarnessConfig }): Promise<Digest>;
  plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig; gate?: GateTerms }): Promise<Landscape>;
  /** `traces`: the round's raw episodes (baselines without a digester read them). */
  /**
   * `preGate`: the gate's rollout-free checks, injected by the evolve activity. An agent that has it may
   * run it on its drafts and repair failures inside the stage (the LLM agent does, once); others ignore it.
   */
  evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number; traces?: EpisodeTrace[]; preGate?: PreGateChecker; gate?: GateTerms }): Promise<CandidateDraft[]>;
  /** `tried`: the ledger with the gate's reasons, so the Critic sees what earlier rounds' gates decided. */
  critique(input: { candidates: Candidate[]; digest: Digest; reputation: Record<string, number>; config: HarnessConfig; round: number; tried?: TriedEdit[]; gate?: GateTerms }): Promise<CritiqueWithRevisions>;
  /** Model usage since the agent was created (LLM agents; absent for the rule-based one). */
  usage?(): { usage: CachedUsage; calls: number; repairs: number };
}

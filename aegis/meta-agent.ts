import type { HarnessConfig } from '../harness/config';
import type { EpisodeTrace } from '../harness/trace';
import type { Usage } from '../harness/types';
import type { Bucket, Candidate, Critique, Digest, Landscape } from './types';

export interface TriedEdit {
  key: string;
  bucket: Bucket;
  /** The incumbent the edit was tried on: a rejected edit may be retried once the incumbent changes. */
  harnessId: string;
  outcome: string;
}

/** A candidate before the activity stores its harness: the evolver's output. */
export type CandidateDraft = Omit<Candidate, 'harnessId'> & { config: HarnessConfig };

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
  digest?(input: { digest: Digest; traces: EpisodeTrace[] }): Promise<Digest>;
  plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape>;
  /** `traces`: the round's raw episodes (baselines without a digester read them). */
  evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number; traces?: EpisodeTrace[] }): Promise<CandidateDraft[]>;
  critique(input: { candidates: Candidate[]; digest: Digest; reputation: Record<string, number>; config: HarnessConfig; round: number }): Promise<CritiqueWithRevisions>;
  /** Model usage since the agent was created (LLM agents; absent for the rule-based one). */
  usage?(): { usage: Usage; calls: number; repairs: number };
}

import type { HarnessConfig } from '../harness/config';
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

/**
 * The four meta-agent stages. The rule-based agent here and the LLM agent implement the same interface;
 * only the deterministic gate decides what ships.
 */
export interface MetaAgent {
  readonly name: string;
  plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape>;
  evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number }): Promise<CandidateDraft[]>;
  critique(input: { candidates: Candidate[]; digest: Digest; reputation: Record<string, number> }): Promise<Critique>;
}

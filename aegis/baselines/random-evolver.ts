import type { HarnessConfig } from '../../harness/config';
import { validSingleEdits } from '../edit-space';
import type { ProcessorLibraryName } from '../library-scope';
import type { CandidateDraft, MetaAgent, TriedEdit } from '../meta-agent';
import { seededRandom } from '../sampling';
import type { Candidate, Digest, Landscape } from '../types';
import { draftFrom, gateAll, passThroughLandscape } from './common';

/** The random baseline: random valid builder edits, no digest reading, no critic. Seeded per round. */
export class RandomMetaAgent implements MetaAgent {
  readonly name = 'random';
  /** `library`: the run's processor library (the edits drawn insert only its types). */
  constructor(private readonly seed: string, private readonly library: ProcessorLibraryName = 'full') {}
  async plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape> {
    return passThroughLandscape(input.digest, 'random valid edit');
  }
  async evolve(input: { digest: Digest; config: HarnessConfig; maxCandidates: number; round: number }): Promise<CandidateDraft[]> {
    const random = seededRandom(`${this.seed}|random-evolver|${input.round}`);
    const pool = validSingleEdits(input.config, this.library);
    const drafts: CandidateDraft[] = [];
    while (drafts.length < input.maxCandidates && pool.length) {
      const [pick] = pool.splice(Math.floor(random() * pool.length), 1);
      const d = draftFrom(input.config, [pick.edit], pick.bucket, `r${input.round}-c${drafts.length + 1}`, 'random valid edit', input.digest);
      if (d) drafts.push(d);
    }
    return drafts;
  }
  async critique(input: { candidates: Candidate[] }) {
    return gateAll(input.candidates);
  }
}

import { applyEdits, Edit } from '../../harness/builder';
import type { HarnessConfig } from '../../harness/config';
import { PROCESSOR_LIBRARY } from '../../harness/processors';
import { HOOKS } from '../../harness/types';
import type { CandidateDraft, MetaAgent, TriedEdit } from '../meta-agent';
import { seededRandom } from '../sampling';
import type { Bucket, Candidate, Digest, Landscape } from '../types';
import { draftFrom, gateAll, passThroughLandscape } from './common';

const BUCKET_OF: Record<string, Bucket> = { context: 'prompt', memory: 'processor', tools: 'tools', control: 'processor', observability: 'processor' };

/** Every valid single builder edit on a config: inserts of library types at their hooks, removals, budget changes. */
export function validSingleEdits(config: HarnessConfig): Array<{ edit: Edit; bucket: Bucket }> {
  const out: Array<{ edit: Edit; bucket: Bucket }> = [];
  for (const def of Object.values(PROCESSOR_LIBRARY)) {
    if (def.type === 'code') continue; // code needs a source: random search does not write programs
    for (const hook of def.hooks) out.push({ edit: { op: 'insert', hook, processor: { id: def.type, type: def.type, params: {} } }, bucket: BUCKET_OF[def.dimension] });
  }
  for (const hook of HOOKS)
    for (const p of config.hooks[hook]) {
      if (p.type !== 'system_prompt') out.push({ edit: { op: 'remove', processorId: p.id }, bucket: 'processor' });
      if (p.type === 'step_budget') for (const maxSteps of [8, 20, 30, 45]) out.push({ edit: { op: 'configure', processorId: p.id, params: { maxSteps } }, bucket: 'config' });
    }
  return out.filter(({ edit }) => applyEdits(config, [edit]).ok);
}

/** The random baseline: random valid builder edits, no digest reading, no critic. Seeded per round. */
export class RandomMetaAgent implements MetaAgent {
  readonly name = 'random';
  constructor(private readonly seed: string) {}
  async plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape> {
    return passThroughLandscape(input.digest, 'random valid edit');
  }
  async evolve(input: { digest: Digest; config: HarnessConfig; maxCandidates: number; round: number }): Promise<CandidateDraft[]> {
    const random = seededRandom(`${this.seed}|random-evolver|${input.round}`);
    const pool = validSingleEdits(input.config);
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

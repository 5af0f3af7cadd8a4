import { applyEdits, Edit } from '../../harness/builder';
import type { HarnessConfig } from '../../harness/config';
import type { CandidateDraft, CritiqueWithRevisions } from '../meta-agent';
import { editKey } from '../remedies';
import type { Bucket, Candidate, Digest, Landscape } from '../types';

/** Baselines have no Planner: their landscape is the digest's facts and one placeholder option. */
export function passThroughLandscape(digest: Digest, direction: string): Landscape {
  const failing = digest.tasks.filter((t) => t.category !== null);
  return {
    round: digest.round,
    harnessId: digest.harnessId,
    failingTasks: failing.map((t) => ({ taskId: t.taskId, category: t.category })),
    categories: [],
    implicatedComponents: [],
    editsTried: [],
    untriedBuckets: [],
    options: [{ category: failing[0]?.category ?? 'no_progress', bucket: 'processor', edits: [], key: direction, rationale: direction, direction }],
    solvedTasks: digest.tasks.filter((t) => t.passed).map((t) => t.taskId),
    unstableTasks: [],
  };
}

/** A candidate from edits, with a manifest that says what it is (baselines claim no evidence they lack). */
export function draftFrom(config: HarnessConfig, edits: Edit[], bucket: Bucket, candidateId: string, why: string, digest: Digest, evidence: string[] = []): CandidateDraft | null {
  const built = applyEdits(config, edits);
  if (!built.ok) return null;
  const failing = digest.tasks.filter((t) => t.category !== null).map((t) => t.taskId);
  return {
    candidateId,
    editKey: editKey(edits),
    bucket,
    config: built.config,
    manifest: {
      candidateId,
      bucket,
      capabilityEvidence: evidence.length ? evidence : [`baseline: ${why}`],
      changes: edits,
      predictedImpact: { tasksWillUnlock: failing.slice(0, 20), stabilize: [], atRisk: [] },
      attributionSignature: why,
    },
  };
}

/** No Critic: every candidate goes to the gate, in the evolver's order. */
export function gateAll(candidates: Candidate[]): CritiqueWithRevisions {
  return candidates.length ? { decision: 'ship_ranking', ranking: candidates.map((c) => c.candidateId), notes: ['no critic (baseline)'] } : { decision: 'no_op', reason: 'no candidates' };
}

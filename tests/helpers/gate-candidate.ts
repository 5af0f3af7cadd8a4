import type { Candidate } from '../../aegis/types';
import { applyEdits, Edit } from '../../harness/builder';
import type { HarnessConfig } from '../../harness/config';
import type { ArtifactStore } from '../../store/artifact-store';

/**
 * A one-edit candidate of `base`, stored with its harness the way the Evolver stores a round's candidates,
 * for gate tests: returns it and the candidatesRef a gate input names.
 */
export async function storeCandidate(
  store: ArtifactStore,
  base: HarnessConfig,
  o: { candidateId: string; edit: Edit; editKey: string; bucket: Candidate['bucket']; evidence: string; unlock?: string[]; signature: string },
): Promise<{ candidate: Candidate; candidatesRef: string }> {
  const built = applyEdits(base, [o.edit]);
  if (!built.ok) throw new Error(built.error.message);
  const candidate: Candidate = {
    candidateId: o.candidateId,
    harnessId: await store.putHarness(built.config),
    editKey: o.editKey,
    bucket: o.bucket,
    manifest: { candidateId: o.candidateId, bucket: o.bucket, capabilityEvidence: [o.evidence], changes: [o.edit], predictedImpact: { tasksWillUnlock: o.unlock ?? [], stabilize: [], atRisk: [] }, attributionSignature: o.signature },
  };
  return { candidate, candidatesRef: await store.put([candidate]) };
}

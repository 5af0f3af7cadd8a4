import type { Candidate, Digest } from '../aegis/types';
import type { HarnessConfig } from '../harness/config';
import type { Store } from '../store/store';
import type { RunData } from './build-report';

/** The store holds no audit record of the run: the caller knows which settings chose the store and says so. */
export class NoAuditLogError extends Error {
  constructor(readonly runId: string, location: string) {
    super(`no audit log for "${runId}" in ${location}`);
    this.name = 'NoAuditLogError';
  }
}

/** Gathers what a report needs from the artifact store: the audit log (unless the caller has read it), digests, shipped manifests and their harnesses. */
export async function loadRun(store: Store, runId: string, preloaded?: RunData['audit']): Promise<RunData> {
  const audit = preloaded ?? (await store.readAudit(runId));
  if (!audit.length) throw new NoAuditLogError(runId, store.location);
  const digests = new Map<number, Digest>();
  for (const r of audit) if (r.stage === 'digest' && r.evidenceRefs[0]) digests.set(r.round, await store.get<Digest>(r.evidenceRefs[0]));
  const shippedCandidates = new Map<string, Candidate>();
  for (const r of audit)
    if (r.stage === 'ship' && r.evidenceRefs[0] && r.candidateId) {
      const c = (await store.get<Candidate[]>(r.evidenceRefs[0])).find((x) => x.candidateId === r.candidateId);
      if (c) shippedCandidates.set(c.candidateId, c);
    }
  // Each shipped edit's harness before and after, for its diff (a harness missing from the store only loses its diff).
  const harnesses = new Map<string, HarnessConfig>();
  for (const r of audit)
    if (r.stage === 'ship')
      for (const id of [r.payload.from, r.harnessId ?? r.payload.to])
        if (typeof id === 'string' && !harnesses.has(id)) {
          const h = await store.getHarness(id).catch(() => null);
          if (h) harnesses.set(id, h);
        }
  return { runId, audit, digests, shippedCandidates, harnesses };
}

/**
 * Stored artifacts that can be recomputed are recomputed. An artifact (a content-addressed blob: a rollout's
 * traces and outcomes, a digest, a landscape, a candidate list) that is missing or damaged when an activity
 * reads it fails that activity for good, typed ARTIFACT_UNAVAILABLE with the ref (activities/boundary.ts):
 * reading it again cannot help. Everything a round reads was written earlier in the same round, from the
 * incumbent harness (stored apart and verified on read), so the workflow runs the round again from its
 * rollout: the activity that wrote the artifact runs again and writes it afresh. Pure, for the workflow.
 */

/** The Temporal failure type of an artifact that is not in the store or does not verify. */
export const ARTIFACT_UNAVAILABLE = 'ArtifactUnavailable';

/** Times one round is run again for unavailable artifacts before it ends as a no-op (never a failed run). */
export const MAX_ROUND_RECOMPUTES = 2;

export interface UnavailableArtifact {
  ref: string;
  reason: string;
  message: string;
}

/**
 * The artifact a failure says is unavailable, or null for any other failure: an ActivityFailure whose cause
 * (at any depth) is an ApplicationFailure of type ARTIFACT_UNAVAILABLE. Duck-typed (type, details, cause) so
 * this module needs no SDK; the cause chain is walked at most 8 deep.
 */
export function unavailableArtifact(error: unknown): UnavailableArtifact | null {
  let e: unknown = error;
  for (let depth = 0; depth < 8 && e && typeof e === 'object'; depth++) {
    const f = e as { type?: unknown; details?: unknown; message?: unknown; cause?: unknown };
    if (f.type === ARTIFACT_UNAVAILABLE) {
      const detail = Array.isArray(f.details) ? (f.details[0] as { ref?: unknown; reason?: unknown } | undefined) : undefined;
      return { ref: typeof detail?.ref === 'string' ? detail.ref : '(unknown)', reason: typeof detail?.reason === 'string' ? detail.reason : 'unavailable', message: typeof f.message === 'string' ? f.message : '' };
    }
    e = f.cause;
  }
  return null;
}

import { mkdtempSync, readdirSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { createActivities } from '../../activities';
import { ARTIFACT_UNAVAILABLE, unavailableArtifact } from '../../aegis/recompute';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
import { ArtifactUnavailable } from '../../store/verified-files';

/**
 * Issue 28: a missing or damaged artifact fails the activity that reads it for good, typed, with its ref
 * (retrying the read cannot help), so the workflow can run the activity that wrote it again; putting the
 * same content again repairs the stored copy. The workflow side is in tests/integration/red-team.test.ts.
 */
const newStore = () => new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-recompute-')));
const blobFile = (store: ArtifactStore, ref: string) => {
  const hex = ref.slice('sha256:'.length);
  return join(store.root, 'artifacts', hex.slice(0, 2), `${hex}.json.gz`);
};

describe('the store: an unavailable artifact is a typed error naming its ref', () => {
  test('missing, and damaged (set aside), are ArtifactUnavailable; a put of the same content repairs both', async () => {
    const store = newStore();
    const value = { traces: Array.from({ length: 50 }, (_, i) => ({ i })) };
    const ref = await store.put(value);
    truncateSync(blobFile(store, ref), 20);
    const corrupt = await store.get(ref).catch((e: unknown) => e);
    expect(corrupt).toBeInstanceOf(ArtifactUnavailable);
    expect(corrupt).toMatchObject({ ref, reason: 'corrupt' });
    const missing = await store.get(ref).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ArtifactUnavailable);
    expect(missing).toMatchObject({ ref, reason: 'missing' });
    expect(await store.put(value)).toBe(ref);
    expect(await store.get(ref)).toEqual(value);
  });

  test('re-putting identical content repairs a damaged copy nobody has read yet (truncated in place)', async () => {
    const store = newStore();
    const value = { answer: Array.from({ length: 100 }, (_, i) => `line ${i}`) };
    const ref = await store.put(value);
    truncateSync(blobFile(store, ref), 30);
    expect(await store.put(value)).toBe(ref);
    expect(await new ArtifactStore(store.root).get(ref)).toEqual(value);
    expect(readdirSync(join(store.root, 'artifacts', ref.slice(7, 9))).filter((f) => f.includes('.corrupt-'))).toEqual([]);
  });
});

describe('the activity boundary: an unavailable artifact fails the activity for good, typed, with the ref', () => {
  const bench = getBenchmark('blocksworld');
  test('digest of a rollout whose traces are gone: nonRetryable ArtifactUnavailable with the ref; other reads unchanged', async () => {
    const store = newStore();
    const activities = createActivities({ store });
    const harnessId = await store.putHarness(seedHarness());
    const roll = await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds: [bench.tasks()[0].id], k: 1, seed: 's' });
    unlinkSync(blobFile(store, roll.tracesRef));
    const spec = { metaAgent: 'rules', evolver: 'aegis', seed: 's' } as const;
    const failure = await activities.digest({ round: 1, harnessId, tracesRef: roll.tracesRef, outcomesRef: roll.outcomesRef, previousDigestRef: null, ...spec }).then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: ARTIFACT_UNAVAILABLE, nonRetryable: true, details: [{ ref: roll.tracesRef, reason: 'missing' }] });
    expect((failure as Error).message).toMatch(/^artifact sha256:[0-9a-f]{64} is not in the store at <path>$/);

    // The rollout runs again (what the workflow does): it writes the traces afresh, and the digest reads them.
    const again = await activities.rollout({ benchmark: 'blocksworld', harnessId, taskIds: [bench.tasks()[0].id], k: 1, seed: 's' });
    const digest = await activities.digest({ round: 1, harnessId, tracesRef: again.tracesRef, outcomesRef: again.outcomesRef, previousDigestRef: null, ...spec });
    expect((digest as { digestRef: string }).digestRef).toMatch(/^sha256:/);

    // A previous round's digest that is gone is not recomputable (its round is over): the digest goes on without it.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const withoutPrevious = await activities.digest({ round: 2, harnessId, tracesRef: again.tracesRef, outcomesRef: again.outcomesRef, previousDigestRef: `sha256:${'0'.repeat(64)}`, ...spec });
      expect((withoutPrevious as { digestRef: string }).digestRef).toMatch(/^sha256:/);
      expect(warn).toHaveBeenCalledWith(`digest: the previous digest sha256:${'0'.repeat(64)} is not in the store; digesting without it`);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('unavailableArtifact: what the workflow matches', () => {
  test('an ActivityFailure caused by an ArtifactUnavailable failure, and nothing else', () => {
    const cause = ApplicationFailure.create({ message: 'artifact sha256:ab is not in the store', type: ARTIFACT_UNAVAILABLE, nonRetryable: true, details: [{ ref: 'sha256:ab', reason: 'missing' }] });
    const activity = new ActivityFailure('activity failed', 'digest', '7', RetryState.NON_RETRYABLE_FAILURE, 'identity', cause);
    expect(unavailableArtifact(activity)).toEqual({ ref: 'sha256:ab', reason: 'missing', message: 'artifact sha256:ab is not in the store' });
    // Not ours: another failure type, a plain error, an activity failure with another cause, a cycle of causes.
    expect(unavailableArtifact(new ActivityFailure('x', 'digest', '7', RetryState.MAXIMUM_ATTEMPTS_REACHED, 'i', ApplicationFailure.create({ message: 'm', type: 'InvalidInput' })))).toBeNull();
    expect(unavailableArtifact(new Error('artifact sha256:ab is not in the store'))).toBeNull();
    expect(unavailableArtifact(null)).toBeNull();
    const cyclic: { cause?: unknown; type: string } = { type: 'Other' };
    cyclic.cause = cyclic;
    expect(unavailableArtifact(cyclic)).toBeNull();
    // A message that claims to be one is not: only the type counts.
    expect(unavailableArtifact(ApplicationFailure.create({ message: ARTIFACT_UNAVAILABLE, type: 'Error' }))).toBeNull();
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../activities';
import { rolloutTasks, TaskOutcome } from '../../aegis/rollout';
import { getBenchmark } from '../../benchmarks/registry';
import type { Edit } from '../../harness/builder';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
import { storeCandidate } from '../helpers/gate-candidate';

jest.setTimeout(120_000);

/**
 * The sequential gate confirms a suspected regression as soon as the candidate's regular attempts on that
 * task fail, while the rest of the chunk still runs (#31: a gate's confirmations no longer run alone in its
 * tail). rolloutTasks says when each task is done (onTaskDone), and the gate's verdict and spend are those
 * of confirming after the chunk.
 */
const blocksworld = getBenchmark('blocksworld');
const taskIds = blocksworld.tasks().filter((t) => t.split === 'train').slice(0, 24).map((t) => t.id);

describe('rolloutTasks onTaskDone', () => {
  test('gives each task its outcome once, as soon as its k attempts finish, equal to the result', async () => {
    const seen: TaskOutcome[] = [];
    const result = await rolloutTasks({ benchmark: blocksworld, config: seedHarness(), harnessId: 'hx-early', taskIds, k: 2, seed: 'early', keepTraces: false, concurrency: 6, limiters: null, onTaskDone: (o) => seen.push(o) });
    expect(seen).toHaveLength(taskIds.length);
    const byId = (xs: TaskOutcome[]) => [...xs].sort((a, b) => a.taskId.localeCompare(b.taskId));
    expect(byId(seen)).toEqual(byId(result.outcomes));
  });

  test('is not called under an allowance (a cut could leave a done task out of the result)', async () => {
    const seen: TaskOutcome[] = [];
    await rolloutTasks({ benchmark: blocksworld, config: seedHarness(), harnessId: 'hx-early', taskIds: taskIds.slice(0, 4), k: 2, seed: 'early', keepTraces: false, limiters: null, allowance: { tokens: null, usd: null }, onTaskDone: (o) => seen.push(o) });
    expect(seen).toEqual([]);
  });
});

describe('the sequential gate, confirming early', () => {
  test('reaches the verdict and spend of confirming after each chunk, on a candidate that regresses', async () => {
    // A candidate with a 3-step budget fails tasks the seed harness solves: suspects, confirmations, a rejection.
    const gateOnce = async (allowance: { tokens: null; usd: null } | undefined) => {
      const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-early-confirm-')));
      // Every model call in order, marked by whether it is a confirmation attempt (its episode seed says so).
      const calls: boolean[] = [];
      const activities = createActivities({
        store,
        substituteRolloutModel: (model, sample) => ({ id: model.id, generate: (request) => (calls.push(sample.includes('|confirm')), model.generate(request)) }),
      });
      const seed = seedHarness();
      const incumbentId = await store.putHarness(seed);
      const edit: Edit = { op: 'configure', processorId: 'step_budget', params: { maxSteps: 3 } };
      const { candidatesRef } = await storeCandidate(store, seed, { candidateId: 'c1', edit, editKey: 'configure:step_budget:{"maxSteps":3}', bucket: 'config', evidence: 'test', signature: 'fewer steps' });
      // Through the allowance-free path (confirmations start early) or with an allowance that caps nothing (after each chunk, as before).
      const verdict = await activities.gate({ benchmark: 'blocksworld', k: 2, seed: 'early-confirm', candidatesRef, candidateId: 'c1', incumbentId, gateTaskIds: taskIds, minGain: 1, sequential: { firstTaskIds: [], firstChunk: 8 }, ...(allowance ? { allowance } : {}) });
      // Confirmation calls made while regular attempts were still to come: the confirmations overlapped the chunk.
      const overlapped = calls.filter((confirm, i) => confirm && calls.slice(i + 1).some((c) => !c)).length;
      return { ...verdict, overlapped };
    };
    const early = await gateOnce(undefined);
    const after = await gateOnce({ tokens: null, usd: null });
    expect(after.passed).toBe(false);
    expect(after.regressions.length).toBeGreaterThan(0);
    const verdict = (g: typeof early) => ({ passed: g.passed, reason: g.reason, regressions: g.regressions, unlocked: g.unlocked, evaluatedTasks: g.evaluatedTasks, incumbentPassed: g.incumbentPassed, candidatePassed: g.candidatePassed });
    expect(verdict(early)).toEqual(verdict(after));
    expect(early.spend.tokens).toBe(after.spend.tokens);
    expect(early.overlapped).toBeGreaterThan(0);
    // After each chunk, a confirmation never runs beside regular attempts of the same chunk (the first
    // chunk's confirmations all end before the next chunk starts).
    expect(after.overlapped).toBe(0);
  });
});

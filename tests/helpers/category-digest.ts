import type { Digest, FailureCategory } from '../../aegis/types';

/** A digest of failing tasks of `harnessId`, each with one category (plus one passing task): what the rules agent plans from. */
export function categoryDigest(harnessId: string, round: number, failing: Array<[string, FailureCategory]>): Digest {
  return {
    round,
    harnessId,
    actionability: 1,
    traceTokens: 1,
    digestTokens: 1,
    tasks: [
      ...failing.map(([taskId, category]) => ({ taskId, passed: false, successes: 0, attempts: 2, category, categoryCounts: { [category]: 2 }, implicated: [], evidence: [`attempt 0: ${category} here`], history: [] })),
      { taskId: 'ok', passed: true, successes: 2, attempts: 2, category: null, categoryCounts: {}, implicated: [], evidence: [], history: [] },
    ],
  };
}

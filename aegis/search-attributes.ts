import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys of the search attributes the workflows keep current (registered on the dev server). */
export const SA = {
  benchmark: defineSearchAttributeKey('HarnessXBenchmark', SearchAttributeType.KEYWORD),
  taskModel: defineSearchAttributeKey('HarnessXTaskModel', SearchAttributeType.KEYWORD),
  metaModel: defineSearchAttributeKey('HarnessXMetaModel', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('HarnessXStatus', SearchAttributeType.KEYWORD),
  round: defineSearchAttributeKey('HarnessXRound', SearchAttributeType.INT),
  bestScore: defineSearchAttributeKey('HarnessXBestScore', SearchAttributeType.DOUBLE),
  harnessId: defineSearchAttributeKey('HarnessXHarnessId', SearchAttributeType.KEYWORD),
} as const;

export type RunStatusValue = 'running' | 'paused' | 'awaiting_approval' | 'completed' | 'stopped' | 'budget_exhausted';

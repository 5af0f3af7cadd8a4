import type { ProcessorDefinition } from '../processor';
import { admissibleActions, fewShot, observationFormat, systemPrompt } from './context';
import { episodeSummary, notes, slidingWindow } from './memory';
import { argValidation, toolDocs, toolRetry } from './tools';
import { formatRepair, loopDetection, planThenAct, stepBudget } from './control';
import { tracer } from './observability';
import { codeProcessor } from './code';
import { costGuard, repeatedAction, tokenBudget, toolFailureGuard } from './guards';
import { parseRetry, toolCallCorrection } from './repair';
import { selfVerify, sycophancyGuard, todoTracking } from './reasoning';
import { episodeMetrics, llmJudge, processReward } from './evaluation';
import { contextCompaction } from './compaction';
import { episodicMemory } from './episodic-memory';
import { modelRouter } from './routing';
import { skillLoader, toolFilter, toolWhitelist } from './tool-access';

/** The processor library, by type. Evolved processors (code edits) register beside these. */
export const PROCESSOR_LIBRARY: Record<string, ProcessorDefinition<any>> = Object.fromEntries(
  [
    systemPrompt, observationFormat, admissibleActions, fewShot,
    slidingWindow, episodeSummary, notes,
    toolDocs, argValidation, toolRetry,
    stepBudget, loopDetection, formatRepair, planThenAct,
    tracer,
    contextCompaction, episodicMemory, skillLoader,
    tokenBudget, costGuard, repeatedAction, parseRetry, todoTracking, selfVerify, sycophancyGuard, modelRouter,
    toolCallCorrection, toolFailureGuard, toolFilter, toolWhitelist,
    llmJudge, processReward, episodeMetrics,
    codeProcessor,
  ].map((d) => [d.type, d as ProcessorDefinition<any>]),
);

export function getProcessorDefinition(type: string): ProcessorDefinition<any> | undefined {
  return Object.prototype.hasOwnProperty.call(PROCESSOR_LIBRARY, type) ? PROCESSOR_LIBRARY[type] : undefined;
}

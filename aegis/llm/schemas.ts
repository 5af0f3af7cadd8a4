import { z } from 'zod';
import { EditSchema } from '../../harness/builder';
import { BUCKETS, FAILURE_CATEGORIES } from '../types';
import { CodeModuleSchema } from './code-modules';

/** Structured outputs of the four LLM stages. Every reply is validated against one of these. */

export const DigesterOutputSchema = z.object({
  tasks: z
    .array(
      z.object({
        taskId: z.string().min(1),
        /** What went wrong, in one or two sentences, grounded in the trace. */
        summary: z.string().min(1).max(1200),
        /** The primary failure category. */
        category: z.enum(FAILURE_CATEGORIES),
        /** Other categories the trace also shows (multi-label), strongest first. */
        secondary: z.array(z.enum(FAILURE_CATEGORIES)).max(6).default([]),
        /** Short quotes or paraphrases of trace lines that show it. */
        evidence: z.array(z.string().min(1).max(400)).min(1).max(5),
        /** Processor ids of the harness, or "missing:<type>" for a processor type the harness lacks. */
        implicated: z.array(z.string().min(1)).max(8).default([]),
      }),
    )
    .min(1),
});
export type DigesterOutput = z.infer<typeof DigesterOutputSchema>;

export const PlannerOutputSchema = z.object({
  options: z
    .array(
      z.object({
        category: z.enum(FAILURE_CATEGORIES),
        bucket: z.enum(BUCKETS),
        /** The change to make, concretely enough for the Evolver to write it. */
        direction: z.string().min(1).max(1500),
        /** Edit types this option uses, e.g. "insert:loop_detection@before_model" or "insert:code@after_model". */
        editTypes: z.array(z.string().min(1)).min(1).max(6),
        targetTasks: z.array(z.string()).max(40).default([]),
      }),
    )
    .max(8),
  /** Edit types that have not been tried yet and look applicable. */
  untriedEditTypes: z.array(z.string()).max(30),
  notes: z.string().max(2000).default(''),
});
export type PlannerOutput = z.infer<typeof PlannerOutputSchema>;

export const ProposalSchema = z.object({
  bucket: z.enum(BUCKETS),
  rationale: z.string().min(1).max(1500),
  changes: z.array(EditSchema).min(1).max(6),
  evidence: z.array(z.string().min(1).max(400)).min(1).max(8),
  predictedImpact: z.object({
    tasksWillUnlock: z.array(z.string()).max(60).default([]),
    stabilize: z.array(z.string()).max(60).default([]),
    atRisk: z.array(z.string()).max(60).default([]),
  }),
});
export type Proposal = z.infer<typeof ProposalSchema>;

/** "modules": code shared by several code processors of the reply, referenced by id (aegis/llm/code-modules.ts). */
export const EvolverOutputSchema = z.object({ modules: z.array(CodeModuleSchema).max(8).default([]), candidates: z.array(ProposalSchema).max(8) });
export type EvolverOutput = z.infer<typeof EvolverOutputSchema>;

export const CriticOutputSchema = z.discriminatedUnion('decision', [
  z.object({ decision: z.literal('ship_ranking'), ranking: z.array(z.string().min(1)).min(1), notes: z.array(z.string()).max(20).default([]) }),
  z.object({ decision: z.literal('no_op'), reason: z.string().min(1).max(2000) }),
  z.object({ decision: z.literal('revise'), candidateId: z.string().min(1), request: z.string().min(1).max(3000) }),
]);
export type CriticOutput = z.infer<typeof CriticOutputSchema>;

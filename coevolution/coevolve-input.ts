import { z } from 'zod';
import { metaAgentSchema, modelSchema, RESUME_JSON_BOUNDS, seedSchema, suiteNameSchema, withinBounds } from '../aegis/run-input';
import { EndpointLimitsSchema } from '../models/endpoint-limits';

/** The input of the coevolve workflow (pure, for the workflow bundle). */
export const CoevolveInputSchema = z
  .object({
    benchmark: suiteNameSchema(),
    model: modelSchema(),
    metaAgent: metaAgentSchema(),
    seed: seedSchema('coevolve'),
    iterations: z.number().int().min(1).max(100_000).default(4),
    k: z.number().int().min(1).max(16).default(2),
    batchSize: z.number().int().min(1).max(2000).default(40),
    validationSize: z.number().int().min(0).max(2000).default(20),
    candidatesPerRound: z.number().int().min(1).max(16).default(4),
    bufferCapacity: z.number().int().min(1).max(1_000_000).default(2000),
    /** 'grpo': harness and model co-evolve; 'none': harness only (the comparison arm). */
    trainer: z.enum(['grpo', 'none']).default('grpo'),
    /** Run a harness-only arm with the same budget and report both on the same held-out tasks. */
    compareHarnessOnly: z.boolean().default(true),
    grpo: z.object({ clip: z.number().positive().max(1).optional(), klCoef: z.number().min(0).max(10).optional(), learningRate: z.number().positive().max(10).optional(), steps: z.number().int().min(1).max(200).optional() }).strict().prefault({}),
    /** Model endpoint limits for this run, over the workers' HARNESSX_ENDPOINT_LIMITS. */
    endpointLimits: EndpointLimitsSchema.optional(),
    /** Set by continue-as-new. */
    resume: z.unknown().superRefine(withinBounds(RESUME_JSON_BOUNDS, 'resume')).optional(),
  })
  .strict();
export type CoevolveInput = z.infer<typeof CoevolveInputSchema>;

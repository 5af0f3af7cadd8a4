import { z } from 'zod';
import { metaAgentSchema, modelSchema, RESUME_JSON_BOUNDS, seedSchema, suiteNameSchema, withinBounds } from '../aegis/run-input';
import { endpointLimitsSchema } from '../models/endpoint-limits';

function buildCoevolveInputSchema() {
  return z
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
      endpointLimits: endpointLimitsSchema().optional(),
      /** Set by continue-as-new. */
      resume: z.unknown().superRefine(withinBounds(RESUME_JSON_BOUNDS, 'resume')).optional(),
    })
    .strict();
}

let built: ReturnType<typeof buildCoevolveInputSchema> | undefined;
/**
 * The input of the coevolve workflow (pure, for the workflow bundle), built on first use: every workflow
 * run evaluates the bundle's modules afresh, so a module-level schema would cost every run's first task.
 */
export function coevolveInputSchema(): ReturnType<typeof buildCoevolveInputSchema> {
  return (built ??= buildCoevolveInputSchema());
}
export type CoevolveInput = z.infer<ReturnType<typeof buildCoevolveInputSchema>>;

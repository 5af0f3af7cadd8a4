import { z } from 'zod';
import { SEED_HARNESS_JSON_BOUNDS } from '../../harness/sandbox/input-bounds';
import { metaAgentSchema, modelSchema, RESUME_JSON_BOUNDS, seedSchema, suiteNameSchema, withinBounds } from '../run-input';
import { DEFAULT_CANARY_RULES } from './canary';
import { OUTCOME_SOURCES } from './outcomes';

/**
 * The input of the deployHarness workflow: one JSON object, from `harnessx deploy start` or the Web UI's
 * Start Workflow form. Pure (zod only), so the workflow bundle can validate it first thing.
 */
/** A deployment's name is its workflow id's tail (`deploy-<name>`) and the name products pass to createAgent. */
export const DEPLOYMENT_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const deploymentWorkflowId = (name: string) => `deploy-${name}`;

function buildDeploymentInputSchema() {
  const rules = DEFAULT_CANARY_RULES;
  return z
    .object({
      name: z.string().regex(DEPLOYMENT_NAME, 'name must be lower-case letters, digits, ".", "_", "-" (at most 64), e.g. "support-prod"'),
      /** The suite it serves: its tools and verifier, replayable tasks and held-out tasks for the offline check of a candidate. */
      benchmark: suiteNameSchema(),
      model: modelSchema(),
      metaAgent: metaAgentSchema(),
      seed: seedSchema('harnessx'),
      /** The starting harness (a config object); default: the built-in seed harness for the model. */
      seedHarness: z.record(z.string(), z.unknown()).superRefine(withinBounds(SEED_HARNESS_JSON_BOUNDS, 'seedHarness')).optional(),
      /** Evolution spend per UTC day (meta-agent and offline checks); serving is never limited by it. */
      budgetPerDay: z.object({ tokens: z.number().int().min(1).optional(), usd: z.number().positive().optional() }).strict().prefault({}),
      /** A round starts when the window has this many reported runs (or, with `hours`, that long has passed with at least one run). */
      window: z.object({ runs: z.number().int().min(1).max(100_000).default(50), hours: z.number().positive().max(24 * 90).optional() }).strict().prefault({}),
      canary: z
        .object({
          share: z.number().min(0.01).max(0.5).default(0.2),
          minRuns: z.number().int().min(1).max(100_000).default(rules.minRuns),
          maxRuns: z.number().int().min(1).max(100_000).default(rules.maxRuns),
          margin: z.number().min(0).max(1).default(rules.margin),
          /** For an operator's canary (no offline check): the margin is at most this share of the champion's pass rate. */
          relativeMargin: z.number().min(0).max(1).default(rules.relativeMargin ?? 0.25),
          z: z.number().min(0).max(10).default(rules.z),
          maxFailureRate: z.number().min(0).max(1).default(rules.maxFailureRate),
          maxDrop: z.number().min(0).max(1).default(rules.maxDrop),
          /** Decide by then at the latest (by the cap rule), whatever the number of runs. */
          maxHours: z.number().positive().max(24 * 90).optional(),
        })
        .strict()
        .refine((c) => c.minRuns <= c.maxRuns, 'canary.minRuns must not exceed canary.maxRuns')
        .prefault({}),
      /** The offline check of a candidate: pass@k, tasks in the regression set, held-out tasks sampled from the suite. */
      gate: z
        .object({ k: z.number().int().min(1).max(16).default(1), regressionSetSize: z.number().int().min(0).max(2000).default(40), heldOutTasks: z.number().int().min(0).max(2000).default(20), minGain: z.number().int().min(0).max(1000).default(1) })
        .strict()
        .prefault({}),
      candidatesPerRound: z.number().int().min(1).max(16).default(4),
      /** The outcome sources this deployment counts (all by default, weighed by trust: verifier > feedback > judge > execution). */
      outcomeSources: z.array(z.enum(OUTCOME_SOURCES)).min(1).default([...OUTCOME_SOURCES]),
      /** 'between-steps': agents may adopt a newly promoted harness at a step boundary of a running task. */
      swap: z.enum(['between-runs', 'between-steps']).default('between-runs'),
      /** Agents re-read the deployment's harness at most this often (ms). */
      ttlMs: z.number().int().min(100).max(3_600_000).default(5_000),
      /** Keep only digests of live traces (no raw traces in the store). */
      keepOnlyDigests: z.boolean().default(false),
      /**
       * The rubric the harness's judge model scores live runs by (agents do it after a run, when the product's
       * own check gave no score); its scores count as the `judge` outcome source.
       */
      judge: z.object({ rubric: z.string().trim().min(20, 'judge.rubric must say what a good run is (at least 20 characters)').max(4000, 'judge.rubric: at most 4000 characters') }).strict().optional(),
      /** 'human': a candidate that passed the offline check waits for approval before its canary. */
      approval: z.enum(['auto', 'human']).default('auto'),
      /** Set by continue-as-new: the compact state the deployment carries across histories. */
      resume: z.unknown().superRefine(withinBounds(RESUME_JSON_BOUNDS, 'resume')).optional(),
    })
    .strict();
}

let schema: ReturnType<typeof buildDeploymentInputSchema> | undefined;
export function deploymentInputSchema(): ReturnType<typeof buildDeploymentInputSchema> {
  return (schema ??= buildDeploymentInputSchema());
}
export type DeploymentInput = z.infer<ReturnType<typeof buildDeploymentInputSchema>>;
export type DeploymentInputRaw = z.input<ReturnType<typeof buildDeploymentInputSchema>>;

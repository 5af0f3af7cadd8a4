import { z } from 'zod';
import { endpointLimitsSchema } from '../models/endpoint-limits';
import { DEFAULT_PROCESSOR_LIBRARY, PROCESSOR_LIBRARIES } from './library-scope';
import { capProblems, jsonBoundsProblem, JsonBounds, runIdProblem, SEED_HARNESS_JSON_BOUNDS } from '../harness/sandbox/input-bounds';

/**
 * The input of evolveHarness: one JSON object (what the Web UI's Start Workflow form sends). Validated in
 * the workflow first thing; this module is pure so the workflow bundle can import it.
 */
/** The benchmarks that ship with HarnessX: examples for forms and help; a run may name any suite its workers know. */
export const BENCHMARKS = ['blocksworld', 'gsm8k', 'humaneval', 'tau2-retail', 'webshop'] as const;
/**
 * A benchmark or user suite name (as suites/load-config.ts allows them). The workflow cannot know which suites
 * its workers loaded from their config, so it checks only the shape; the run's first activity checks that
 * the worker knows the name and fails the run non-retryably if not.
 */
export const SUITE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export function suiteNameSchema() {
  return z.string().regex(SUITE_NAME, `benchmark must be a suite name (lower-case letters, digits, ".", "_", "-"), e.g. one of: ${BENCHMARKS.join(', ')}`);
}
export const MODEL_PATTERN = /^[a-z][a-z0-9-]*:[^\s]+$/;
/** Model strings: sim:small, anthropic:claude-opus-4-6, openai:gpt-5.4, openai-compatible:qwen3.5-9b@http://localhost:8000/v1 */

/** The state continue-as-new carries: larger than a harness, still far from what overflows a serializer. */
export const RESUME_JSON_BOUNDS: JsonBounds = { maxDepth: 64, maxNodes: 2_000_000, maxChars: 20_000_000 };

/** Free-text fields of a run's input: each is copied into many activity inputs, so each is short. */
export const MAX_SEED_CHARS = 200;
export const MAX_MODEL_CHARS = 500;

/** A seed string of at most MAX_SEED_CHARS characters (or an integer), the field named in the error. */
export function seedSchema(fallback: string) {
  return z.union([z.string().min(1).max(MAX_SEED_CHARS, `seed is longer than ${MAX_SEED_CHARS} characters`), z.number().int()]).transform(String).default(fallback);
}
/** A model string of at most MAX_MODEL_CHARS characters, the field named in the error. */
export function modelSchema(field = 'model') {
  return z.string().max(MAX_MODEL_CHARS, `${field} is longer than ${MAX_MODEL_CHARS} characters`).regex(MODEL_PATTERN, `${field} must look like "provider:name", e.g. "sim:small"`).default('sim:small');
}
/** 'rules' or a model string, at most MAX_MODEL_CHARS characters. */
export function metaAgentSchema() {
  return z
    .string()
    .max(MAX_MODEL_CHARS, `metaAgent is longer than ${MAX_MODEL_CHARS} characters`)
    .refine((v) => v === 'rules' || MODEL_PATTERN.test(v), 'metaAgent must be "rules" or a model string such as "anthropic:claude-opus-4-6"')
    .default('rules');
}

/** A zod refinement: the value is JSON within `bounds` (checked without recursion). */
export function withinBounds(bounds: JsonBounds, label: string) {
  return (value: unknown, ctx: z.RefinementCtx) => {
    const problem = jsonBoundsProblem(value, bounds, label);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  };
}

/**
 * Why a workflow id cannot be a run id (it names the run's folder in the store), or null. The workflow
 * calls this first thing, before parsing its input, and fails non-retryably as InvalidInput.
 */
export function workflowIdProblem(workflowId: string): string | null {
  return runIdProblem(workflowId, 'workflow id');
}

function buildEvolveInputSchema() {
  return z
    .object({
      benchmark: suiteNameSchema(),
      model: z.string().max(MAX_MODEL_CHARS, `model is longer than ${MAX_MODEL_CHARS} characters`).regex(MODEL_PATTERN, 'model must look like "provider:name", e.g. "sim:small"').default('sim:small'),
      /** 'rules' (deterministic, offline) or a model string for the LLM meta-agent, e.g. "anthropic:claude-opus-4-6". */
      metaAgent: z
        .string()
        .max(MAX_MODEL_CHARS, `metaAgent is longer than ${MAX_MODEL_CHARS} characters`)
        .refine((v) => v === 'rules' || MODEL_PATTERN.test(v), 'metaAgent must be "rules" or a model string such as "anthropic:claude-opus-4-6"')
        .default('rules'),
      /** 'global': one harness for all tasks. 'ensemble': up to maxVariants variants, tasks routed by cluster (report §4.5). */
      strategy: z.enum(['global', 'ensemble']).default('global'),
      maxVariants: z.number().int().min(2).max(8).default(3),
      /** The evolver: AEGIS, or a baseline (same gate, same records) for comparisons. */
      evolver: z.enum(['aegis', 'single-agent', 'random', 'reflective-prompt']).default('aegis'),
      /**
       * The processor library the meta-agent proposes from: 'full' (every type and bundle) or 'core' (the 15
       * types before #30 plus code, no bundles) — for measuring whether the wider space helps. Absent in runs
       * started before the field existed: they replay as 'full', which is what they ran with.
       */
      processorLibrary: z.enum(PROCESSOR_LIBRARIES).default(DEFAULT_PROCESSOR_LIBRARY),
      // Bounded: the seed travels in every activity's input and heartbeat (a 2 MB one filled the history).
      seed: z.union([z.string().min(1).max(MAX_SEED_CHARS, `seed is longer than ${MAX_SEED_CHARS} characters`), z.number().int()]).transform(String).default('harnessx'),
      rounds: z.number().int().min(1).max(10000).default(6),
      patience: z.number().int().min(1).max(1000).default(3),
      k: z.number().int().min(1).max(16).default(2),
      batchSize: z.number().int().min(1).max(2000).default(40),
      validationSize: z.number().int().min(0).max(2000).default(30),
      candidatesPerRound: z.number().int().min(1).max(16).default(4),
      /**
       * Ranked candidates the gate evaluates at once (1 = one after another). Unset: enough to fill the
       * endpoint's episodes in flight (see gateConcurrency in aegis/gate-waves.ts). What ships does not depend
       * on it; candidates evaluated beyond the one that ships are spend the round did not need.
       */
      gateConcurrency: z.number().int().min(1).max(16).optional(),
      /**
       * Tasks in the first chunk of a sequential gate (later chunks: the same, then doubling). Unset: 8, or
       * enough to fill a local endpoint's recorded limit (sequentialFirstChunk in aegis/sequential-gate.ts).
       * Verdicts do not depend on it; what a gate spends before its verdict does.
       */
      gateChunk: z.number().int().min(1).max(2000).optional(),
      /**
       * Stages that do not depend on each other run at once (aegis/overlap.ts): held-out tracking beside the
       * next round, the gate's baseline beside the batch rollout, the seed's final evaluation from setup, and on
       * a self-hosted endpoint the next round's batch while the meta-agent works. 'auto': all of it where the
       * endpoint is the limit (not the simulator); 'on': also on the simulator and with speculation on any
       * endpoint; 'off': one stage after another. Decisions are the same either way.
       */
      overlap: z.enum(['auto', 'on', 'off']).default('auto'),
      actionabilityThreshold: z.number().min(0).max(1).default(0),
      minGain: z.number().int().min(0).max(1000).default(1),
      /**
       * 'seesaw': one pass@k comparison with confirmation re-checks of suspected regressions. 'statistical':
       * ship only when the gain beats measured run-to-run noise over `repeats` paired rollouts.
       */
      gating: z
        .object({
          mode: z.enum(['seesaw', 'statistical']).default('seesaw'),
          repeats: z.number().int().min(2).max(20).default(3),
          tCritical: z.number().min(0).max(20).default(2),
          /**
           * Validation tasks (never shown to the candidate's author) a candidate must unlock to ship, at most
           * minGain (README: "The gate decides on unseen tasks"). 0: a gain anywhere on the gate set ships, as before.
           */
          minUnseenGain: z.number().int().min(0).max(1000).default(1),
        })
        .strict()
        .prefault({}),
      /**
       * The cumulative-regression guard: every `every` rounds (0 = off) the incumbent is re-evaluated on a fixed
       * regression suite (validation tasks plus `trainSample` fixed train tasks) against the best earlier
       * harness; if it solves more than `tolerance` fewer tasks, the run rolls back to that harness.
       */
      regressionGuard: z
        .object({ every: z.number().int().min(0).max(1000).default(3), trainSample: z.number().int().min(0).max(2000).default(30), tolerance: z.number().int().min(0).max(1000).default(1) })
        .strict()
        .prefault({}),
      evaluateTest: z.boolean().default(true),
      /** Per-run budgets: the run ends cleanly (status budget_exhausted) once task-model spend reaches either. */
      maxTokens: z.number().int().min(1).optional(),
      maxUsd: z.number().positive().optional(),
      /**
       * The measurement budget: tokens for held-out tracking and the final evaluation, which never count
       * against maxTokens/maxUsd. Unset = unlimited (tracking is cached per harness, so it grows with ships).
       */
      maxMeasurementTokens: z.number().int().min(1).optional(),
      /**
       * Run the final seed-vs-evolved evaluation even when the evolution budget ran out (the default), so every
       * run of a seed is measured on the same tasks; false skips it and reports the batch pass rates seen.
       */
      finalEvaluationAfterBudget: z.boolean().default(true),
      /** Train tasks in the final seed-vs-evolved evaluation: 0 = all; N = a fixed seeded sample (paid models). */
      finalTrainTasks: z.number().int().min(0).max(100_000).default(0),
      /** Evaluate the incumbent on validation and test tasks every round (cached per harness), for reports. */
      trackHeldOut: z.boolean().default(true),
      /** 'human': a candidate that passed the gate waits for an approve/reject update before it ships. */
      approval: z.enum(['auto', 'human']).default('auto'),
      /** Keep the HarnessX* search attributes current (they must be registered on the cluster). */
      searchAttributes: z.boolean().default(true),
      /** Model endpoint limits for this run (calls in flight, requests/tokens per minute), over the workers' HARNESSX_ENDPOINT_LIMITS. */
      endpointLimits: endpointLimitsSchema().optional(),
      /** A harness config to start from; defaults to the built-in seed harness for the model. */
      seedHarness: z.record(z.string(), z.unknown()).superRefine(withinBounds(SEED_HARNESS_JSON_BOUNDS, 'seedHarness')).optional(),
      /** Set by continue-as-new: the compact state a run carries across histories. */
      resume: z.unknown().superRefine(withinBounds(RESUME_JSON_BOUNDS, 'resume')).optional(),
    })
    .strict();
}

let evolveInput: ReturnType<typeof buildEvolveInputSchema> | undefined;
/**
 * The schema, built on first use. Every workflow run evaluates this module afresh (the SDK gives each run
 * its own module state), and building ~100 zod schema objects costs milliseconds in every workflow's
 * first task, including the workflows that never parse an evolveHarness input.
 */
export function evolveInputSchema(): ReturnType<typeof buildEvolveInputSchema> {
  return (evolveInput ??= buildEvolveInputSchema());
}
export type EvolveInput = z.infer<ReturnType<typeof buildEvolveInputSchema>>;
export type EvolveInputRaw = z.input<ReturnType<typeof buildEvolveInputSchema>>;

/** The input's problems for a failure message: the first few plus a count, free of host paths. */
export function inputProblems(error: z.ZodError): string[] {
  return capProblems(error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`));
}

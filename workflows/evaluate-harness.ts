import { ApplicationFailure, patched, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import type { Activities, OutcomesResult } from '../activities';
import { evaluateSummary } from '../aegis/run-labels';
import { inputProblems, seedSchema, suiteNameSchema, workflowIdProblem } from '../aegis/run-input';
import { taskIdProblem } from '../harness/sandbox/input-bounds';
import { endpointLimitsSchema } from '../models/endpoint-limits';
import { ACTIVITY_OPTIONS } from '../temporal.config';

const rollouts = proxyActivities<Activities>(ACTIVITY_OPTIONS.rollout);

function buildEvaluateInputSchema() {
  return z
    .object({
      benchmark: suiteNameSchema(),
      harnessId: z.string().regex(/^hx-[0-9a-f]{16}$/, 'a harness id such as hx-0123456789abcdef'),
      /** Malformed ids are refused here; ids the benchmark does not have, by the rollout activity (it knows the benchmark). */
      taskIds: z
        .array(z.string())
        .min(1)
        .max(100_000)
        .superRefine((ids, ctx) => {
          for (const [i, id] of ids.entries()) {
            const problem = taskIdProblem(id);
            if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
          }
        }),
      k: z.number().int().min(1).max(16).default(2),
      seed: seedSchema('harnessx'),
      /** Tasks per rollout activity: smaller chunks spread better over workers, larger ones cost fewer round trips. */
      chunkSize: z.number().int().min(1).max(10_000).default(25),
      /** Write every episode's trace to the store and return the refs (tracesRefs); off by default, as outcomes are what an evaluation reports. */
      keepTraces: z.boolean().default(false),
      /** Model endpoint limits for this evaluation, over the workers' HARNESSX_ENDPOINT_LIMITS. */
      endpointLimits: endpointLimitsSchema().optional(),
    })
    .strict();
}

let built: ReturnType<typeof buildEvaluateInputSchema> | undefined;
/**
 * evaluateHarness's input schema, built on first use: every workflow run evaluates the bundle's modules
 * afresh (the SDK gives each run its own module state), so schemas built at module level cost the first
 * workflow task of every run of every workflow type, on the path from start to the first rollout.
 */
export function evaluateInputSchema(): ReturnType<typeof buildEvaluateInputSchema> {
  return (built ??= buildEvaluateInputSchema());
}

export interface EvaluateResult {
  passRate: number;
  passed: number;
  tasks: number;
  episodes: number;
  tokens: number;
  outcomesRefs: string[];
  /** One per rollout chunk, when the input set keepTraces. */
  tracesRefs?: string[];
}

/** Evaluates one harness on a task list: rollout activities in parallel chunks, so workers share the load. */
export async function evaluateHarness(rawInput: unknown): Promise<EvaluateResult> {
  const idProblem = workflowIdProblem(workflowInfo().workflowId);
  if (idProblem) throw ApplicationFailure.nonRetryable(`invalid evaluateHarness run: ${idProblem}`, 'InvalidInput');
  const parsed = evaluateInputSchema().safeParse(rawInput ?? {});
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid evaluateHarness input:\n${inputProblems(parsed.error).map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput');
  const { taskIds, chunkSize, keepTraces, ...rest } = parsed.data;
  const chunks: string[][] = [];
  for (let i = 0; i < taskIds.length; i += chunkSize) chunks.push(taskIds.slice(i, i + chunkSize));
  // Runs started from the Web UI carry no static summary: the current details say what this run evaluates.
  setCurrentDetails(`${evaluateSummary({ ...rest, taskIds })} · ${chunks.length} chunk(s) of up to ${chunkSize}`);
  // Runs started before evaluations dropped traces by default replay with the activity they scheduled.
  const withTraces = keepTraces || !patched('evaluate-without-traces');
  const results: Array<OutcomesResult & { tracesRef?: string }> = await Promise.all(
    chunks.map((chunk, i) => {
      // The chunk's summary in the Web UI (user metadata: not compared on replay).
      const options = { summary: `evaluation · ${rest.harnessId} · chunk ${i + 1}/${chunks.length} · ${chunk.length} tasks` };
      return withTraces ? rollouts.rollout.executeWithOptions(options, [{ ...rest, taskIds: chunk }]) : rollouts.rolloutOutcomes.executeWithOptions(options, [{ ...rest, taskIds: chunk }]);
    }),
  );
  const passed = results.reduce((n, r) => n + r.passed, 0);
  return {
    passRate: passed / taskIds.length,
    passed,
    tasks: taskIds.length,
    episodes: results.reduce((n, r) => n + r.episodes, 0),
    tokens: results.reduce((n, r) => n + r.tokens, 0),
    outcomesRefs: results.map((r) => r.outcomesRef),
    ...(keepTraces ? { tracesRefs: results.map((r) => r.tracesRef!) } : {}),
  };
}

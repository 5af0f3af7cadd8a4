import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical';
import { HOOKS, HookName } from './types';
import { executionOrder } from './ordering';
import { capProblems, HARNESS_JSON_BOUNDS, jsonBoundsProblem } from './sandbox/input-bounds';

/** M: which model serves each role, each with an optional fallback. */
export const ModelRoleSchema = z.object({
  model: z.string().min(1, 'a model string such as "sim:small"'),
  fallback: z.string().min(1).optional(),
});
export const ModelConfigSchema = z.object({
  main: ModelRoleSchema,
  judge: ModelRoleSchema.optional(),
  evaluator: ModelRoleSchema.optional(),
});

const ProcessorIdSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'lower-case id: letters, digits, "_" or "-"');
export const ProcessorSpecSchema = z.object({
  /** Unique within the harness; edits refer to processors by it. */
  id: ProcessorIdSchema,
  /** A processor type from the library (harness/processors). */
  type: z.string().min(1),
  params: z.record(z.string(), z.unknown()).default({}),
  /**
   * An explicit position within the hook: run before (or after) the processor with this id on the same
   * hook. Honoured over the default order (order class, type dependencies, id); see harness/ordering.ts.
   * Absent by default, so harnesses without positions keep their ids.
   */
  before: ProcessorIdSchema.optional(),
  after: ProcessorIdSchema.optional(),
});
export type ProcessorSpec = z.infer<typeof ProcessorSpecSchema>;

export const SlotsSchema = z.object({
  toolRegistry: z
    .object({
      exposeAll: z.boolean().default(true),
      /**
       * How many of one reply's tool calls run; the rest are answered with an error result. Unset: all of
       * them (models send several calls at once by default). No default, so existing harness ids stay.
       */
      maxCallsPerStep: z.number().int().min(1).optional(),
    })
    .prefault({}),
  tracer: z.object({ level: z.enum(['full', 'compact']).default('compact') }).prefault({}),
  workspace: z.object({ kind: z.enum(['none', 'memory']).default('none') }).prefault({}),
  sandbox: z.object({ provider: z.enum(['none', 'vm']).default('none') }).prefault({}),
  plugins: z.array(z.string()).default([]),
});

const hookShape = Object.fromEntries(HOOKS.map((h) => [h, z.array(ProcessorSpecSchema).default([])])) as Record<
  HookName,
  z.ZodDefault<z.ZodArray<typeof ProcessorSpecSchema>>
>;

/** H = (M, C): the model config and the behaviour config (processors per hook + slots). Plain data. */
export const HarnessConfigSchema = z
  .object({
    schemaVersion: z.literal(1).default(1),
    name: z.string().min(1).default('harness'),
    model: ModelConfigSchema,
    hooks: z.object(hookShape).strict().default(Object.fromEntries(HOOKS.map((h) => [h, []])) as never),
    slots: SlotsSchema.prefault({}),
  })
  .strict();
export type HarnessConfig = z.infer<typeof HarnessConfigSchema>;

export class HarnessConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid harness config:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'HarnessConfigError';
  }
}

/** The first problems plus a count, free of host paths (a config with 9,999 problems still gives a short message). */
export function formatZodIssues(error: z.ZodError): string[] {
  return capProblems(error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`));
}

/**
 * Parses, validates (size and depth bounds, schema and processor library rules) and returns the
 * canonical normal form. The bounds come first: a config nested 10,000 deep is a validation problem,
 * not a stack overflow in canonicalJson.
 */
export function parseHarnessConfig(input: unknown): HarnessConfig {
  const tooBig = jsonBoundsProblem(input, HARNESS_JSON_BOUNDS, 'the harness config');
  if (tooBig) throw new HarnessConfigError([tooBig]);
  const parsed = HarnessConfigSchema.safeParse(input);
  if (!parsed.success) throw new HarnessConfigError(formatZodIssues(parsed.error));
  return canonicalize(parsed.data);
}

/**
 * The canonical normal form: defaults applied, each hook's processors in execution order (explicit
 * before/after positions, then order class, soft type dependencies, then id), so configs that behave the
 * same are the same data.
 */
export function canonicalize(config: HarnessConfig): HarnessConfig {
  const hooks = {} as HarnessConfig['hooks'];
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const hook of HOOKS) {
    for (const spec of config.hooks[hook]) {
      if (ids.has(spec.id)) problems.push(`hooks.${hook}: processor id "${spec.id}" is used twice`);
      ids.add(spec.id);
    }
    const ordered = executionOrder(hook, config.hooks[hook]);
    if (!ordered.ok) problems.push(...ordered.problems);
    else hooks[hook] = ordered.specs;
  }
  if (problems.length) throw new HarnessConfigError(problems);
  return { ...config, hooks };
}

/** The version id: a content hash of the canonical form. */
export function harnessId(config: HarnessConfig): string {
  return 'hx-' + sha256Hex(canonicalJson(canonicalize(config))).slice(0, 16);
}

export function toJson(config: HarnessConfig): string {
  return JSON.stringify(canonicalize(config), null, 2) + '\n';
}

import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../canonical';
import { checkContract } from '../contracts';
import { defineProcessor, ProcessorOutput } from '../processor';
import { verdictOrRejection } from '../check-boundary';
import { compileProcessor, sandboxProgram } from '../sandbox/compile-processor';
import { JsonBounds, jsonBoundsProblem } from '../sandbox/input-bounds';
import { DEFAULT_SANDBOX_LIMITS, workLimitsFor } from '../sandbox/quickjs-sandbox';
import { runInSandboxThread } from '../sandbox/sandbox-host';
import { HOOKS, HookEvent } from '../types';

const JsonRecord = z.record(z.string(), z.unknown());

export const SmokeTestSchema = z.object({
  name: z.string().min(1).max(200),
  /** A synthetic event of the hook the processor is attached to. */
  event: z.object({ hook: z.enum(HOOKS) }).passthrough(),
  instruction: z.string().max(5000).default('Synthetic task for a smoke test.'),
  admissibleActions: z.array(z.string()).nullable().default(null),
  state: JsonRecord.default({}),
  /** What the processor must do with the event. */
  expect: z.enum(['unchanged', 'changed', 'interrupt']),
  /** For 'changed': text the new event's JSON must contain. */
  outputIncludes: z.string().max(500).optional(),
});
export type SmokeTest = z.infer<typeof SmokeTestSchema>;

export const CodeParamsSchema = z.object({
  /** TypeScript: `export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult`. */
  source: z.string().min(1).max(20_000),
  smokeTests: z.array(SmokeTestSchema).min(1, 'code processors ship at least one smoke test').max(20),
  /**
   * Work limit per call in nominal milliseconds: a fixed number of sandbox interrupt ticks
   * (TICKS_PER_NOMINAL_MS per ms), never wall time, so a verdict does not depend on machine load.
   */
  timeoutMs: z.number().int().min(1).max(1000).default(100),
});
export type CodeParams = z.infer<typeof CodeParamsSchema>;

const Envelope = z.object({
  result: z.unknown(),
  state: JsonRecord,
  notes: z.array(z.object({ kind: z.string(), data: z.unknown() })).max(50),
});
const MAX_OUTPUT_CHARS = 1 << 20;
/**
 * What the host accepts from the guest (result, state and notes together). The guest controls its own
 * JSON.stringify, so its output can be nested far deeper than any recursive serializer on the host (the
 * trace writer, canonicalJson, zod) survives: it is measured before the host touches it.
 */
export const SANDBOX_OUTPUT_BOUNDS: JsonBounds = { maxDepth: 64, maxNodes: 100_000, maxChars: MAX_OUTPUT_CHARS };

/** The deepest nesting of arrays and objects in JSON text, counted without parsing (strings skipped). Stops past `limit`. */
export function jsonTextDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > limit) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

export interface SandboxCallInput {
  event: HookEvent;
  instruction: string;
  admissibleActions: string[] | null;
  state: Record<string, unknown>;
}
export type SandboxCallResult =
  | { ok: true; output: ProcessorOutput; state: Record<string, unknown>; notes: Array<{ kind: string; data: unknown }>; changed: boolean; ticks: number }
  | { ok: false; reason: string };

/** One call of sandboxed processor code on one event, with the result checked against the hook contract. */
/** `program`: the compiled module wrapped by sandboxProgram (built once per processor, not per call). */
export async function callSandboxed(program: string, input: SandboxCallInput, timeoutMs: number): Promise<SandboxCallResult> {
  const run = await runInSandboxThread(program, '__hx_call', JSON.stringify(input), { ...DEFAULT_SANDBOX_LIMITS, ...workLimitsFor(timeoutMs) });
  if (!run.ok) return { ok: false, reason: `sandbox ${run.kind}: ${run.message}` };
  if (run.output.length > MAX_OUTPUT_CHARS) return { ok: false, reason: `sandbox output of ${run.output.length} chars exceeds ${MAX_OUTPUT_CHARS}` };
  if (jsonTextDepthExceeds(run.output, SANDBOX_OUTPUT_BOUNDS.maxDepth)) return { ok: false, reason: `sandbox output is nested deeper than ${SANDBOX_OUTPUT_BOUNDS.maxDepth} levels` };
  let raw: unknown;
  try {
    raw = JSON.parse(run.output);
  } catch {
    return { ok: false, reason: 'sandbox output is not JSON' };
  }
  const tooBig = jsonBoundsProblem(raw, SANDBOX_OUTPUT_BOUNDS, 'sandbox output');
  if (tooBig) return { ok: false, reason: tooBig };
  const envelope = Envelope.safeParse(raw);
  if (!envelope.success) return { ok: false, reason: `sandbox output: ${envelope.error.issues[0]?.message}` };
  const { result, state, notes } = envelope.data;
  if (result === null) return { ok: true, output: input.event, state, notes, changed: false, ticks: run.ticks };
  const r = result as { interrupt?: unknown; reason?: unknown };
  if (r && typeof r === 'object' && r.interrupt === true)
    return { ok: true, output: { interrupt: true, reason: typeof r.reason === 'string' ? r.reason.slice(0, 200) : 'interrupted by code processor' }, state, notes, changed: true, ticks: run.ticks };
  try {
    checkContract('code', input.event, result);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  return { ok: true, output: result as HookEvent, state, notes, changed: JSON.stringify(result) !== JSON.stringify(input.event), ticks: run.ticks };
}

/** `program`: the sandbox script, compiled on the checker thread (never on the caller's: see compileProcessor). */
export type CodeVerdict = { ok: true; detail: string; program: string } | { ok: false; stage: 'params' | 'compile' | 'smoke_test'; reason: string };

/**
 * What a code processor must pass before it can ship: its params parse, its source type-checks against the
 * processor interface, and every smoke test it ships passes in the sandbox on the hook it is attached to.
 */
export function verifyCodeProcessor(hook: string, params: unknown): Promise<CodeVerdict> {
  return verdictOrRejection(() => verifyUnguarded(hook, params), (reason): CodeVerdict => ({ ok: false, stage: 'compile', reason }));
}

async function verifyUnguarded(hook: string, params: unknown): Promise<CodeVerdict> {
  const parsed = CodeParamsSchema.safeParse(params);
  if (!parsed.success) return { ok: false, stage: 'params', reason: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  const compiled = await compileProcessor(parsed.data.source);
  if (!compiled.ok) return { ok: false, stage: 'compile', reason: `${compiled.stage}: ${compiled.errors.join('; ')}` };
  const program = sandboxProgram(compiled.js);
  let ticks = 0;
  for (const t of parsed.data.smokeTests) {
    if (t.event.hook !== hook) return { ok: false, stage: 'smoke_test', reason: `smoke test "${t.name}" sends a ${t.event.hook} event to a processor on ${hook}` };
    const r = await callSandboxed(program, { event: t.event as unknown as HookEvent, instruction: t.instruction, admissibleActions: t.admissibleActions, state: t.state }, parsed.data.timeoutMs);
    if (r.ok) ticks += r.ticks;
    if (!r.ok) return { ok: false, stage: 'smoke_test', reason: `smoke test "${t.name}": ${r.reason}` };
    const outcome = 'interrupt' in r.output ? 'interrupt' : r.changed ? 'changed' : 'unchanged';
    if (outcome !== t.expect) return { ok: false, stage: 'smoke_test', reason: `smoke test "${t.name}": expected ${t.expect}, got ${outcome}` };
    if (t.outputIncludes && !JSON.stringify(r.output).includes(t.outputIncludes))
      return { ok: false, stage: 'smoke_test', reason: `smoke test "${t.name}": output does not include ${JSON.stringify(t.outputIncludes)}` };
  }
  return { ok: true, program, detail: `type-checked; ${parsed.data.smokeTests.length} smoke test(s) passed in the sandbox (${ticks} work ticks)` };
}

/** verifyCodeProcessor's verdicts by hook and params: each source is type-checked and smoke-tested once per process. */
const verdicts = new Map<string, Promise<CodeVerdict>>();
export function verifyCodeProcessorOnce(hook: string, params: unknown): Promise<CodeVerdict> {
  const key = sha256Hex(canonicalJson({ hook, params }));
  let verdict = verdicts.get(key);
  if (!verdict) {
    verdict = verifyCodeProcessor(hook, params);
    if (verdicts.size >= 1000) verdicts.clear();
    verdicts.set(key, verdict);
  }
  return verdict;
}

/**
 * A processor written by the Evolver: TypeScript run in the QuickJS sandbox on every event of its hook.
 * State lives in the host between calls (JSON), so each call gets a fresh, disposable sandbox. Before its
 * first event runs, the code must pass verifyCodeProcessor (cached per source), wherever the config came
 * from: code that skipped the gate (a seed harness, a --harness file) never runs unchecked.
 */
export const codeProcessor = defineProcessor({
  type: 'code',
  dimension: 'control',
  description: 'Evolved TypeScript run in an isolated sandbox (no I/O; work, memory and stack limits) on each event of its hook.',
  hooks: HOOKS,
  meta: { order: 'normal' },
  params: CodeParamsSchema,
  create: (params) => {
    let state: Record<string, unknown> = {};
    return {
      async *process(event, ctx) {
        // The program comes from the verdict: compiled on the checker thread, so a source that would
        // overflow the compiler's stack is a rejection there, never an exception on this thread.
        const verdict = await verifyCodeProcessorOnce(event.hook, params);
        if (!verdict.ok) throw new Error(`unverified code processor refused to run: ${verdict.stage}: ${verdict.reason}`);
        const r = await callSandboxed(verdict.program, { event, instruction: ctx.task.instruction, admissibleActions: ctx.env.admissibleActions(), state }, params.timeoutMs);
        if (!r.ok) throw new Error(r.reason);
        state = r.state;
        for (const n of r.notes) ctx.trace.note(`code:${n.kind}`, n.data);
        yield r.output;
      },
    };
  },
});

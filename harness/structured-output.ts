import { z } from 'zod';
import type { Model } from './processor';
import type { ModelRequest } from './types';
import { addUsage, CachedUsage, isStructuredModel, ResponseFormat } from './structured-model';

/** The JSON value in a model's reply: a ```json fence if there is one, else the outermost {...}. Never throws. */
export function extractJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const fence = /```(?:json)?\s*\n([\s\S]*?)```/i.exec(text);
  const candidates = fence ? [fence[1]] : [];
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start !== -1 && end > start) candidates.push(text.slice(start, end + 1));
  if (!candidates.length) return { ok: false, error: 'the reply contains no JSON object' };
  let lastError = '';
  for (const c of candidates) {
    try {
      return { ok: true, value: JSON.parse(c) };
    } catch (e) {
      lastError = (e as Error).message;
    }
  }
  return { ok: false, error: `the reply's JSON does not parse: ${lastError}` };
}

export interface StageCall {
  stage: string;
  attempt: 'first' | 'repair';
  usage: CachedUsage;
  /** How the reply shape was asked for: natively (forced tool / response_format) or as JSON in text. */
  mode?: 'native' | 'text';
  /** Why the reply was refused; null when it was accepted. */
  refused: string | null;
}

export type StructuredResult<T> = { ok: true; value: T; calls: StageCall[] } | { ok: false; error: string; calls: StageCall[] };

/** The stage's zod schema as a provider reply format (JSON Schema of the value the stage must return). */
export function responseFormat(stage: string, schema: z.ZodType): ResponseFormat {
  let jsonSchema: Record<string, unknown>;
  try {
    // Output shape: fields with defaults are required, which the providers' strict modes need.
    jsonSchema = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  } catch {
    jsonSchema = { type: 'object' };
  }
  return { name: `submit_${stage.replace(/[^a-zA-Z0-9_-]/g, '_')}`, description: `Submit the ${stage} stage's reply.`, jsonSchema };
}

/**
 * One structured meta-agent call: prompt → model → extract JSON → zod schema → semantic checks. Where the
 * model's provider supports it, the schema is asked for natively (the reply is then the JSON value as
 * text); otherwise, and whenever a provider answers in prose anyway, the JSON is read from the text. An
 * invalid reply gets exactly one repair attempt that quotes the problems back; if that fails too, the
 * result says so (the caller records a stage failure — it never throws for bad model output).
 * Provider errors do throw: they are classified at the activity boundary.
 * `history`: earlier turns of the same stage (a pre-gate repair continues the Evolver's conversation).
 */
export async function callStructured<S extends z.ZodType>(input: {
  model: Model;
  stage: string;
  system: string;
  user: string;
  schema: S;
  /** Semantic checks beyond the schema (ids that must exist, edits that must apply); problems or []. */
  check?: (value: z.infer<S>) => string[];
  /**
   * Semantic checks of a reply that fails the schema, on its raw JSON (the parts that parse on their own):
   * so one repair message names every problem of the reply, not the schema's alone.
   */
  partialCheck?: (raw: unknown) => string[];
  maxTokens?: number;
  history?: Array<{ role: 'user' | 'assistant'; content: string }>;
}): Promise<StructuredResult<z.infer<S>>> {
  const calls: StageCall[] = [];
  const messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }> = [
    { role: 'system', content: input.system },
    { role: 'user', content: input.user },
    ...(input.history ?? []),
  ];
  const model = input.model;
  const format = isStructuredModel(model) ? responseFormat(input.stage, input.schema) : null;
  for (const attempt of ['first', 'repair'] as const) {
    const request: ModelRequest = { purpose: 'summarize', messages: [...messages], parts: [], tools: [], temperature: 0, maxTokens: input.maxTokens ?? 4096 };
    // The system prompt is stable per stage: providers that cache prompt prefixes are asked to.
    const response = format && isStructuredModel(model) ? await model.generateStructured(request, format, { cachePrefix: true }) : await model.generate(request);
    const problems = validate(response.text, input.schema, input.check, input.partialCheck);
    calls.push({ stage: input.stage, attempt, usage: response.usage, mode: format ? 'native' : 'text', refused: problems.ok ? null : problems.errors.join('; ') });
    if (problems.ok) return { ok: true, value: problems.value, calls };
    if (attempt === 'repair') return { ok: false, error: `${input.stage}: invalid output after one repair attempt: ${problems.errors.join('; ')}`, calls };
    messages.push(
      { role: 'assistant', content: response.text },
      { role: 'user', content: `Your reply could not be used:\n${problems.errors.map((e) => `- ${e}`).join('\n')}\nReply again with the corrected JSON object only.` },
    );
  }
  throw new Error('unreachable');
}

/** Problems a repair message lists at most (the rest are counted), so a reply broken everywhere still gets a bounded message. */
export const MAX_REPAIR_PROBLEMS = 30;

/** Every problem, up to MAX_REPAIR_PROBLEMS, then how many more there are. */
function capped(problems: string[]): string[] {
  const unique = [...new Set(problems)];
  return unique.length <= MAX_REPAIR_PROBLEMS ? unique : [...unique.slice(0, MAX_REPAIR_PROBLEMS), `… and ${unique.length - MAX_REPAIR_PROBLEMS} more problem(s) of the same reply`];
}

/**
 * A reply's value, or every problem found in it: all of the schema's issues, plus the semantic problems of
 * what parses (check on a valid reply; partialCheck on the parts of an invalid one).
 */
function validate<S extends z.ZodType>(text: string, schema: S, check?: (value: z.infer<S>) => string[], partialCheck?: (raw: unknown) => string[]): { ok: true; value: z.infer<S> } | { ok: false; errors: string[] } {
  const json = extractJson(text);
  if (!json.ok) return { ok: false, errors: [json.error] };
  const parsed = schema.safeParse(json.value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    return { ok: false, errors: capped([...issues, ...(partialCheck?.(json.value) ?? [])]) };
  }
  const semantic = check?.(parsed.data) ?? [];
  return semantic.length ? { ok: false, errors: capped(semantic) } : { ok: true, value: parsed.data };
}

/** Usage of a meta-agent's calls: tokens (cached ones named), calls, repairs (what MetaAgent.usage reports). */
export function summarizeCalls(calls: StageCall[]): MetaUsage {
  return {
    usage: calls.reduce<CachedUsage>((u, c) => addUsage(u, c.usage), { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }),
    calls: calls.length,
    repairs: calls.filter((c) => c.attempt === 'repair').length,
  };
}

/** What MetaAgent.usage reports. */
export interface MetaUsage {
  usage: CachedUsage;
  calls: number;
  repairs: number;
}

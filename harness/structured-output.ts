import type { z } from 'zod';
import type { Model } from './processor';
import type { Usage } from './types';

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
  usage: Usage;
  /** Why the reply was refused; null when it was accepted. */
  refused: string | null;
}

export type StructuredResult<T> = { ok: true; value: T; calls: StageCall[] } | { ok: false; error: string; calls: StageCall[] };

/**
 * One structured meta-agent call: prompt → model → extract JSON → zod schema → semantic checks. An
 * invalid reply gets exactly one repair attempt that quotes the problems back; if that fails too, the
 * result says so (the caller records a stage failure — it never throws for bad model output).
 * Provider errors do throw: they are classified at the activity boundary.
 */
export async function callStructured<S extends z.ZodType>(input: {
  model: Model;
  stage: string;
  system: string;
  user: string;
  schema: S;
  /** Semantic checks beyond the schema (ids that must exist, edits that must apply); problems or []. */
  check?: (value: z.infer<S>) => string[];
  maxTokens?: number;
}): Promise<StructuredResult<z.infer<S>>> {
  const calls: StageCall[] = [];
  const messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }> = [
    { role: 'system', content: input.system },
    { role: 'user', content: input.user },
  ];
  for (const attempt of ['first', 'repair'] as const) {
    const response = await input.model.generate({ purpose: 'summarize', messages, parts: [], tools: [], temperature: 0, maxTokens: input.maxTokens ?? 4096 });
    const problems = validate(response.text, input.schema, input.check);
    calls.push({ stage: input.stage, attempt, usage: response.usage, refused: problems.ok ? null : problems.errors.join('; ') });
    if (problems.ok) return { ok: true, value: problems.value, calls };
    if (attempt === 'repair') return { ok: false, error: `${input.stage}: invalid output after one repair attempt: ${problems.errors.join('; ')}`, calls };
    messages.push(
      { role: 'assistant', content: response.text },
      { role: 'user', content: `Your reply could not be used:\n${problems.errors.map((e) => `- ${e}`).join('\n')}\nReply again with the corrected JSON object only.` },
    );
  }
  throw new Error('unreachable');
}

function validate<S extends z.ZodType>(text: string, schema: S, check?: (value: z.infer<S>) => string[]): { ok: true; value: z.infer<S> } | { ok: false; errors: string[] } {
  const json = extractJson(text);
  if (!json.ok) return { ok: false, errors: [json.error] };
  const parsed = schema.safeParse(json.value);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.slice(0, 8).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`) };
  const semantic = check?.(parsed.data) ?? [];
  return semantic.length ? { ok: false, errors: semantic.slice(0, 8) } : { ok: true, value: parsed.data };
}

/** Usage of a meta-agent's calls: tokens, calls, repairs (what MetaAgent.usage reports). */
export function summarizeCalls(calls: StageCall[]): { usage: Usage; calls: number; repairs: number } {
  return {
    usage: calls.reduce((u, c) => ({ inputTokens: u.inputTokens + c.usage.inputTokens, outputTokens: u.outputTokens + c.usage.outputTokens }), { inputTokens: 0, outputTokens: 0 }),
    calls: calls.length,
    repairs: calls.filter((c) => c.attempt === 'repair').length,
  };
}

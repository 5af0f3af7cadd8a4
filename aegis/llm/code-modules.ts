import { z } from 'zod';
import type { Edit } from '../../harness/builder';
import { compileProcessor } from '../../harness/sandbox/compile-processor';

/**
 * Named code modules of one Evolver reply: a TypeScript source that several code processors (in one or
 * several candidates) use is sent once, in the reply's "modules", and a code processor's params name it
 * ({"module": "<id>", "smokeTests": [...]}) instead of carrying a copy. Before any candidate is built the
 * references are resolved, so every candidate's harness (what the gate checks, ships and stores) carries
 * the full source and is self-contained; each module is type-checked once per reply.
 */
export const CodeModuleSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'lower-case module id: letters, digits, "_" or "-"'),
  source: z.string().min(1).max(20_000),
});
export type CodeModule = z.infer<typeof CodeModuleSchema>;

interface WithChanges {
  changes: Edit[];
}

/** The params of a change that carry processor params a module may be named in (code inserts, replaces and configures). */
function paramsOf(edit: Edit): Record<string, unknown> | null {
  if ((edit.op === 'insert' || edit.op === 'replace') && edit.processor.type === 'code') return edit.processor.params;
  if (edit.op === 'configure') return edit.params;
  return null;
}

function withParams(edit: Edit, params: Record<string, unknown>): Edit {
  if (edit.op === 'insert' || edit.op === 'replace') return { ...edit, processor: { ...edit.processor, params } };
  if (edit.op === 'configure') return { ...edit, params };
  return edit;
}

/**
 * The candidates with every module reference replaced by the module's source, and every problem found
 * (all of them, each naming where: a reference to a module the reply does not define, a change giving both
 * "module" and "source", a module id defined twice).
 */
export function resolveModules<C extends WithChanges>(candidates: C[], modules: CodeModule[], label: (i: number) => string = (i) => `candidates.${i}`): { candidates: C[]; problems: string[] } {
  const problems: string[] = [];
  const byId = new Map<string, CodeModule>();
  modules.forEach((m, i) => {
    if (byId.has(m.id)) problems.push(`modules.${i}.id: module "${m.id}" is defined twice`);
    else byId.set(m.id, m);
  });
  const resolved = candidates.map((c, i) => ({
    ...c,
    changes: c.changes.map((edit, j) => {
      const params = paramsOf(edit);
      if (!params || !('module' in params)) return edit;
      const at = `${label(i)}.changes.${j}.${edit.op === 'configure' ? 'params' : 'processor.params'}`;
      const { module: name, ...rest } = params;
      if (typeof name !== 'string') {
        problems.push(`${at}.module: must be the id of one of the reply's "modules"`);
        return edit;
      }
      if ('source' in rest) {
        problems.push(`${at}: give "module" or "source", not both`);
        return edit;
      }
      const module = byId.get(name);
      if (!module) {
        problems.push(`${at}.module: no module "${name}" in this reply's "modules" (${[...byId.keys()].join(', ') || 'none defined'})`);
        return edit;
      }
      return withParams(edit, { ...rest, source: module.source });
    }),
  }));
  return { candidates: resolved, problems };
}

/** Each module type-checked once (compileProcessor caches verdicts per source text); the problems of those that fail. */
export async function moduleProblems(modules: CodeModule[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const m of modules) {
    const compiled = await compileProcessor(m.source);
    if (!compiled.ok) out.set(m.id, `${compiled.stage}: ${compiled.errors.join('; ')}`);
  }
  return out;
}

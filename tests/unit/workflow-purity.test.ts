import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * Workflow code must stay deterministic: workflow files, and every module they import at run time
 * (type-only imports are erased), may not reach Node built-ins, the file system or provider SDKs.
 */
const ROOT = resolve(__dirname, '../..');
const FORBIDDEN = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'openai', '@anthropic-ai/sdk', '@temporalio/activity', '@temporalio/worker', '@temporalio/client']);
const IMPORT = /^\s*(import|export)\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/gm;

function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[2] ?? m[3] ?? m[4];
    if (spec) out.push(spec);
  }
  return out;
}

function resolveLocal(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return null;
}

export function forbiddenReach(entry: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) {
        const next = resolveLocal(file, spec);
        if (next) visit(next, [...chain, next.replace(ROOT + '/', '')]);
      } else if (FORBIDDEN.has(spec) || FORBIDDEN.has(spec.split('/')[0])) {
        problems.push(`${[...chain].join(' → ')} imports "${spec}"`);
      }
    }
  };
  visit(entry, [entry.replace(ROOT + '/', '')]);
  return problems;
}

describe('workflow determinism guard', () => {
  const files = readdirSync(join(ROOT, 'workflows')).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, 'workflows', f));
  it.each(files)('%s reaches no Node built-in, file system or provider SDK', (file) => {
    expect(forbiddenReach(file)).toEqual([]);
  });
  it('catches a forbidden import reached through a helper (the guard can fail)', () => {
    expect(forbiddenReach(join(ROOT, 'activities/index.ts')).length).toBeGreaterThan(0);
  });
});

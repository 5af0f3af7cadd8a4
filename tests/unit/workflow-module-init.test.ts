import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Every workflow run evaluates the workflow bundle's modules afresh (the SDK gives each run its own module
 * state), so whatever a module builds at its top level is paid in the first workflow task of every run, on
 * the path from an evaluation's start to its first rollout. Zod schemas are the costly kind (measured: module
 * initialisation was half the workflow thread's time per evaluateHarness run, ~6 ms of ~12 ms under load,
 * bench/ratio-profile.ts); they are built on first use instead (evaluateInputSchema(), endpointLimitsSchema(),
 * coevolveInputSchema(), evolveInputSchema(), deploymentInputSchema()).
 */

const ROOT = join(__dirname, '..', '..');

/** Top-level declarations (column 0) whose value is built with zod or a schema builder at module load. */
export function moduleLevelSchemas(source: string): string[] {
  const found: string[] = [];
  const declaration = /^(?:export\s+)?(?:const|let|var)\s+(\w+)\s*(?::[^=\n]+)?=(?=([\s\S]{0,200}))/gm;
  for (const m of source.matchAll(declaration)) {
    const value = m[2].replace(/^\s+/, '');
    if (/^z\s*[.\n]/.test(value) || /^z\b\s*$/.test(value.split('\n')[0]) || /^\w+Schema\s*\(/.test(value)) found.push(m[1]);
  }
  return found;
}

/** The project's modules a workflow bundle loads: workflows/index.ts and its value imports, transitively (type-only imports are erased). */
function bundleModules(): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'/gm)) {
      if (m[1]) continue;
      const base = resolve(dirname(file), m[2]);
      const target = [`${base}.ts`, join(base, 'index.ts')].find(existsSync);
      if (target) visit(target);
    }
  };
  visit(join(ROOT, 'workflows', 'index.ts'));
  return [...seen];
}

describe('workflow bundle modules build no zod schema at load', () => {
  it('finds the workflow modules (evaluate-harness, run-input, endpoint-limits among them)', () => {
    const files = bundleModules().map((f) => f.slice(ROOT.length + 1));
    expect(files).toEqual(expect.arrayContaining(['workflows/evaluate-harness.ts', 'aegis/run-input.ts', 'models/endpoint-limits.ts', 'coevolution/coevolve-input.ts']));
  });

  it('no module of the bundle declares a schema at its top level', () => {
    const offenders = bundleModules().flatMap((f) => moduleLevelSchemas(readFileSync(f, 'utf8')).map((name) => `${f.slice(ROOT.length + 1)}: ${name}`));
    expect(offenders).toEqual([]);
  });

  it('the check accepts schemas built in functions and rejects module-level ones, however they are written', () => {
    const lazy = "let built: S | undefined;\nexport function evaluateInputSchema() {\n  return (built ??= z.object({ a: z.string() }));\n}\nconst rollouts = proxyActivities<A>(OPTIONS);\nexport const MAX = 5;";
    expect(moduleLevelSchemas(lazy)).toEqual([]);
    expect(moduleLevelSchemas("export const EvaluateInputSchema = z.object({ a: z.string() });")).toEqual(['EvaluateInputSchema']);
    // The forms the codebase uses: the chain on the next line, a type annotation, a builder call.
    expect(moduleLevelSchemas("export const Input = z\n  .object({ a: z.string() })\n  .strict();")).toEqual(['Input']);
    expect(moduleLevelSchemas("const limits: z.ZodType = z.record(z.string(), z.number());")).toEqual(['limits']);
    expect(moduleLevelSchemas("const seed = seedSchema('x').optional();")).toEqual(['seed']);
    // One declaration right after another is read too.
    expect(moduleLevelSchemas("const rollouts = proxyActivities<A>(OPTIONS);\n\nexport const Input = z\n  .object({})\n  .strict();")).toEqual(['Input']);
  });
});

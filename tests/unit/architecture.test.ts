import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import * as ts from 'typescript';

/**
 * Dependencies flow one way. Each top-level directory is a layer and may import only the layers listed
 * for it here: bench → cli → workers, workflows → activities → aegis, coevolution, store, report → models,
 * benchmarks → harness. User task suites (suites/: config loading, MCP and function tools, verifiers) sit
 * beside benchmarks and register into its registry; library/ (createAgent, the package entry) and telemetry/
 * (OpenTelemetry setup) are used by the CLI and workers. Within the aegis/coevolution/store/report layer the order is report → coevolution →
 * store → aegis, so those four cannot form a circle either. models/ and benchmarks/ sit side by side and
 * never import each other: what a benchmark's environment needs from a model (its simulated user) and what
 * the simulator may know about a task (Benchmark.simulatorBrief) are passed in by the run wiring
 * (aegis/rollout.ts); the contract types both share live in harness/. Top-level files (temporal.config.ts)
 * are shared configuration: every layer may import them, and they import no layer.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  bench: ['cli', 'library', 'workers', 'workflows', 'activities', 'report', 'coevolution', 'store', 'aegis', 'suites', 'telemetry', 'models', 'benchmarks', 'harness'],
  cli: ['library', 'workers', 'workflows', 'activities', 'report', 'coevolution', 'store', 'aegis', 'suites', 'telemetry', 'models', 'benchmarks', 'harness'],
  library: ['store', 'aegis', 'suites', 'telemetry', 'models', 'benchmarks', 'harness'],
  workers: ['workflows', 'activities', 'report', 'coevolution', 'store', 'aegis', 'suites', 'telemetry', 'models', 'benchmarks', 'harness'],
  workflows: ['activities', 'report', 'coevolution', 'store', 'aegis', 'models', 'benchmarks', 'harness'],
  activities: ['report', 'coevolution', 'store', 'aegis', 'suites', 'telemetry', 'models', 'benchmarks', 'harness'],
  report: ['coevolution', 'store', 'aegis', 'models', 'benchmarks', 'harness'],
  coevolution: ['store', 'aegis', 'models', 'benchmarks', 'harness'],
  store: ['aegis', 'models', 'benchmarks', 'harness'],
  aegis: ['models', 'benchmarks', 'harness'],
  suites: ['benchmarks', 'harness'],
  telemetry: ['harness'],
  models: ['harness'],
  benchmarks: ['harness'],
  harness: [],
};
const TOP_LEVEL = 'top-level files';
/** Not part of the layered code: tests may import anything; the rest holds no TypeScript of the product. */
const SKIPPED_DIRS = new Set(['node_modules', 'tests', 'bin', 'docs', 'examples', 'dist']);

interface ImportEdge {
  /** Repo-relative paths with "/" separators. */
  from: string;
  to: string;
}

const layerOf = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : TOP_LEVEL);

/** Every import that runs against the layer order, as "from → to (layer → layer)". */
function layerViolations(edges: ImportEdge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = layerOf(from);
    const b = layerOf(to);
    if (a === b || b === TOP_LEVEL) continue;
    const allowed = a === TOP_LEVEL ? [] : MAY_IMPORT[a];
    if (!allowed) out.push(`${from}: "${a}" is not a known layer; add it to MAY_IMPORT in tests/unit/architecture.test.ts`);
    else if (!allowed.includes(b)) out.push(`${from} → ${to} (${a} may not import ${b})`);
  }
  return out;
}

/** Import circles between files (strongly connected components of more than one file, or a file importing itself). */
function importCycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (next.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

const ROOT = join(__dirname, '..', '..');

function sourceFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name.startsWith('.') || (dir === ROOT && SKIPPED_DIRS.has(entry.name)) ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The repo's relative imports (import, import type, export … from, require, import()), resolved to files. */
function repoImports(): { edges: ImportEdge[]; unresolved: string[] } {
  const edges: ImportEdge[] = [];
  const unresolved: string[] = [];
  const repoPath = (abs: string) => relative(ROOT, abs).split(sep).join('/');
  for (const file of sourceFiles()) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (!specifier.startsWith('.')) continue;
      const base = normalize(join(dirname(file), specifier));
      const target = [`${base}.ts`, join(base, 'index.ts'), base].find((c) => existsSync(c) && statSync(c).isFile());
      if (target) edges.push({ from: repoPath(file), to: repoPath(target) });
      else unresolved.push(`${repoPath(file)}: "${specifier}"`);
    }
  }
  return { edges, unresolved };
}

describe('the layer checker (on synthetic imports, so it is known to fail when it should)', () => {
  test('flags models ↔ benchmarks in either direction, every upward import and unknown layers', () => {
    const edges: ImportEdge[] = [
      { from: 'models/sim/skills/gsm8k.ts', to: 'benchmarks/registry.ts' },
      { from: 'benchmarks/tau2-retail/index.ts', to: 'models/registry.ts' },
      { from: 'benchmarks/tau2-retail/index.ts', to: 'aegis/llm/structured-output.ts' },
      { from: 'harness/run-loop.ts', to: 'benchmarks/types.ts' },
      { from: 'activities/index.ts', to: 'workflows/evolve-harness.ts' },
      { from: 'aegis/rollout.ts', to: 'store/artifact-store.ts' },
      { from: 'temporal.config.ts', to: 'harness/types.ts' },
      { from: 'scripts/tool.ts', to: 'harness/types.ts' },
    ];
    expect(layerViolations(edges)).toEqual([
      'models/sim/skills/gsm8k.ts → benchmarks/registry.ts (models may not import benchmarks)',
      'benchmarks/tau2-retail/index.ts → models/registry.ts (benchmarks may not import models)',
      'benchmarks/tau2-retail/index.ts → aegis/llm/structured-output.ts (benchmarks may not import aegis)',
      'harness/run-loop.ts → benchmarks/types.ts (harness may not import benchmarks)',
      'activities/index.ts → workflows/evolve-harness.ts (activities may not import workflows)',
      'aegis/rollout.ts → store/artifact-store.ts (aegis may not import store)',
      'temporal.config.ts → harness/types.ts (top-level files may not import harness)',
      'scripts/tool.ts: "scripts" is not a known layer; add it to MAY_IMPORT in tests/unit/architecture.test.ts',
    ]);
  });

  test('accepts imports down the layers, within a layer, and of shared top-level config', () => {
    expect(
      layerViolations([
        { from: 'cli/main.ts', to: 'harness/config.ts' },
        { from: 'workflows/evolve-harness.ts', to: 'temporal.config.ts' },
        { from: 'aegis/rollout.ts', to: 'models/registry.ts' },
        { from: 'aegis/rollout.ts', to: 'benchmarks/types.ts' },
        { from: 'report/html.ts', to: 'store/artifact-store.ts' },
        { from: 'models/sim/sim-model.ts', to: 'harness/task-brief.ts' },
        { from: 'harness/config.ts', to: 'harness/ordering.ts' },
      ]),
    ).toEqual([]);
  });

  test('finds import circles, including ones through several files, and none in a chain', () => {
    expect(importCycles([
      { from: 'harness/config.ts', to: 'harness/ordering.ts' },
      { from: 'harness/ordering.ts', to: 'harness/config.ts' },
      { from: 'a/x.ts', to: 'a/y.ts' },
      { from: 'a/y.ts', to: 'a/z.ts' },
      { from: 'a/z.ts', to: 'a/x.ts' },
      { from: 'a/z.ts', to: 'harness/config.ts' },
      { from: 'b/self.ts', to: 'b/self.ts' },
    ])).toEqual([['harness/config.ts', 'harness/ordering.ts'], ['a/x.ts', 'a/y.ts', 'a/z.ts'], ['b/self.ts']]);
    expect(importCycles([{ from: 'a.ts', to: 'b.ts' }, { from: 'b.ts', to: 'c.ts' }, { from: 'a.ts', to: 'c.ts' }])).toEqual([]);
  });
});

describe("the repository's imports", () => {
  const { edges, unresolved } = repoImports();

  test('are all seen: every relative import resolves to a file, and the known edges are there', () => {
    expect(unresolved).toEqual([]);
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: 'aegis/rollout.ts', to: 'harness/run-loop.ts' });
    expect(edges).toContainEqual({ from: 'models/sim/sim-model.ts', to: 'harness/task-brief.ts' });
    expect(edges).toContainEqual({ from: 'harness/config.ts', to: 'harness/ordering.ts' });
  });

  test('models/ and benchmarks/ never import each other', () => {
    const crossing = edges.filter(({ from, to }) => new Set([layerOf(from), layerOf(to)]).size === 2 && [layerOf(from), layerOf(to)].every((l) => l === 'models' || l === 'benchmarks'));
    expect(crossing).toEqual([]);
  });

  test('never run upward in the layer order', () => {
    expect(layerViolations(edges)).toEqual([]);
  });

  test('form no circle between files', () => {
    expect(importCycles(edges)).toEqual([]);
  });
});

import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative, sep } from 'node:path';
import * as ts from 'typescript';

/**
 * The package entry (library/index.ts) is what `import … from 'harnessx'` loads in a user's process: it
 * must not reach the CLI, Temporal workers/workflows/activities or test code, and every package it needs
 * must be a runtime dependency (a devDependency is not installed for users).
 */
const ROOT = join(__dirname, '..', '..');
const FORBIDDEN_DIRS = ['cli/', 'workers/', 'workflows/', 'activities/', 'tests/', 'bench/'];
const FORBIDDEN_PACKAGES = [/^@temporalio\//, /^jest$/, /^@jest\//, /^@swc\//, /^playwright/];

interface Graph {
  /** Repo-relative files reached, each with the file that first imported it. */
  files: Map<string, string | null>;
  /** Package specifiers (not relative, not node builtins) with a file importing each. */
  packages: Map<string, string>;
}

/** Every file and package reachable from `entry` by import, import type, export … from, require or import(). */
function importGraph(entry: string): Graph {
  const files = new Map<string, string | null>();
  const packages = new Map<string, string>();
  const repoPath = (abs: string) => relative(ROOT, abs).split(sep).join('/');
  const visit = (abs: string, from: string | null) => {
    const here = repoPath(abs);
    if (files.has(here)) return;
    files.set(here, from);
    for (const { fileName: specifier } of ts.preProcessFile(readFileSync(abs, 'utf8'), true, true).importedFiles) {
      if (!specifier.startsWith('.')) {
        const bare = specifier.replace(/^node:/, '');
        if (!builtinModules.includes(bare.split('/')[0]) && !packages.has(specifier)) packages.set(specifier, here);
        continue;
      }
      const base = normalize(join(dirname(abs), specifier));
      const target = [`${base}.ts`, join(base, 'index.ts'), base].find((c) => existsSync(c) && statSync(c).isFile());
      if (!target) throw new Error(`${here}: import "${specifier}" does not resolve`);
      visit(target, here);
    }
  };
  visit(join(ROOT, entry), null);
  return { files, packages };
}

/** How `file` was reached from the entry: "library/index.ts → … → file". */
function chain(graph: Graph, file: string): string {
  const path = [file];
  for (let at = graph.files.get(file); at; at = graph.files.get(at)) path.unshift(at);
  return path.join(' → ');
}

function violations(graph: Graph, dependencies: string[]): string[] {
  const out: string[] = [];
  for (const file of graph.files.keys()) if (FORBIDDEN_DIRS.some((d) => file.startsWith(d))) out.push(`reaches ${chain(graph, file)}`);
  for (const [pkg, from] of graph.packages) {
    const name = pkg.startsWith('@') ? pkg.split('/').slice(0, 2).join('/') : pkg.split('/')[0];
    if (FORBIDDEN_PACKAGES.some((p) => p.test(pkg))) out.push(`imports ${pkg} (${chain(graph, from)})`);
    else if (!dependencies.includes(name)) out.push(`imports ${pkg}, which is not in package.json dependencies (${chain(graph, from)})`);
  }
  return out;
}

const dependencies = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies);

describe('the package entry library/index.ts', () => {
  it('reaches no CLI, worker, workflow, activity or test code and no Temporal/test package; its packages are runtime dependencies', () => {
    const graph = importGraph('library/index.ts');
    expect(violations(graph, dependencies)).toEqual([]);
    // It does reach what it exports: the run loop, the processors, the providers, function tools.
    for (const file of ['harness/run-loop.ts', 'harness/processors/index.ts', 'models/registry.ts', 'suites/function-tools.ts', 'library/create-agent.ts']) expect(graph.files.has(file)).toBe(true);
    expect([...graph.packages.keys()]).toEqual(expect.arrayContaining(['zod', 'openai', '@anthropic-ai/sdk']));
  });

  it('the check itself flags what it should: the CLI entry reaches workers, workflows and @temporalio/worker', () => {
    const found = violations(importGraph('cli/main.ts'), dependencies.filter((d) => d !== 'zod'));
    expect(found.some((v) => v.startsWith('reaches cli/main.ts'))).toBe(true);
    expect(found.some((v) => /^reaches cli\/main\.ts → .*workers\//.test(v))).toBe(true);
    expect(found.some((v) => /^imports @temporalio\/worker /.test(v))).toBe(true);
    expect(found.some((v) => v.startsWith('imports zod, which is not in package.json dependencies'))).toBe(true);
  });
});

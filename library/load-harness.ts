import { existsSync, statSync } from 'node:fs';
import { parseJsonQuietly, readBoundedText } from '../harness/bounded-file';
import { dirname, resolve } from 'node:path';
import { HarnessConfig, HarnessConfigError, parseHarnessConfig } from '../harness/config';

/**
 * A harness that could not be loaded: `source` says where it came from (the file, or "harness JSON" /
 * "harness object"), `issues` lists each problem as "field.path: what was expected" when the content was
 * read but is not a valid harness.
 */
export class HarnessLoadError extends Error {
  constructor(readonly source: string, message: string, readonly issues: string[] = []) {
    super(`${source}: ${message}${issues.length ? `\n${issues.map((i) => `  - ${i}`).join('\n')}` : ''}`);
    this.name = 'HarnessLoadError';
  }
}

/**
 * Loads a harness as HarnessX writes it, and validates it with the harness schema and the processor
 * library's rules (known types, allowed hooks, valid params, singleton groups). Accepts:
 * - a path to a harness JSON file: what the store keeps (.harnessx/data/harnesses/hx-….json, the
 *   `harnessPath` that `evolve` prints) and what `--harness` takes;
 * - a path to the JSON summary `harnessx evolve --json` prints (its `harnessPath` is followed, relative to
 *   the summary's folder when not absolute);
 * - JSON text (a string starting with "{"), or an already-parsed object.
 * Returns the canonical form (defaults applied, processors in execution order). Code processors are
 * type-checked and smoke-tested before their first event runs (harness/processors/code.ts), not here.
 */
export function loadHarness(pathOrJson: string | object): HarnessConfig {
  if (typeof pathOrJson === 'object' && pathOrJson !== null) return validated(pathOrJson, 'harness object');
  if (typeof pathOrJson !== 'string' || !pathOrJson.trim())
    throw new HarnessLoadError('loadHarness', `expected a harness file path, JSON text or object, got ${pathOrJson === '' ? 'an empty string' : typeof pathOrJson}`);
  if (pathOrJson.trimStart().startsWith('{')) return validated(parseJson(pathOrJson, 'harness JSON'), 'harness JSON');
  return loadFile(pathOrJson, 0);
}

function loadFile(path: string, depth: number): HarnessConfig {
  const source = `harness file ${path}`;
  if (!existsSync(path)) throw new HarnessLoadError(source, 'no such file');
  if (statSync(path).isDirectory()) throw new HarnessLoadError(source, 'is a directory, not a harness JSON file');
  let text: string;
  try {
    text = readBoundedText(path, 'the file');
  } catch (e) {
    throw new HarnessLoadError(source, (e as NodeJS.ErrnoException).code ? `cannot be read (${(e as NodeJS.ErrnoException).code})` : (e as Error).message.replace(/^the file /, ''));
  }
  const value = parseJson(text, source);
  const summaryPath = evolveSummaryHarnessPath(value);
  if (summaryPath !== null) {
    // One hop only: a summary pointing at another summary is not something HarnessX writes.
    if (depth > 0) throw new HarnessLoadError(source, 'is a run summary, expected the harness file it points to');
    return loadFile(resolve(dirname(path), summaryPath), depth + 1);
  }
  return validated(value, source);
}

/** The `harnessPath` of an `evolve --json` summary (it has no `model`/`hooks` of its own), else null. */
function evolveSummaryHarnessPath(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  return typeof v.harnessPath === 'string' && !('model' in v) && !('hooks' in v) ? v.harnessPath : null;
}

function parseJson(text: string, source: string): unknown {
  try {
    return parseJsonQuietly(text, 'it');
  } catch (e) {
    // Without the text: a file given by mistake is not echoed into errors.
    throw new HarnessLoadError(source, (e as Error).message.replace(/^it /, ''));
  }
}

function validated(value: unknown, source: string): HarnessConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HarnessLoadError(source, `expected a harness config object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  try {
    return parseHarnessConfig(value);
  } catch (e) {
    if (e instanceof HarnessConfigError) throw new HarnessLoadError(source, 'invalid harness config', e.issues);
    throw e;
  }
}

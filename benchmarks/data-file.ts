import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A benchmark data file's text; a failure names the file. */
export function readDataFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/** The non-empty lines of a JSONL data file, each parsed by `parse` (an error names the file and line). */
export function readJsonLines<T>(path: string, parse: (line: string, index: number) => T): T[] {
  const out: T[] = [];
  readDataFile(path).split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(parse(line, i));
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`);
    }
  });
  return out;
}

/** A JSON data file; a read or parse failure names the file. */
export function readJsonFile<T>(path: string): T {
  const text = readDataFile(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/** A task found in a data file but not loaded, with why (check-benchmark lists every one). */
export interface ExcludedTask {
  id: string;
  file: string;
  reason: string;
  /** The gold action that makes the task unscorable, when that is the reason. */
  action?: { index: number; name: string; arguments: Record<string, unknown> };
  error?: string;
}

/** Something a loaded task's data needed (e.g. a gold action skipped), so users see it rather than guess. */
export interface TaskNote {
  id: string;
  note: string;
}

/** A benchmark that reports what loading its data left out or worked around (check-benchmark prints it). */
export interface ReportsLoading {
  excludedTasks(): ExcludedTask[];
  taskNotes?(): TaskNote[];
}

/** The data files of a folder whose names match, sorted by name (so loading order never depends on the file system). */
export function dataFiles(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new Error(`${dir}: ${(e as Error).message}`);
  }
  const files = names.filter((n) => pattern.test(n)).sort();
  if (!files.length) throw new Error(`${dir}: no data file matching ${pattern}`);
  return files.map((n) => join(dir, n));
}

/**
 * Tasks keyed by id from several files: a task id in two files is an error naming both (a duplicate would
 * otherwise silently replace the first).
 */
export class TaskIndex<T> {
  private readonly byId = new Map<string, { task: T; file: string }>();
  add(id: string, task: T, file: string): void {
    const seen = this.byId.get(id);
    if (seen) throw new Error(`duplicate task "${id}": in ${seen.file} and in ${file}`);
    this.byId.set(id, { task, file });
  }
  get(id: string): T | undefined {
    return this.byId.get(id)?.task;
  }
  fileOf(id: string): string | undefined {
    return this.byId.get(id)?.file;
  }
  values(): T[] {
    return [...this.byId.values()].map((v) => v.task);
  }
}

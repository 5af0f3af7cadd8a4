import { readFileSync } from 'node:fs';

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

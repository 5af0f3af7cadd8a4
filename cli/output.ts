import { writeFileSync } from 'node:fs';
import { writingTo } from './errors';

/**
 * The human-readable log of a command: stdout, or stderr with --json so that stdout carries only the JSON
 * result (its last line).
 */
export function say(json: boolean): (line: string) => void {
  return (line: string) => (json ? process.stderr : process.stdout).write(line + '\n');
}

/** The machine-readable result of a --json command: one line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** A rate as a percentage with one decimal; "n/a" when there is none. */
export const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/** Writes a file the user asked for (--out, --save); a failure is one line naming the path and the cause. */
export function writeOutputFile(path: string, data: string | Uint8Array): void {
  writingTo(path, () => writeFileSync(path, data));
}

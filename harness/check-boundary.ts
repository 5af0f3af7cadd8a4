import { scrubHostPaths } from './sandbox/input-bounds';

/**
 * The one boundary where checking a candidate or seed harness turns into a verdict. A check may throw for
 * reasons of the candidate's making (an output nested 200,000 deep that overflows a recursive serializer,
 * a type that overflows the transpiler's stack) or of ours; either way the candidate is rejected with the
 * reason and the run goes on. Letting the exception out would fail the activity, be retried with the same
 * candidate, and fail the run: one bad candidate must never cost more than itself.
 */
export function internalCheckError(e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const line = scrubHostPaths(text.split('\n')[0]);
  return `internal error while checking: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`;
}

/** `check()`, or `rejected(reason)` when it throws (see internalCheckError). */
export async function verdictOrRejection<T>(check: () => T | Promise<T>, rejected: (reason: string) => T): Promise<T> {
  try {
    return await check();
  } catch (e) {
    return rejected(internalCheckError(e));
  }
}

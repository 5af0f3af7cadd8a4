import { dirname, resolve, sep } from 'node:path';
import { getSystemErrorMap, inspect, types } from 'node:util';
import { ProviderError } from '../models/errors';
import { TemporalCliMissing } from './temporal-cli';

/** Bad flags, arguments or input: the message says what to change; exit code 2. */
export class UsageError extends Error {}

/** A write to a path the user gave failed; the message is one line naming the path and the cause. */
export class OutputFileError extends Error {}

/** An error from a system call (fs, net): Node sets `code`, `syscall` and often `path`. */
interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall: string;
  path?: string;
  dest?: string;
}

/** Also true for errors made in another realm (a vm context, as under jest), where instanceof Error fails. */
function isError(e: unknown): e is Error {
  return e instanceof Error || types.isNativeError(e);
}

function isSystemError(e: unknown): e is SystemError {
  return isError(e) && typeof (e as SystemError).code === 'string' && typeof (e as SystemError).syscall === 'string';
}

/** Causes said the way a user writing a file thinks of them (libuv's wording is kept for the rest). */
const WRITE_CAUSES: Record<string, (path: string) => string> = {
  EISDIR: () => 'it is a directory',
  ENOENT: (path) => `directory ${dirname(path)} does not exist`,
  ENOTDIR: () => 'a part of its path is not a directory',
};

/** "no space left on device (ENOSPC)": libuv's description of the code, then the code. */
function describeSystemError(e: SystemError): string {
  const described = (e.errno !== undefined ? getSystemErrorMap().get(e.errno)?.[1] : undefined) ?? /^[A-Z0-9_]+: ([^,]+)/.exec(e.message)?.[1] ?? e.message;
  return `${described} (${e.code})`;
}

/** True when the failed call was about `path` itself, a directory on the way to it, or had no path (a write on its descriptor). */
function concerns(e: SystemError, path: string): boolean {
  if (e.path === undefined) return true;
  const target = resolve(path);
  const failed = resolve(e.path);
  return failed === target || target.startsWith(failed.endsWith(sep) ? failed : failed + sep);
}

function outputFileError(e: unknown, path: string): unknown {
  if (!isSystemError(e) || !concerns(e, path)) return e;
  const cause = WRITE_CAUSES[e.code] ? `${WRITE_CAUSES[e.code](path)} (${e.code})` : describeSystemError(e);
  return new OutputFileError(`cannot write ${path}: ${cause}`, { cause: e });
}

/**
 * Runs `write`, which writes the file at `path` the user asked for (creating its directory if it likes);
 * a system error on the way (ENOSPC, EACCES, EISDIR, ENOENT, EROFS, …) becomes one OutputFileError naming
 * the path as the user gave it. Every CLI write to a user-given path goes through here.
 */
export function writingTo<T>(path: string, write: () => T): T {
  let result: T;
  try {
    result = write();
  } catch (e) {
    throw outputFileError(e, path);
  }
  if (types.isPromise(result)) return (result as Promise<unknown>).catch((e: unknown) => Promise.reject(outputFileError(e, path))) as T;
  return result;
}

/** Errors whose message is all the user needs, and that mean "fix the command or its input". */
function isUsageProblem(e: unknown): boolean {
  return e instanceof UsageError || e instanceof TemporalCliMissing || e instanceof ProviderError || !!(e as { code?: string } | null)?.code?.startsWith?.('ERR_PARSE_ARGS');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Prints a failed command's error and returns the exit code: usage problems keep their (possibly
 * multi-line) message and exit 2; a failed write, a system error or anything unexpected is one line and
 * exits 1, with the full error and stack only when HARNESSX_DEBUG=1.
 */
export function reportFailure(e: unknown, write: (text: string) => void = (t) => process.stderr.write(t)): number {
  if (isUsageProblem(e)) {
    write(`harnessx: ${(e as Error).message}\n`);
    return 2;
  }
  if (process.env.HARNESSX_DEBUG === '1') {
    write(`harnessx: ${inspect(e)}\n`);
    return 1;
  }
  const message =
    e instanceof OutputFileError ? e.message
    : isSystemError(e) ? `cannot ${e.syscall}${e.path ? ` ${e.path}` : ''}${e.dest ? ` → ${e.dest}` : ''}: ${describeSystemError(e)}`
    : isError(e) ? e.message || e.name
    : String(e);
  write(`harnessx: ${oneLine(message)}\n`);
  return 1;
}

import * as fs from 'node:fs';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { descendantPids, stopPids } from './stop-process-tree';

/** How much of a server's stderr we keep: enough for a stack trace, bounded however chatty the server is. */
const STDERR_KEEP_CHARS = 8_000;

/** The last few thousand characters a stream wrote. */
export class StderrTail {
  private text = '';
  private ended = false;
  private readonly endWaiters: Array<() => void> = [];
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-STDERR_KEEP_CHARS);
  }
  end(): void {
    this.ended = true;
    for (const wake of this.endWaiters.splice(0)) wake();
  }
  /** Waits (at most `ms`) for the stream to end, so a process that just exited has had its last words read. */
  async settled(ms: number): Promise<void> {
    if (this.ended) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.endWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  /** For error messages: the last lines, indented, or '' when the server wrote nothing. */
  describe(lines = 12): string {
    const tail = this.text.trimEnd().split('\n').slice(-lines);
    return tail.length && tail.join('').trim() ? `; its stderr ended with:\n    ${tail.join('\n    ')}` : '';
  }
}

/**
 * The SDK's stdio transport, plus what the SDK leaves to us: the child's stderr is kept (not spilled onto
 * our own output, where it would mix with the CLI's) and closing stops the server's whole process tree.
 */
export class TrackedStdioTransport extends StdioClientTransport {
  readonly stderrTail = new StderrTail();
  /** The server's pid from the moment it spawned; the SDK forgets it as soon as close() begins. */
  private startedPid: number | null = null;
  private closing: Promise<void> | undefined;
  /** The server sent a message past the SDK's read limit (10 MiB); the SDK then drops the session. */
  oversized = false;

  constructor(params: { command: string; args: string[]; env: Record<string, string>; cwd: string }) {
    super({ ...params, stderr: 'pipe' });
    // The SDK's ReadBuffer throws past its limit and the transport closes; we note why, so the call in flight
    // says its result was too large rather than that the server exited. (A private field: checked, not assumed.)
    const buffer = (this as unknown as { _readBuffer?: { append?: (chunk: Buffer) => void } })._readBuffer;
    if (buffer && typeof buffer.append === 'function') {
      const append = buffer.append.bind(buffer);
      buffer.append = (chunk: Buffer) => {
        try {
          append(chunk);
        } catch (error) {
          this.oversized = true;
          throw error;
        }
      };
    }
    // The SDK hands out stderr before start so nothing the server writes while starting is lost.
    this.stderr?.on('data', (chunk: Buffer) => this.stderrTail.push(chunk));
    this.stderr?.on('end', () => this.stderrTail.end());
  }

  override async start(): Promise<void> {
    await super.start();
    this.startedPid = this.pid;
  }

  get serverPid(): number | null {
    return this.startedPid;
  }

  override close(): Promise<void> {
    this.closing ??= (async () => {
      const root = this.startedPid;
      // Noted before the SDK closes stdin: once the server exits its children are re-parented and lost to us.
      const tree = root ? descendantPids(root) : [];
      await super.close();
      if (root) await stopPids([root, ...tree]);
    })();
    return this.closing;
  }
}

/** Checks made before spawning, because Node reports a missing cwd as a missing command (both ENOENT). */
export function checkStdioCwd(cwd: string): string | undefined {
  try {
    if (!fs.statSync(cwd).isDirectory()) return `its cwd ${cwd} is not a folder`;
  } catch {
    return `its cwd ${cwd} does not exist (mcp.cwd is relative to the config file's folder)`;
  }
  return undefined;
}

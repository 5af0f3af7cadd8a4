import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The largest harness or config file any reader loads: far above a harness at its bounds (HARNESS_JSON_BOUNDS
 * allows 2,000,000 characters), far below what hurts the process (`--harness /dev/zero` read 8.5 GB).
 */
export const MAX_INPUT_FILE_BYTES = 8 << 20;

/**
 * A file's text, read in chunks and refused as soon as it passes `maxBytes`: a device (/dev/zero), a FIFO
 * or a huge file costs at most `maxBytes`, never the whole thing. Errors name the file, never its bytes.
 */
export function readBoundedText(path: string, label: string, maxBytes = MAX_INPUT_FILE_BYTES): string {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.alloc(Math.min(1 << 20, maxBytes + 1));
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new Error(`${label} is larger than ${maxBytes} bytes (the limit for such files): is it the right file?`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * JSON.parse whose error says where the text breaks but not what it holds: V8's message quotes the text
 * ("Unexpected token 'r', "root:x:0:0"…"), and a file given by mistake (/etc/passwd) must not be echoed.
 */
export function parseJsonQuietly(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${label} is not valid JSON (${whereJsonBreaks(e, text)})`);
  }
}

/** Where JSON.parse failed on `text`, in words that quote none of it. */
export function whereJsonBreaks(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const at = /position (\d+)/.exec(message)?.[1];
  return at !== undefined ? `the error is at character ${at}` : /end of JSON input/.test(message) ? `it ends too early, after ${text.length} characters` : 'unexpected text';
}

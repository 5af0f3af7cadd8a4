/**
 * A byte limit on what an MCP server sends over Streamable HTTP, like the SDK's stdio transport has (its
 * ReadBuffer stops at 10 MiB). Without it a server (or anything on the way) could answer a tools/call with
 * hundreds of megabytes that the SDK reads into memory in full, and the result would reach the model.
 *
 * The limit is per HTTP response. A POST that carries JSON-RPC requests whose response grows past the limit
 * is cut there (the rest is never read: the body is cancelled) and the requests it was answering get a
 * JSON-RPC error with RESULT_TOO_LARGE instead, so the pending call fails with a message that says the result
 * was too large and the session stays usable. Other responses (the standalone GET stream, notifications'
 * 202s) are cut the same way, without a reply to send.
 */

/** The stdio transport's limit (the SDK's STDIO_DEFAULT_MAX_BUFFER_SIZE), so both transports bound the same. */
export const MAX_MCP_RESPONSE_BYTES = 10 * 1024 * 1024;

/** The JSON-RPC error code we answer a too-large result with (in the implementation-defined server range). */
export const RESULT_TOO_LARGE = -32_090;

export function resultTooLargeMessage(limit: number): string {
  return `the result was too large: the MCP server sent more than ${describeBytes(limit)} for this call, and results are limited to ${describeBytes(limit)} (ask the tool for less, e.g. one page or a filter)`;
}

function describeBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

type Fetch = typeof fetch;
type JsonRpcId = string | number;

/** The ids of the JSON-RPC requests in a POST body (a message or a batch); [] for anything else. */
export function requestIds(body: unknown): JsonRpcId[] {
  if (typeof body !== 'string') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  const ids: JsonRpcId[] = [];
  for (const m of messages) {
    if (m && typeof m === 'object' && 'method' in m && 'id' in m) {
      const id = (m as { id: unknown }).id;
      if (typeof id === 'string' || typeof id === 'number') ids.push(id);
    }
  }
  return ids;
}

function errorReplies(ids: JsonRpcId[], limit: number): Array<Record<string, unknown>> {
  return ids.map((id) => ({ jsonrpc: '2.0', id, error: { code: RESULT_TOO_LARGE, message: resultTooLargeMessage(limit) } }));
}

/**
 * A fetch for StreamableHTTPClientTransport whose responses carry at most `limit` bytes of body. A JSON
 * response is read up to the limit (the SDK reads it whole anyway); an event stream passes through as it
 * arrives, with a byte count, and at the limit ends with an error event for the requests it was answering.
 */
export function boundedFetch(limit = MAX_MCP_RESPONSE_BYTES, base: Fetch = fetch): Fetch {
  return (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
    const response = await base(input, init);
    if (!response.body) return response;
    const ids = init?.method === 'POST' ? requestIds(init.body) : [];
    const type = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    const declared = Number(response.headers.get('content-length'));
    if (type === 'text/event-stream') return withBody(response, boundedEventStream(response.body, limit, ids));
    if (Number.isFinite(declared) && declared > limit) {
      await response.body.cancel().catch(() => {});
      return tooLargeJson(response, ids, limit);
    }
    const bytes = await readAtMost(response.body, limit);
    if (bytes === null) return tooLargeJson(response, ids, limit);
    return withBody(response, bytes);
  }) as Fetch;
}

function withBody(response: Response, body: ConstructorParameters<typeof Response>[0]): Response {
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

function tooLargeJson(response: Response, ids: JsonRpcId[], limit: number): Response {
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  headers.set('content-type', 'application/json');
  // No requests to answer (a notification's response, say): an empty batch the SDK skips.
  const replies = errorReplies(ids, limit);
  return new Response(JSON.stringify(replies.length === 1 ? replies[0] : replies), { status: response.status, statusText: response.statusText, headers });
}

/** The whole body if it has at most `limit` bytes; null (the rest cancelled, never read) if it has more. */
async function readAtMost(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The event stream as it arrives until `limit` bytes; past it, the upstream is cancelled and the stream ends
 * with a blank line (ending the event that was cut, which then fails to parse and is dropped) and one error
 * event per request the response was answering.
 */
function boundedEventStream(body: ReadableStream<Uint8Array>, limit: number, ids: JsonRpcId[]): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const encoder = new TextEncoder();
  let size = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        controller.error(error);
        return;
      }
      if (chunk.done) {
        controller.close();
        return;
      }
      size += chunk.value.byteLength;
      if (size <= limit) {
        controller.enqueue(chunk.value);
        return;
      }
      await reader.cancel().catch(() => {});
      const events = errorReplies(ids, limit).map((reply) => `event: message\ndata: ${JSON.stringify(reply)}\n\n`);
      controller.enqueue(encoder.encode(`\n\n${events.join('')}`));
      controller.close();
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
    },
  });
}

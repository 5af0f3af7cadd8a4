import { createServer, IncomingMessage, Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** Payloads in the codec protocol's proto3 JSON: metadata values and data in base64. */
export interface JSONPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadFromJSON(json: JSONPayload): Payload {
  if (typeof json !== 'object' || json === null) throw new Error('each payload must be an object');
  const metadata = Object.fromEntries(Object.entries(json.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')]));
  return { metadata, data: Buffer.from(String(json.data ?? ''), 'base64') };
}

export function payloadToJSON(payload: Payload): JSONPayload {
  const metadata = Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]));
  return { metadata, data: Buffer.from(payload.data ?? []).toString('base64') };
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** When set, requests need "Authorization: Bearer <token>": only those allowed see plaintext. */
  authToken?: string;
  /** Origins allowed to call from a browser (the Web UI); default the local dev server's UI. */
  allowedOrigins?: string[];
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(String(req.headers.authorization ?? ''));
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The Temporal codec endpoint protocol: POST /encode and /decode with {"payloads": [...]}, CORS for the UI. */
export function createCodecServer(options: CodecServerOptions): Server {
  const origins = options.allowedOrigins ?? ['http://localhost:8233', 'http://127.0.0.1:8233'];
  return createServer(async (req, res) => {
    const origin = String(req.headers.origin ?? '');
    if (origins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Headers', 'content-type,x-namespace,authorization');
      res.setHeader('Access-Control-Allow-Methods', 'POST,OPTIONS');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST' || !['/encode', '/decode'].includes(req.url ?? '')) return send(404, { error: 'POST /encode or /decode' });
    if (!authorized(req, options.authToken)) return send(401, { error: 'unauthorized' });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 8 * 1024 * 1024) return send(413, { error: 'body over 8 MiB' });
      chunks.push(chunk as Buffer);
    }
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JSONPayload[] };
      if (!Array.isArray(body.payloads)) return send(400, { error: 'body must be {"payloads": [...]}' });
      const payloads = body.payloads.map(payloadFromJSON);
      const out = req.url === '/encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
      send(200, { payloads: out.map(payloadToJSON) });
    } catch (e) {
      send(400, { error: (e as Error).message });
    }
  });
}

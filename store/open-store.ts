import { resolve } from 'node:path';
import { ArtifactStore } from './artifact-store';
import type { S3Store } from './s3-store';
import type { Store } from './store';

/** A HARNESSX_STORE (or AWS_*) setting that cannot work: the message names the setting and the form expected. */
export class StoreSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreSettingError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Attempts per S3 request, the first included. Small on purpose: a wrong key, a missing bucket or a dead
 * endpoint must surface as its own error at once, not after minutes of retries. Inside a worker's activities
 * a transient failure that outlasts them is waited out (store/outage.ts, HARNESSX_STORE_OUTAGE_MINUTES);
 * elsewhere (the CLI) it is the error.
 */
const S3_MAX_ATTEMPTS = 3;

/**
 * The artifact store the configuration names:
 * - HARNESSX_STORE unset or empty: the local folder `defaultDir` (the data directory; the embedded default);
 * - HARNESSX_STORE=/a/path: that local folder;
 * - HARNESSX_STORE=s3://bucket/prefix: an S3-compatible bucket, with the standard AWS variables:
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (else the SDK's default chain: profile,
 *   instance role), AWS_REGION (default us-east-1), and AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for
 *   stores other than AWS (then path-style addressing: http://host/bucket/key).
 * A malformed setting throws a StoreSettingError naming it; nothing is contacted here (see checkStore).
 */
export function openStore(options: { defaultDir: string; env?: Env }): Store {
  const env = options.env ?? process.env;
  const raw = env.HARNESSX_STORE?.trim();
  if (!raw) return new ArtifactStore(options.defaultDir);
  // "s3:/bucket", "s3:bucket/runs": a mistyped S3 location, not a folder named "s3:…" — taken as a folder, every
  // host would quietly keep its own store and audit log.
  if (/^s3:/i.test(raw) && !/^s3:\/\//i.test(raw)) throw new StoreSettingError(`HARNESSX_STORE=${shown(raw)} starts with "s3:" but is not an S3 location: expected s3://bucket or s3://bucket/prefix (two slashes after "s3:"); for a local folder, give a path that does not start with "s3:" (e.g. ./s3-data)`);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) return new ArtifactStore(resolve(raw));
  if (!raw.toLowerCase().startsWith('s3://')) throw new StoreSettingError(`HARNESSX_STORE=${shown(raw)} is not a store this version supports: expected a local folder path or s3://bucket/prefix`);
  const { bucket, prefix } = parseS3Url(raw);
  const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || 'us-east-1';
  const endpointVar = env.AWS_ENDPOINT_URL_S3?.trim() ? 'AWS_ENDPOINT_URL_S3' : env.AWS_ENDPOINT_URL?.trim() ? 'AWS_ENDPOINT_URL' : null;
  const endpoint = endpointVar ? parseEndpoint(endpointVar, env[endpointVar]!.trim()) : null;
  // The SDK warns once per process that its releases after January 2027 will need Node 22: not about the
  // version this package locks, and noise in every command's output; its own switch turns it off.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Loaded only for an S3 store: the SDK costs a local-folder user nothing at start.
  const { S3Client } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  const { S3Store: S3StoreClass } = require('./s3-store') as { S3Store: typeof S3Store };
  const client = new S3Client({
    region,
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...credentialsFrom(env),
    maxAttempts: S3_MAX_ATTEMPTS,
    // A connection that cannot be made in 5 s will not be made by waiting longer; a request may take long (a large blob).
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
  });
  return new S3StoreClass(client, { bucket, prefix, endpoint, region });
}

/** Bucket and prefix of s3://bucket/prefix, checked against S3's bucket naming rules. */
export function parseS3Url(raw: string): { bucket: string; prefix: string } {
  const form = 'expected s3://bucket or s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, "." and "-"; prefix: "/"-separated parts of letters, digits, ".", "_" and "-")';
  const rest = raw.slice('s3://'.length);
  if (rest.includes('@') || rest.includes('?') || rest.includes('#')) throw new StoreSettingError(`HARNESSX_STORE is not a valid S3 location: ${form}; credentials go in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never in the URL`);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/\/+$/, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) throw new StoreSettingError(`HARNESSX_STORE=${shown(raw)} names no valid bucket ("${bucket}"): ${form}`);
  if (prefix && prefix.split('/').some((part) => !/^[A-Za-z0-9._-]+$/.test(part) || part === '.' || part === '..')) throw new StoreSettingError(`HARNESSX_STORE=${shown(raw)} has an invalid prefix ("${prefix}"): ${form}`);
  return { bucket, prefix };
}

function parseEndpoint(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StoreSettingError(`${variable}=${shown(value)} is not a URL: expected http(s)://host[:port] of an S3-compatible endpoint`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StoreSettingError(`${variable}=${shown(value)} is not an http(s) URL: expected http(s)://host[:port] of an S3-compatible endpoint`);
  if (url.username || url.password) throw new StoreSettingError(`${variable} holds credentials: put them in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead (expected http(s)://host[:port])`);
  return url.toString().replace(/\/$/, '');
}

/** Explicit keys when both are set; neither → the SDK's default chain; one alone is a mistake worth naming. */
function credentialsFrom(env: Env): { credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } {
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
  if (!accessKeyId && !secretAccessKey) return {};
  if (!accessKeyId) throw new StoreSettingError('AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both (or neither, to use the AWS profile or instance role)');
  if (!secretAccessKey) throw new StoreSettingError('AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both (or neither, to use the AWS profile or instance role)');
  const sessionToken = env.AWS_SESSION_TOKEN?.trim();
  return { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } };
}

/** A setting's value for a message, cut short. */
function shown(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
}

/**
 * Whether the store can be used, before any work depends on it: an object store is asked for its bucket
 * and given a tiny object to write, read back and delete (a clear error naming the setting to fix when
 * the credentials, the bucket or the endpoint are wrong); a local folder is written and read the same way.
 */
export async function checkStore(store: Store): Promise<void> {
  await store.check();
}

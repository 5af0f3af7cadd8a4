import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { AuditRecord } from '../aegis/types';
import { canonicalJson, sha256Hex } from '../harness/canonical';
import { HarnessConfig, harnessId, toJson } from '../harness/config';
import { runIdProblem } from '../harness/sandbox/input-bounds';
import { ArrayBlobWriter } from './array-blob-writer';
import { runFileProblem } from './keys';
import { OutagePolicy, StoreUnavailableError, transientReason, waitOutOutage } from './outage';
import type { Store } from './store';
import { ArtifactUnavailable, parseStoredHarness, storedHarnessIsIntact } from './verified-files';

/** Where an S3Store keeps its objects, and what its messages name (never credentials). */
export interface S3StoreSettings {
  bucket: string;
  /** Key prefix without a trailing "/", or "" for the bucket's root. */
  prefix: string;
  /** The endpoint URL for messages, or null for AWS's own. */
  endpoint: string | null;
  region: string;
}

/** How many requests one store call keeps in flight (cacheGetMany, cacheSetMany, readAudit). */
const PARALLEL_REQUESTS = 16;

/**
 * The artifact store in an S3-compatible bucket (AWS S3, versitygw, MinIO, R2, GCS's S3 API), for workers on
 * several machines that share no folder. Same content and guarantees as the local store, laid out under
 * `<prefix>/`:
 *   artifacts/<hex[0:2]>/<hex>.json.gz   blobs, gzip'd; a read checks the sha256 (corrupt → an error naming the ref)
 *   harnesses/<id>.json                  harness versions
 *   cache/<namespace>/<sha>.json         cache entries (one that does not parse is a miss)
 *   runs/<runId>/files/<name>            run files (summary, checkpoints, fault markers, …)
 *   runs/<runId>/audit/records/k-<key>   the audit log, one object per record key (see appendAudit)
 *   runs/<runId>/audit/head              the highest order stamp appended so far (see appendAudit)
 * A PUT replaces an object atomically, so readers never see a partly written object: no temp names and
 * renames are needed, unlike on a local disk.
 */
export class S3Store implements Store {
  readonly location: string;

  constructor(
    private readonly client: S3Client,
    readonly settings: S3StoreSettings,
    /** How each request waits out a transient failure (store/outage.ts); null: it fails at once (the CLI). */
    private readonly outage: OutagePolicy | null = null,
    /** The highest audit order stamp this process has written or seen, per run (see appendAudit); shared with withOutagePolicy's copies. */
    private readonly auditClock = new Map<string, number>(),
  ) {
    this.location = `s3://${settings.bucket}${settings.prefix ? `/${settings.prefix}` : ''}`;
  }

  /**
   * The same store (client, bucket, audit clock) whose requests wait out transient failures (connection
   * refused or reset, timeouts, 5xx, 507) under `policy`. Every S3 request goes through `request`, so blob
   * uploads at a trace writer's finish, audit appends and listings all wait alike; each request is retried
   * alone, so nothing that already succeeded runs twice.
   */
  withOutagePolicy(policy: OutagePolicy): S3Store {
    return new S3Store(this.client, this.settings, policy, this.auditClock);
  }

  /** One S3 request under the outage policy: `call` maps the SDK's error (describeS3Error) or handles it. */
  private request<T>(call: () => Promise<T>): Promise<T> {
    return waitOutOutage(call, this.outage);
  }

  private key(path: string): string {
    return this.settings.prefix ? `${this.settings.prefix}/${path}` : path;
  }

  /** The object's URL for messages and return values: s3://bucket/key. */
  private url(key: string): string {
    return `s3://${this.settings.bucket}/${key}`;
  }

  async put(value: unknown, options: { canonical?: boolean } = {}): Promise<string> {
    const text = options.canonical === false ? JSON.stringify(value) : canonicalJson(value);
    const hex = sha256Hex(text);
    await this.putBlob(hex, () => gzipSync(text, { level: 1 }));
    return `sha256:${hex}`;
  }

  /**
   * The blob's bytes are gzip'd in memory by ArrayBlobWriter (as for the local store) and uploaded in one
   * PutObject when it finishes. Not a multipart upload streamed while the rollout runs: the object's key is
   * the content hash, known only at the end, so parts would go to a temporary key and need a server-side
   * copy (and orphaned uploads from failed rollouts a lifecycle rule); and the compressed bytes, the only
   * thing held, are a small fraction of the traces (which are never held).
   */
  arrayWriter(): ArrayBlobWriter {
    return new ArrayBlobWriter(async (hex, data) => this.putBlob(hex, () => data));
  }

  /**
   * Uploads a blob unless it is there already, whole: content-addressed, so an object of the same length is
   * the same content (gzip at a fixed level is deterministic); one of another length (truncated, replaced)
   * is a damaged copy, and putting the same content again repairs it.
   */
  private async putBlob(hex: string, gzipped: () => Buffer): Promise<void> {
    const key = this.blobKey(hex);
    const size = await this.storedSize(key);
    const body = gzipped();
    if (size === body.length) return;
    await this.send('write', key, new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body, ContentType: 'application/json', ContentEncoding: 'gzip' }));
  }

  async get<T>(ref: string): Promise<T> {
    const hex = /^sha256:([0-9a-f]{64})$/.exec(ref)?.[1];
    if (!hex) throw new Error(`not an artifact ref: "${ref}"`);
    const key = this.blobKey(hex);
    const object = await this.read(key);
    if (!object) throw new ArtifactUnavailable(ref, 'missing', `artifact ${ref} is not in the store at ${this.location}`);
    let text: string;
    try {
      text = gunzipSync(object.bytes).toString('utf8');
    } catch (e) {
      throw await this.corrupt(ref, key, object.etag, `it does not decompress (${(e as Error).message})`);
    }
    const actual = sha256Hex(text);
    if (actual !== hex) throw await this.corrupt(ref, key, object.etag, `its content hashes to sha256:${actual}`);
    return JSON.parse(text) as T;
  }

  /**
   * The error for a blob whose bytes do not match its ref. The object is deleted (only if it is still the
   * one read: If-Match on its ETag), so the next put of the same content uploads it afresh; when the store
   * refuses the conditional delete, it stays, and the error still names it.
   */
  private async corrupt(ref: string, key: string, etag: string | undefined, why: string): Promise<Error> {
    let removed = false;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key, ...(etag ? { IfMatch: etag } : {}) }));
      removed = true;
    } catch {
      // Replaced meanwhile (the If-Match failed) or the store does not allow it: the error below says enough.
    }
    return new ArtifactUnavailable(ref, 'corrupt', `artifact ${ref} is corrupt in the store (${this.url(key)}): ${why}; ${removed ? 'it was deleted, and the next put of the same content rewrites it' : 'delete it so the next put of the same content rewrites it'}`);
  }

  private blobKey(hex: string): string {
    return this.key(`artifacts/${hex.slice(0, 2)}/${hex}.json.gz`);
  }

  async putHarness(config: HarnessConfig): Promise<string> {
    const id = harnessId(config);
    const key = this.harnessKey(id);
    // A copy that is damaged or holds another harness is rewritten: putting a harness again repairs it.
    const stored = await this.read(key);
    if (!stored || !storedHarnessIsIntact(id, stored.bytes.toString('utf8'))) await this.send('write', key, new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: toJson(config), ContentType: 'application/json' }));
    return id;
  }

  async getHarness(id: string): Promise<HarnessConfig> {
    const key = this.harnessKey(id);
    const object = await this.read(key);
    if (!object) throw new Error(`harness ${id} is not in the store at ${this.location}`);
    // Verified against its content id (verified-files.ts); the next putHarness of the same harness repairs a bad copy.
    return parseStoredHarness(id, object.bytes.toString('utf8'));
  }

  private harnessKey(id: string): string {
    if (!/^hx-[0-9a-f]{16}$/.test(id)) throw new Error(`not a harness id: "${id}"`);
    return this.key(`harnesses/${id}.json`);
  }

  private cacheKey(namespace: string, key: unknown): string {
    if (!/^[A-Za-z0-9._-]+$/.test(namespace)) throw new Error(`not a cache namespace: "${namespace}"`);
    return this.key(`cache/${namespace}/${sha256Hex(canonicalJson(key))}.json`);
  }

  async cacheGet<T>(namespace: string, key: unknown): Promise<T | undefined> {
    const object = await this.read(this.cacheKey(namespace, key));
    if (!object) return undefined;
    try {
      return JSON.parse(object.bytes.toString('utf8')) as T;
    } catch {
      return undefined; // an entry that does not parse (written by hand, damaged) is a miss, recomputed deterministically
    }
  }

  async cacheGetMany<T>(namespace: string, keys: unknown[]): Promise<Array<T | undefined>> {
    return mapLimit(keys, PARALLEL_REQUESTS, (key) => this.cacheGet<T>(namespace, key));
  }

  async cacheSet(namespace: string, key: unknown, value: unknown): Promise<void> {
    const objectKey = this.cacheKey(namespace, key);
    await this.send('write', objectKey, new PutObjectCommand({ Bucket: this.settings.bucket, Key: objectKey, Body: JSON.stringify(value), ContentType: 'application/json' }));
  }

  async cacheSetMany(namespace: string, entries: Array<[unknown, unknown]>): Promise<void> {
    await mapLimit(entries, PARALLEL_REQUESTS, ([key, value]) => this.cacheSet(namespace, key, value));
  }

  private runKey(runId: string, rest: string): string {
    const problem = runIdProblem(runId);
    if (problem) throw new Error(`unsafe run id: ${problem}`);
    return this.key(`runs/${runId}/${rest}`);
  }

  private runFileKey(runId: string, name: string): string {
    const problem = runFileProblem(name);
    if (problem) throw new Error(`unsafe run file name: ${problem}`);
    return this.runKey(runId, `files/${name}`);
  }

  async readRunFile<T>(runId: string, name: string): Promise<T | undefined> {
    const object = await this.read(this.runFileKey(runId, name));
    return object ? (JSON.parse(object.bytes.toString('utf8')) as T) : undefined;
  }

  async writeRunFile(runId: string, name: string, content: string | Buffer): Promise<string> {
    const key = this.runFileKey(runId, name);
    await this.send('write', key, new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: content }));
    return this.url(key);
  }

  async faultMarkers(runId: string): Promise<string[]> {
    const prefix = this.runFileKey(runId, 'fault-');
    return (await this.list(prefix)).map((key) => key.slice(prefix.length - 'fault-'.length)).filter((name) => !name.includes('/')).map((name) => name.slice('fault-'.length));
  }

  /**
   * The audit log on an object store, where no file can be appended from several hosts: one object per
   * record key, created with a conditional write (PutObject with If-None-Match: *). The store creates it
   * at most once, atomically, so two hosts (or a retried activity) appending the same key produce exactly
   * one record, and the one that loses learns it (412 Precondition Failed → false).
   *
   * Order. Each record carries an order stamp, and readAudit sorts by (stamp, key): every reader sees the
   * same order. The stamp is a hybrid clock: max(wall clock in ms, the highest stamp known + 1), where the
   * highest known is this process's last stamp for the run and the run's head object (the highest stamp
   * appended, rewritten after each append). Within a process stamps strictly increase, so the order is
   * the append order; an append that starts after another finished (on any host: activities of one run
   * follow each other) reads the head and stamps higher, whatever the hosts' clocks say. Only appends that
   * overlap in time are ordered by clock, then key — deterministically. A crash between the record and
   * the head update loses no record; at worst a later append from another host with a slow clock sorts
   * before it.
   */
  async appendAudit(record: AuditRecord): Promise<boolean> {
    const key = this.auditRecordKey(record.runId, record.key);
    const head = this.runKey(record.runId, 'audit/head');
    const headObject = await this.read(head);
    const headStamp = headObject ? Number(headObject.bytes.toString('utf8')) || 0 : 0;
    const stamp = Math.max(Date.now(), (this.auditClock.get(record.runId) ?? 0) + 1, headStamp + 1);
    // Retried after an outage, a create that did reach the store before the connection broke finds its own
    // record (412): the key is in the log once either way.
    const created = await this.request(async () => {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: JSON.stringify({ stamp, record }), ContentType: 'application/json', IfNoneMatch: '*' }));
        return true;
      } catch (e) {
        if (isPreconditionFailed(e)) return false; // that key is in the log already
        throw describeS3Error(e, this.settings, 'write', this.url(key));
      }
    });
    if (!created) return false;
    this.auditClock.set(record.runId, stamp);
    // Not conditional: a concurrent append may lower it again, which costs only the cross-host ordering of overlapping appends.
    await this.send('write', head, new PutObjectCommand({ Bucket: this.settings.bucket, Key: head, Body: String(stamp) }));
    return true;
  }

  async readAudit(runId: string): Promise<AuditRecord[]> {
    const prefix = this.runKey(runId, 'audit/records/');
    const keys = await this.list(prefix);
    const entries = await mapLimit(keys, PARALLEL_REQUESTS, async (key) => {
      const object = await this.read(key);
      if (!object) throw new Error(`audit record ${this.url(key)} was listed but cannot be read`);
      try {
        return JSON.parse(object.bytes.toString('utf8')) as { stamp: number; record: AuditRecord };
      } catch {
        // One damaged record never makes the whole log unreadable (as a torn line in a local audit.jsonl).
        console.warn(`audit record ${this.url(key)} is damaged (not JSON) and was skipped`);
        return null;
      }
    }).then((all) => all.filter((e): e is { stamp: number; record: AuditRecord } => e !== null));
    let highest = this.auditClock.get(runId) ?? 0;
    for (const e of entries) highest = Math.max(highest, e.stamp);
    this.auditClock.set(runId, highest);
    return entries.sort((a, b) => a.stamp - b.stamp || (a.record.key < b.record.key ? -1 : a.record.key > b.record.key ? 1 : 0)).map((e) => e.record);
  }

  /** One object name per record key: readable when the key is short and plain, its hash otherwise. */
  private auditRecordKey(runId: string, recordKey: string): string {
    const plain = encodeURIComponent(recordKey);
    return this.runKey(runId, `audit/records/${plain.length <= 160 ? `k-${plain}` : `h-${createHash('sha256').update(recordKey).digest('hex')}`}`);
  }

  /**
   * Whether the store answers for this bucket with these credentials, and can write, read back and delete
   * an object under the prefix: a clear error naming the setting to fix, instead of a run that fails later.
   */
  async check(): Promise<void> {
    // A one-key listing rather than HeadBucket: a HEAD response has no body, so a refusal would come without
    // its error code (SignatureDoesNotMatch, InvalidAccessKeyId, NoSuchBucket), which the message names.
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.key(''), MaxKeys: 1 }));
    } catch (e) {
      throw describeS3Error(e, this.settings, 'open', this.location);
    }
    const key = this.key(`probe/${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const body = `harnessx store probe ${new Date().toISOString()}`;
    await this.send('write', key, new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body }));
    const back = await this.read(key);
    if (back?.bytes.toString('utf8') !== body) throw new Error(`the S3 store ${this.location} did not return the probe object it was just given (${this.url(key)}): check that the endpoint is an S3-compatible object store`);
    await this.send('write', key, new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
  }

  /** The object's size in bytes, or null when there is no such object. */
  private storedSize(key: string): Promise<number | null> {
    return this.request(async () => {
      try {
        const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }));
        return head.ContentLength ?? -1;
      } catch (e) {
        if (isNotFound(e)) return null;
        throw describeS3Error(e, this.settings, 'read', this.url(key));
      }
    });
  }

  /** The object's bytes and ETag, or null when there is no such object. */
  private read(key: string): Promise<{ bytes: Buffer; etag?: string } | null> {
    return this.request(async () => {
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
        const bytes = Buffer.from(await out.Body!.transformToByteArray());
        return { bytes, etag: out.ETag };
      } catch (e) {
        if (isNotFound(e)) return null;
        throw describeS3Error(e, this.settings, 'read', this.url(key));
      }
    });
  }

  /** Every key under `prefix`, in the store's (lexicographic) order. */
  private async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = token;
      const out = await this.request(async () => {
        try {
          return await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: page }));
        } catch (e) {
          throw describeS3Error(e, this.settings, 'list', this.url(prefix));
        }
      });
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  private send(action: 'write' | 'read', key: string, command: PutObjectCommand | DeleteObjectCommand): Promise<void> {
    return this.request(async () => {
      try {
        await this.client.send(command as PutObjectCommand);
      } catch (e) {
        throw describeS3Error(e, this.settings, action, this.url(key));
      }
    });
  }
}

const errorName = (e: unknown): string => (e as { name?: string; Code?: string })?.name ?? (e as { Code?: string })?.Code ?? '';
const httpStatus = (e: unknown): number | undefined => (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

function isNotFound(e: unknown): boolean {
  return ['NoSuchKey', 'NotFound'].includes(errorName(e)) || (httpStatus(e) === 404 && errorName(e) !== 'NoSuchBucket');
}

function isPreconditionFailed(e: unknown): boolean {
  return errorName(e) === 'PreconditionFailed' || httpStatus(e) === 412;
}

/** A network failure's code (ECONNREFUSED, ENOTFOUND, …), looking through the SDK's wrappers. */
function networkCode(e: unknown): string | undefined {
  for (let x = e as { code?: string; cause?: unknown; errors?: unknown[] } | undefined, depth = 0; x && depth < 5; depth++) {
    if (typeof x.code === 'string' && /^E[A-Z]+$/.test(x.code)) return x.code;
    x = (x.cause ?? x.errors?.[0]) as typeof x;
  }
  const name = errorName(e);
  if (name === 'TimeoutError' || name === 'RequestTimeout') return 'ETIMEDOUT';
  // The SDK may wrap the socket error in one that keeps only its text ("AWS SDK error wrapper for Error: connect ECONNREFUSED …").
  return /\b(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|EPIPE)\b/.exec(String((e as Error)?.message ?? ''))?.[1];
}

/**
 * An S3 failure as a message that names the setting to fix: the credentials (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the bucket (HARNESSX_STORE), or the endpoint
 * (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). Never quotes a key or secret.
 */
export function describeS3Error(e: unknown, settings: S3StoreSettings, action: string, what: string): Error {
  const endpoint = settings.endpoint ?? `AWS S3 (region ${settings.region})`;
  const name = errorName(e);
  const status = httpStatus(e);
  const net = networkCode(e);
  // Failures that may pass (a restarting store, a full disk): the same messages, as StoreUnavailableError, which a worker's activities wait out (outage.ts).
  const transient = transientReason(net, name, status);
  const made = (message: string) => (transient ? new StoreUnavailableError(message, transient) : new Error(message));
  if (net) {
    return made(
      `cannot reach the S3 endpoint ${endpoint} (${net}) to ${action} ${what}: check AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL)${settings.endpoint ? '' : ' and AWS_REGION'} and that the store is running and reachable from this host`,
    );
  }
  if (name === 'NoSuchBucket' || (name === 'NotFound' && action === 'open')) {
    return new Error(`the bucket "${settings.bucket}" does not exist at ${endpoint}: create it, or point HARNESSX_STORE (s3://bucket/prefix) at an existing bucket`);
  }
  if (['InvalidAccessKeyId', 'XAdminUserNotFound', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'InvalidClientTokenId', 'UnrecognizedClientException', 'CredentialsProviderError'].includes(name)) {
    return new Error(
      `the S3 endpoint ${endpoint} rejected the credentials (${name}) to ${action} ${what}: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)`,
    );
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
    return new Error(
      `the S3 endpoint ${endpoint} denied access (${name || status}) to ${action} ${what}: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and that they may read and write bucket "${settings.bucket}" (HARNESSX_STORE)`,
    );
  }
  if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
    return new Error(`the bucket "${settings.bucket}" is in another region than ${settings.region} (${name || status}): set AWS_REGION to the bucket's region`);
  }
  const detail = e instanceof S3ServiceException || e instanceof Error ? `${name || 'Error'}: ${(e as Error).message}` : String(e);
  return made(`the S3 store ${settings.bucket} at ${endpoint} failed to ${action} ${what} (${detail}${status ? `, HTTP ${status}${status === 507 ? ': its disk is full' : ''}` : ''})`);
}

/** `fn` over `items` with at most `limit` calls in flight; results in the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

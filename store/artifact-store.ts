import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { createHash, Hash } from 'node:crypto';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { canonicalJson, sha256Hex } from '../harness/canonical';
import { HarnessConfig, harnessId, parseHarnessConfig, toJson } from '../harness/config';
import type { AuditRecord } from '../aegis/types';

/**
 * The artifact store: content-addressed blobs (traces, digests, landscapes, manifests), harness versions
 * by id, per-run audit logs. Local files under the data directory. Workflows carry only refs.
 */
export class ArtifactStore {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  /** Writes `data` to `path` via a temp file and a rename: readers never see a partial file. */
  private writeAtomic(path: string, data: Buffer | string): void {
    const tmp = tempPathFor(path);
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  }

  private async writeAtomicAsync(path: string, data: Buffer): Promise<void> {
    const tmp = tempPathFor(path);
    await writeFile(tmp, data);
    renameSync(tmp, path);
  }

  /**
   * Stores a JSON value; the ref is the sha256 of its canonical JSON, so equal values share one blob.
   * `canonical: false` hashes plain JSON instead: for large blobs built by one code path (traces), whose
   * key order is already fixed, sorting keys costs more than it buys.
   */
  put(value: unknown, options: { canonical?: boolean } = {}): string {
    const text = options.canonical === false ? JSON.stringify(value) : canonicalJson(value);
    const hex = sha256Hex(text);
    const path = this.blobPath(hex);
    if (!existsSync(path)) this.writeAtomic(path, gzipSync(text, { level: 1 }));
    return `sha256:${hex}`;
  }

  /**
   * A JSON array written element by element, for large blobs built one item at a time (a rollout's
   * traces): each element is serialized when it is added, hashed incrementally and compressed on libuv's
   * thread pool while the caller goes on, so the caller can drop it at once. Nothing holds the whole
   * array, neither as objects (which would live long enough to be promoted and cost full GCs) nor as one
   * text. The ref is the one `put(array, { canonical: false })` gives (the same bytes are hashed).
   */
  arrayWriter(): ArrayBlobWriter {
    return new ArrayBlobWriter(async (hex, data) => {
      const path = this.blobPath(hex);
      if (!existsSync(path)) await this.writeAtomicAsync(path, data);
    });
  }

  get<T>(ref: string): T {
    const hex = /^sha256:([0-9a-f]{64})$/.exec(ref)?.[1];
    if (!hex) throw new Error(`not an artifact ref: "${ref}"`);
    const path = this.blobPath(hex);
    if (!existsSync(path)) throw new Error(`artifact ${ref} is not in the store at ${this.root}`);
    return JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as T;
  }

  private blobPath(hex: string): string {
    return join(this.root, 'artifacts', hex.slice(0, 2), `${hex}.json.gz`);
  }

  putHarness(config: HarnessConfig): string {
    const id = harnessId(config);
    const path = this.harnessPath(id);
    if (!existsSync(path)) this.writeAtomic(path, toJson(config));
    return id;
  }

  getHarness(id: string): HarnessConfig {
    const path = this.harnessPath(id);
    if (!existsSync(path)) throw new Error(`harness ${id} is not in the store at ${this.root}`);
    return parseHarnessConfig(JSON.parse(readFileSync(path, 'utf8')));
  }

  harnessPath(id: string): string {
    if (!/^hx-[0-9a-f]{16}$/.test(id)) throw new Error(`not a harness id: "${id}"`);
    return join(this.root, 'harnesses', `${id}.json`);
  }

  /** A small mutable cache keyed by any JSON value (rollout outcomes keyed by harness, task and seed). */
  cacheGet<T>(namespace: string, key: unknown): T | undefined {
    const path = join(this.root, 'cache', namespace, `${sha256Hex(canonicalJson(key))}.json`);
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch {
      return undefined; // a write torn by a crash is a miss, recomputed deterministically
    }
  }

  cacheSet(namespace: string, key: unknown, value: unknown): void {
    this.writeAtomic(join(this.root, 'cache', namespace, `${sha256Hex(canonicalJson(key))}.json`), JSON.stringify(value));
  }

  /** Many cache entries at once: one directory check, and plain writes (a torn entry reads as a miss). */
  cacheSetMany(namespace: string, entries: Array<[unknown, unknown]>): void {
    const dir = join(this.root, 'cache', namespace);
    mkdirSync(dir, { recursive: true });
    for (const [key, value] of entries) writeFileSync(join(dir, `${sha256Hex(canonicalJson(key))}.json`), JSON.stringify(value));
  }

  runDir(runId: string): string {
    if (!/^[\w.-]{1,200}$/.test(runId)) throw new Error(`unsafe run id "${runId}"`);
    return join(this.root, 'runs', runId);
  }

  /** Per run: the keys seen and how far into audit.jsonl they were read. */
  private readonly auditIndex = new Map<string, { offset: number; keys: Set<string> }>();

  /**
   * Appends unless a record with the same key exists: retried activities never duplicate entries. Only the
   * bytes appended since the last look are read (other workers may share the file), so appends stay cheap
   * in runs of thousands of records.
   */
  appendAudit(record: AuditRecord): boolean {
    const path = join(this.runDir(record.runId), 'audit.jsonl');
    const index = this.auditIndex.get(record.runId) ?? { offset: 0, keys: new Set<string>() };
    this.auditIndex.set(record.runId, index);
    if (existsSync(path)) {
      const size = statSync(path).size;
      if (size > index.offset) {
        const fd = openSync(path, 'r');
        try {
          const fresh = Buffer.alloc(size - index.offset);
          readSync(fd, fresh, 0, fresh.length, index.offset);
          const text = fresh.toString('utf8');
          const complete = text.lastIndexOf('\n') + 1; // a line still being written is read next time
          for (const line of text.slice(0, complete).split('\n')) if (line.trim()) index.keys.add((JSON.parse(line) as AuditRecord).key);
          index.offset += Buffer.byteLength(text.slice(0, complete));
        } finally {
          closeSync(fd);
        }
      }
    }
    if (index.keys.has(record.key)) return false;
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, JSON.stringify(record) + '\n');
    return true;
  }

  readAudit(runId: string): AuditRecord[] {
    const path = join(this.runDir(runId), 'audit.jsonl');
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as AuditRecord);
  }

  /** Stages that fault injection has held open in this run (see activities' faultPoint). */
  faultMarkers(runId: string): string[] {
    const dir = this.runDir(runId);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('fault-')).map((f) => f.slice('fault-'.length)) : [];
  }

  /** A JSON file of the run's folder, or undefined when it does not exist yet. */
  readRunFile<T>(runId: string, name: string): T | undefined {
    const path = join(this.runDir(runId), name);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
  }

  writeRunFile(runId: string, name: string, content: string): string {
    const path = join(this.runDir(runId), name);
    this.writeAtomic(path, content);
    return path;
  }
}

/** A unique temp name beside `path` (its directory created): concurrent writers never share one. */
function tempPathFor(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
}

/** See ArtifactStore.arrayWriter. Add every element, then `finish()` once for the ref. */
export class ArrayBlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly gzip = createGzip({ level: 1 });
  private readonly compressed: Buffer[] = [];
  private readonly done: Promise<void>;
  private count = 0;
  private finished = false;

  constructor(private readonly write: (hex: string, data: Buffer) => Promise<void>) {
    this.gzip.on('data', (chunk: Buffer) => this.compressed.push(chunk));
    this.done = new Promise((resolve, reject) => {
      this.gzip.on('end', resolve);
      this.gzip.on('error', reject);
    });
    // A writer abandoned mid-way (its rollout failed) must not surface as an unhandled rejection; finish() still sees the error.
    this.done.catch(() => undefined);
  }

  get length(): number {
    return this.count;
  }

  add(element: unknown): void {
    if (this.finished) throw new Error('ArrayBlobWriter: add() after finish()');
    const text = (this.count++ === 0 ? '[' : ',') + JSON.stringify(element === undefined ? null : element);
    this.hash.update(text);
    this.gzip.write(text);
  }

  /** Writes the blob (unless the store has it already) and returns its ref. */
  async finish(): Promise<string> {
    if (this.finished) throw new Error('ArrayBlobWriter: finish() called twice');
    this.finished = true;
    const tail = this.count === 0 ? '[]' : ']';
    this.hash.update(tail);
    this.gzip.end(tail);
    await this.done;
    const hex = this.hash.digest('hex');
    await this.write(hex, Buffer.concat(this.compressed));
    return `sha256:${hex}`;
  }
}

import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { createHash, Hash } from 'node:crypto';
import { crc32, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { canonicalJson, sha256Hex } from '../harness/canonical';
import { HarnessConfig, harnessId, parseHarnessConfig, toJson } from '../harness/config';
import type { AuditRecord } from '../aegis/types';
import { runIdProblem } from '../harness/sandbox/input-bounds';

/**
 * Whether the gzip file at `path` ends with the trailer of `text` (its CRC-32 and length): a partial or
 * truncated blob does not, so the next put of the same content rewrites it. Reads 8 bytes, not the blob.
 */
function blobTrailerMatches(path: string, crc: number, length: number): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = statSync(path).size;
    if (size < 18) return false;
    const trailer = Buffer.alloc(8);
    readSync(fd, trailer, 0, 8, size - 8);
    return trailer.readUInt32LE(0) === crc >>> 0 && trailer.readUInt32LE(4) === length % 2 ** 32;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Sleeps the thread (the audit lock is held for microseconds; a busy loop would waste the core). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
/** A lock older than this was left by a process that died holding it (the section it guards is a few file operations). */
const STALE_LOCK_MS = 10_000;

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
    // A blob left partial or corrupt (a crash, a full disk, a bad copy) is rewritten, not trusted.
    if (!existsSync(path) || !blobTrailerMatches(path, crc32(text), Buffer.byteLength(text))) this.writeAtomic(path, gzipSync(text, { level: 1 }));
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
    return new ArrayBlobWriter(async (hex, data, crc, length) => {
      const path = this.blobPath(hex);
      if (!existsSync(path) || !blobTrailerMatches(path, crc, length)) await this.writeAtomicAsync(path, data);
    });
  }

  /**
   * The value stored under `ref`, after checking that its bytes hash to the ref. A blob that does not
   * (truncated, corrupt) is moved aside so the next put of the same content writes it afresh, and the
   * error names the ref.
   */
  get<T>(ref: string): T {
    const hex = /^sha256:([0-9a-f]{64})$/.exec(ref)?.[1];
    if (!hex) throw new Error(`not an artifact ref: "${ref}"`);
    const path = this.blobPath(hex);
    if (!existsSync(path)) throw new Error(`artifact ${ref} is not in the store at ${this.root}`);
    let text: string;
    try {
      text = gunzipSync(readFileSync(path)).toString('utf8');
    } catch (e) {
      throw this.corrupt(ref, path, `it does not decompress (${(e as Error).message})`);
    }
    const actual = sha256Hex(text);
    if (actual !== hex) throw this.corrupt(ref, path, `its content hashes to sha256:${actual}`);
    return JSON.parse(text) as T;
  }

  private corrupt(ref: string, path: string, why: string): Error {
    try {
      renameSync(path, `${path}.corrupt-${process.pid}-${Date.now()}`);
    } catch {
      // Another reader moved it first.
    }
    return new Error(`artifact ${ref} is corrupt in the store: ${why}; it was moved aside, and the next put of the same content rewrites it`);
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
    const problem = runIdProblem(runId);
    if (problem) throw new Error(`unsafe run id: ${problem}`);
    return join(this.root, 'runs', runId);
  }

  /** Per run: the keys seen and how far into audit.jsonl they were read. */
  private readonly auditIndex = new Map<string, { offset: number; keys: Set<string> }>();

  /**
   * Appends unless a record with the same key exists: retried activities never duplicate entries, even
   * when two processes append the same key at once (the look and the append happen under the run's
   * audit lock). Only the bytes appended since the last look are read (other workers may share the file),
   * so appends stay cheap in runs of thousands of records.
   *
   * The lock is a file created exclusively (O_EXCL) and removed afterwards; one left by a process that
   * died holding it is broken after STALE_LOCK_MS. An object store does the same with a conditional
   * create (If-None-Match: *) of the lock object, or of one object per record key.
   */
  appendAudit(record: AuditRecord): boolean {
    const dir = this.runDir(record.runId);
    mkdirSync(dir, { recursive: true });
    return this.withLock(join(dir, 'audit.lock'), () => this.appendAuditLocked(record));
  }

  private withLock<T>(lockPath: string, section: () => T): T {
    let fd: number | undefined;
    for (let attempt = 0; fd === undefined; attempt++) {
      try {
        fd = openSync(lockPath, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        try {
          if (Date.now() - statSync(lockPath).mtimeMs > STALE_LOCK_MS) {
            // Renaming is atomic: of several processes that find the lock stale, one breaks it.
            renameSync(lockPath, `${lockPath}.stale-${process.pid}-${attempt}`);
            continue;
          }
        } catch {
          continue; // released or broken meanwhile: try again at once
        }
        pause(Math.min(50, 1 + attempt));
      }
    }
    try {
      writeSync(fd, String(process.pid));
      return section();
    } finally {
      closeSync(fd);
      try {
        unlinkSync(lockPath);
      } catch {
        // broken as stale by another process (held past STALE_LOCK_MS): nothing left to release
      }
    }
  }

  private appendAuditLocked(record: AuditRecord): boolean {
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

  private crc = 0;
  private bytes = 0;

  constructor(private readonly write: (hex: string, data: Buffer, crc: number, length: number) => Promise<void>) {
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
    this.track(text);
    this.gzip.write(text);
  }

  private track(text: string): void {
    this.hash.update(text);
    this.crc = crc32(text, this.crc);
    this.bytes += Buffer.byteLength(text);
  }

  /** Writes the blob (unless the store has it already) and returns its ref. */
  async finish(): Promise<string> {
    if (this.finished) throw new Error('ArrayBlobWriter: finish() called twice');
    this.finished = true;
    const tail = this.count === 0 ? '[]' : ']';
    this.track(tail);
    this.gzip.end(tail);
    await this.done;
    const hex = this.hash.digest('hex');
    await this.write(hex, Buffer.concat(this.compressed), this.crc, this.bytes);
    return `sha256:${hex}`;
  }
}

import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { crc32, gunzipSync, gzipSync } from 'node:zlib';
import { canonicalJson, sha256Hex } from '../harness/canonical';
import { HarnessConfig, harnessId, toJson } from '../harness/config';
import type { AuditRecord } from '../aegis/types';
import { runIdProblem } from '../harness/sandbox/input-bounds';
import { ArrayBlobWriter } from './array-blob-writer';
import { runFileProblem } from './keys';
import type { Store } from './store';
import { ArtifactUnavailable, parseAuditLines, parseStoredHarness, StoredFileCorrupt, storedHarnessIsIntact } from './verified-files';

export { ArrayBlobWriter } from './array-blob-writer';

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
 * The artifact store in a local folder (the embedded default): content-addressed blobs (traces, digests,
 * landscapes, manifests), harness versions by id, per-run audit logs. Workflows carry only refs. The
 * methods are async to fit the Store interface but do their file work synchronously, as before (except
 * cacheSetMany, whose many small writes go to libuv's thread pool): a local put or cache write costs what it did, and the crash-safety rules (atomic renames, the audit lock) are
 * unchanged. `root`, `harnessPath` and `runDir` are local paths, deliberately not part of Store.
 */
export class ArtifactStore implements Store {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  get location(): string {
    return this.root;
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
  async put(value: unknown, options: { canonical?: boolean } = {}): Promise<string> {
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
  async get<T>(ref: string): Promise<T> {
    const hex = /^sha256:([0-9a-f]{64})$/.exec(ref)?.[1];
    if (!hex) throw new Error(`not an artifact ref: "${ref}"`);
    const path = this.blobPath(hex);
    if (!existsSync(path)) throw new ArtifactUnavailable(ref, 'missing', `artifact ${ref} is not in the store at ${this.root}`);
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
    return new ArtifactUnavailable(ref, 'corrupt', `artifact ${ref} is corrupt in the store: ${why}; it was moved aside, and the next put of the same content rewrites it`);
  }

  private blobPath(hex: string): string {
    return join(this.root, 'artifacts', hex.slice(0, 2), `${hex}.json.gz`);
  }

  async putHarness(config: HarnessConfig): Promise<string> {
    const id = harnessId(config);
    const path = this.harnessPath(id);
    // A copy that is damaged or holds another harness is rewritten: putting a harness again repairs it.
    if (!existsSync(path) || !storedHarnessIsIntact(id, readFileSync(path, 'utf8'))) this.writeAtomic(path, toJson(config));
    return id;
  }

  /** The harness `id` names, verified against its content id; a damaged copy is set aside (see StoredFileCorrupt). */
  async getHarness(id: string): Promise<HarnessConfig> {
    const path = this.harnessPath(id);
    if (!existsSync(path)) throw new Error(`harness ${id} is not in the store at ${this.root}`);
    try {
      return parseStoredHarness(id, readFileSync(path, 'utf8'));
    } catch (e) {
      if (!(e instanceof StoredFileCorrupt)) throw e;
      try {
        renameSync(path, `${path}.corrupt-${process.pid}-${Date.now()}`);
      } catch {
        // Another reader moved it first.
      }
      throw new StoredFileCorrupt(`${e.message}; it was moved aside, and the next put of the same harness rewrites it`);
    }
  }

  harnessPath(id: string): string {
    if (!/^hx-[0-9a-f]{16}$/.test(id)) throw new Error(`not a harness id: "${id}"`);
    return join(this.root, 'harnesses', `${id}.json`);
  }

  /** A small mutable cache keyed by any JSON value (rollout outcomes keyed by harness, task and seed). */
  async cacheGet<T>(namespace: string, key: unknown): Promise<T | undefined> {
    return this.cacheGetSync<T>(namespace, key);
  }

  async cacheGetMany<T>(namespace: string, keys: unknown[]): Promise<Array<T | undefined>> {
    return keys.map((key) => this.cacheGetSync<T>(namespace, key));
  }

  private cacheGetSync<T>(namespace: string, key: unknown): T | undefined {
    const path = join(this.root, 'cache', namespace, `${sha256Hex(canonicalJson(key))}.json`);
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch {
      return undefined; // a write torn by a crash is a miss, recomputed deterministically
    }
  }

  async cacheSet(namespace: string, key: unknown, value: unknown): Promise<void> {
    this.writeAtomic(join(this.root, 'cache', namespace, `${sha256Hex(canonicalJson(key))}.json`), JSON.stringify(value));
  }

  /**
   * Many cache entries at once: one directory check, and plain writes (a torn entry reads as a miss), done
   * on libuv's thread pool, all at once. A rollout activity records its chunk's outcomes here while the
   * worker's event loop runs other activities' episodes: written synchronously, a 120-task evaluation's
   * entries held the loop ~8 ms per evaluation (cpu profile, bench/ratio-profile.ts). Resolves once every
   * entry is written, as before.
   */
  async cacheSetMany(namespace: string, entries: Array<[unknown, unknown]>): Promise<void> {
    const dir = join(this.root, 'cache', namespace);
    mkdirSync(dir, { recursive: true });
    await Promise.all(entries.map(([key, value]) => writeFile(join(dir, `${sha256Hex(canonicalJson(key))}.json`), JSON.stringify(value))));
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
  async appendAudit(record: AuditRecord): Promise<boolean> {
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
      this.setAsideTornTail(path);
      const size = statSync(path).size;
      if (size > index.offset) {
        const fd = openSync(path, 'r');
        try {
          const fresh = Buffer.alloc(size - index.offset);
          readSync(fd, fresh, 0, fresh.length, index.offset);
          const text = fresh.toString('utf8');
          const complete = text.lastIndexOf('\n') + 1; // a line still being written is read next time
          for (const r of parseAuditLines(text.slice(0, complete), `audit log of run ${record.runId}`)) index.keys.add(r.key);
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

  /**
   * Under the audit lock no append is in progress, so a last line without its newline was torn by a writer
   * that died: it is moved to audit.jsonl.torn-… with a warning and the log cut back to its last whole
   * record, so the next append starts a line of its own instead of gluing itself to the torn one.
   */
  private setAsideTornTail(path: string): void {
    const size = statSync(path).size;
    if (size === 0) return;
    const fd = openSync(path, 'r');
    let tail: Buffer;
    try {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] === 0x0a) return;
      const text = readFileSync(path);
      const keep = text.lastIndexOf(0x0a) + 1;
      tail = text.subarray(keep);
      writeFileSync(`${path}.torn-${process.pid}-${Date.now()}`, tail);
      truncateSync(path, keep);
    } finally {
      closeSync(fd);
    }
    console.warn(`audit log ${path}: a torn last line (${tail.length} bytes) was set aside; the log continues from its last whole record`);
  }

  async readAudit(runId: string): Promise<AuditRecord[]> {
    const path = join(this.runDir(runId), 'audit.jsonl');
    if (!existsSync(path)) return [];
    return parseAuditLines(readFileSync(path, 'utf8'), `audit log of run ${runId}`);
  }

  /** Stages that fault injection has held open in this run (see activities' faultPoint). */
  async faultMarkers(runId: string): Promise<string[]> {
    const dir = this.runDir(runId);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('fault-')).map((f) => f.slice('fault-'.length)) : [];
  }

  /** A JSON file of the run's folder, or undefined when it does not exist yet. */
  async readRunFile<T>(runId: string, name: string): Promise<T | undefined> {
    const path = this.runFilePath(runId, name);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
  }

  async writeRunFile(runId: string, name: string, content: string | Buffer): Promise<string> {
    const path = this.runFilePath(runId, name);
    this.writeAtomic(path, content);
    return path;
  }

  async check(): Promise<void> {
    const probe = join(this.root, `.probe-${process.pid}-${Date.now()}`);
    try {
      this.writeAtomic(probe, 'probe');
      if (readFileSync(probe, 'utf8') !== 'probe') throw new Error('the probe file read back differs');
      unlinkSync(probe);
    } catch (e) {
      throw new Error(`the artifact store folder ${this.root} is not usable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check HARNESSX_STORE (or HARNESSX_DATA_DIR) and the folder's permissions`);
    }
  }

  /** A file of the run's folder (local only: training jobs keep their working files there). */
  runFilePath(runId: string, name: string): string {
    const problem = runFileProblem(name);
    if (problem) throw new Error(`unsafe run file name: ${problem}`);
    return join(this.runDir(runId), ...name.split('/'));
  }
}

/** A unique temp name beside `path` (its directory created): concurrent writers never share one. */
function tempPathFor(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
}


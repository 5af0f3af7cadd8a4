import type { AuditRecord } from '../aegis/types';
import type { HarnessConfig } from '../harness/config';
import type { ArrayBlobWriter } from './array-blob-writer';
import type { OutagePolicy } from './outage';

/**
 * What every artifact store offers, wherever it keeps its bytes (a local folder, an S3-compatible bucket):
 * content-addressed blobs, harness versions, small caches, per-run files and audit logs. Asynchronous,
 * because an object store answers over the network; nothing here exposes a local path, so activities,
 * reports and the CLI work the same on every backend. Implementations keep the same guarantees: a blob
 * read back is verified against its ref (corrupt → an error naming the ref, never other data), a cache
 * entry that does not parse is a miss, and an audit record key is appended at most once however many
 * processes or hosts append it.
 */
export interface Store {
  /** Where the store lives, for messages: a folder path or s3://bucket/prefix. Never holds credentials. */
  readonly location: string;

  /**
   * Stores a JSON value; the ref is the sha256 of its canonical JSON, so equal values share one blob.
   * `canonical: false` hashes plain JSON instead (large blobs built by one code path, whose key order is
   * already fixed).
   */
  put(value: unknown, options?: { canonical?: boolean }): Promise<string>;
  /** The value stored under `ref`, after checking that its bytes hash to the ref. */
  get<T>(ref: string): Promise<T>;
  /** A JSON array blob written element by element (a rollout's traces), with flat memory; `finish()` gives the ref. */
  arrayWriter(): ArrayBlobWriter;

  /** Stores a harness version under its content id (hx-…). */
  putHarness(config: HarnessConfig): Promise<string>;
  getHarness(id: string): Promise<HarnessConfig>;

  /** A small mutable cache keyed by any JSON value; undefined on a miss (or an entry that does not parse). */
  cacheGet<T>(namespace: string, key: unknown): Promise<T | undefined>;
  /** cacheGet for many keys at once, in the order given (one call, so a backend may batch or parallelise). */
  cacheGetMany<T>(namespace: string, keys: unknown[]): Promise<Array<T | undefined>>;
  cacheSet(namespace: string, key: unknown, value: unknown): Promise<void>;
  cacheSetMany(namespace: string, entries: Array<[unknown, unknown]>): Promise<void>;

  /** Appends unless a record with the same key exists in the run's log; true when this call appended it. */
  appendAudit(record: AuditRecord): Promise<boolean>;
  /** The run's audit log, in append order (on one host; see the backend for several). */
  readAudit(runId: string): Promise<AuditRecord[]>;
  /** Stages that fault injection has held open in this run (run files named fault-<stage>). */
  faultMarkers(runId: string): Promise<string[]>;

  /** A JSON file of the run (`name` may hold "/"), or undefined when it does not exist yet. */
  readRunFile<T>(runId: string, name: string): Promise<T | undefined>;
  /** Writes a run file whole (readers never see a partial one) and returns where it is, for messages. */
  writeRunFile(runId: string, name: string, content: string | Buffer): Promise<string>;

  /**
   * Whether the store can be used at all (reachable, the credentials accepted, writable): writes, reads
   * back and removes a tiny probe. Throws an error naming the setting to fix. Called at worker start and
   * before a run starts, so a wrong setting never surfaces as a retry loop inside a run.
   */
  check(): Promise<void>;

  /**
   * The same store, whose requests wait out transient failures (the store restarting, a full disk) under
   * `policy` instead of failing at once (store/outage.ts). Only stores reached over a network have it; a
   * worker's activities use it (activities/store-outage.ts), the CLI does not.
   */
  withOutagePolicy?(policy: OutagePolicy): Store;
}

import type { AuditRecord } from '../aegis/types';
import { HarnessConfig, harnessId, parseHarnessConfig } from '../harness/config';

/**
 * What a store reads back it verifies: a harness file must be the harness its id names (ids are content
 * hashes), and an audit log stays readable past a damaged line. Shared by the local and the S3 store.
 */

/** A stored file that is not what its name says: the caller sets it aside and a put of the same content repairs it. */
export class StoredFileCorrupt extends Error {}

/**
 * An artifact (a content-addressed blob) that cannot be read: not in the store, or damaged (and set aside).
 * Reading it again cannot help; writing its content again can, so the activity boundary fails the activity
 * for good with type ARTIFACT_UNAVAILABLE and the ref, and the workflow re-runs the activity that wrote it.
 */
export class ArtifactUnavailable extends Error {
  constructor(
    readonly ref: string,
    readonly reason: 'missing' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactUnavailable';
  }
}

/**
 * The harness stored under `id`, or StoredFileCorrupt naming the id and what is wrong (never the file's
 * bytes: a damaged or hostile file must not reach error messages). A file that parses to another
 * harness (tampered, or a copy under the wrong name) is refused, not served under this id.
 */
export function parseStoredHarness(id: string, text: string): HarnessConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new StoredFileCorrupt(`harness file ${id}.json is corrupt: it is not valid JSON (${text.length} characters; truncated?)`);
  }
  let config: HarnessConfig;
  try {
    config = parseHarnessConfig(raw);
  } catch (e) {
    throw new StoredFileCorrupt(`harness file ${id}.json is corrupt: it is not a valid harness config (${(e as Error).message.split('\n')[0].slice(0, 200)})`);
  }
  const actual = harnessId(config);
  if (actual !== id) throw new StoredFileCorrupt(`harness file ${id}.json is corrupt: its content is harness ${actual}, not ${id}`);
  return config;
}

/** Whether `text` is exactly a valid copy of harness `id` (putHarness rewrites a copy that is not). */
export function storedHarnessIsIntact(id: string, text: string): boolean {
  try {
    parseStoredHarness(id, text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The records of a JSON-lines audit log. A last line without its newline is a record still being written
 * (or torn by a crash): it is not returned. A line that does not parse (a torn write a later append was
 * glued to) is skipped with a warning naming the log and the line number: one damaged line never makes the
 * whole log, and every history, report and lineage built from it, unreadable.
 */
export function parseAuditLines(text: string, where: string, warn: (message: string) => void = (m) => console.warn(m)): AuditRecord[] {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const records: AuditRecord[] = [];
  complete.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push(JSON.parse(line) as AuditRecord);
    } catch {
      warn(`${where}: line ${i + 1} is damaged (${line.length} characters that are not JSON) and was skipped`);
    }
  });
  return records;
}

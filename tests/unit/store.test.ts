import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';

describe('artifact store', () => {
  const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-store-')));
  it('addresses blobs by content', () => {
    const a = store.put({ b: 1, a: [1, 2] });
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(store.put({ a: [1, 2], b: 1 })).toBe(a);
    expect(store.get(a)).toEqual({ a: [1, 2], b: 1 });
    expect(() => store.get('sha256:' + '0'.repeat(64))).toThrow(/not in the store/);
    expect(() => store.get('../../etc/passwd')).toThrow(/not an artifact ref/);
  });
  it('stores harness versions by id', () => {
    const id = store.putHarness(seedHarness());
    expect(store.getHarness(id)).toEqual(seedHarness());
    expect(() => store.harnessPath('../x')).toThrow(/not a harness id/);
  });
  it('appends audit records idempotently by key', () => {
    const record = { key: '1:ship', runId: 'run-1', round: 1, stage: 'ship' as const, kind: 'commit' as const, payload: {}, evidenceRefs: [], ts: 't' };
    expect(store.appendAudit(record)).toBe(true);
    expect(store.appendAudit({ ...record, ts: 'later' })).toBe(false);
    expect(store.readAudit('run-1')).toHaveLength(1);
    expect(() => store.runDir('../escape')).toThrow(/unsafe run id/);
  });
  it('writes an array element by element under the ref put() gives the whole array', async () => {
    const elements = Array.from({ length: 300 }, (_, i) => ({ i, text: 'x'.repeat(i % 97), nested: { z: i, a: [i, null] } }));
    const other = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-store-')));
    const writer = other.arrayWriter();
    for (const e of elements) writer.add(e);
    expect(writer.length).toBe(300);
    const ref = await writer.finish();
    expect(ref).toBe(store.put(elements, { canonical: false }));
    expect(other.get(ref)).toEqual(elements);
    await expect(writer.finish()).rejects.toThrow(/twice/);
    expect(() => writer.add({})).toThrow(/after finish/);
    const empty = other.arrayWriter();
    expect(await empty.finish()).toBe(store.put([], { canonical: false }));
  });
});

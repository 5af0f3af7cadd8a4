import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';

describe('artifact store', () => {
  const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-store-')));
  it('addresses blobs by content', async () => {
    const a = await store.put({ b: 1, a: [1, 2] });
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await store.put({ a: [1, 2], b: 1 })).toBe(a);
    expect(await store.get(a)).toEqual({ a: [1, 2], b: 1 });
    await expect(store.get('sha256:' + '0'.repeat(64))).rejects.toThrow(/not in the store/);
    await expect(store.get('../../etc/passwd')).rejects.toThrow(/not an artifact ref/);
  });
  it('stores harness versions by id', async () => {
    const id = await store.putHarness(seedHarness());
    expect(await store.getHarness(id)).toEqual(seedHarness());
    expect(() => store.harnessPath('../x')).toThrow(/not a harness id/);
  });
  it('appends audit records idempotently by key', async () => {
    const record = { key: '1:ship', runId: 'run-1', round: 1, stage: 'ship' as const, kind: 'commit' as const, payload: {}, evidenceRefs: [], ts: 't' };
    expect(await store.appendAudit(record)).toBe(true);
    expect(await store.appendAudit({ ...record, ts: 'later' })).toBe(false);
    expect(await store.readAudit('run-1')).toHaveLength(1);
    expect(() => store.runDir('../escape')).toThrow(/unsafe run id/);
  });
  it('writes an array element by element under the ref put() gives the whole array', async () => {
    const elements = Array.from({ length: 300 }, (_, i) => ({ i, text: 'x'.repeat(i % 97), nested: { z: i, a: [i, null] } }));
    const other = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-store-')));
    const writer = other.arrayWriter();
    for (const e of elements) writer.add(e);
    expect(writer.length).toBe(300);
    const ref = await writer.finish();
    expect(ref).toBe(await store.put(elements, { canonical: false }));
    expect(await other.get(ref)).toEqual(elements);
    await expect(writer.finish()).rejects.toThrow(/twice/);
    expect(() => writer.add({})).toThrow(/after finish/);
    const empty = other.arrayWriter();
    expect(await empty.finish()).toBe(await store.put([], { canonical: false }));
  });
});

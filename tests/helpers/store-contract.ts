import { gzipSync } from 'node:zlib';
import type { AuditRecord } from '../../aegis/types';
import { seedHarness } from '../../harness/seed';
import type { Store } from '../../store/store';

/**
 * One store location seen by a test: `open()` gives a new Store on it (a second call is a second "host":
 * no state shared in memory), and the raw hooks damage what the backend keeps, bypassing the Store API.
 */
export interface StoreFixture {
  open(): Store;
  /** Replaces the bytes stored for blob `ref` (as a crash, a bad copy or bit rot would). */
  replaceBlobBytes(ref: string, bytes: Buffer): Promise<void>;
  /** Writes raw bytes as the cache entry for (namespace, key), e.g. half a JSON document. */
  writeRawCacheEntry(namespace: string, key: unknown, bytes: Buffer): Promise<void>;
  /** How many blob objects or files the store holds. */
  blobCount(): Promise<number>;
}

const record = (runId: string, key: string, extra: Partial<AuditRecord> = {}): AuditRecord => ({ key, runId, round: 1, stage: 'ship', kind: 'info', payload: { key }, evidenceRefs: [], ts: 't', ...extra });

/**
 * The behaviour every Store backend owes its callers, run against each backend (the local folder in the
 * unit project, versitygw in the integration project). `fixture` gives a fresh, empty location per test.
 */
export function storeContract(backend: string, fixture: () => Promise<StoreFixture>, timeoutMs = 30_000): void {
  describe(`store contract: ${backend}`, () => {
    test('blobs: content-addressed, equal values stored once, read back equal; unknown and malformed refs are named', async () => {
      const f = await fixture();
      const store = f.open();
      const a = await store.put({ b: 1, a: [1, 2] });
      expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await store.put({ a: [1, 2], b: 1 })).toBe(a);
      expect(await f.open().put({ a: [1, 2], b: 1 })).toBe(a);
      expect(await f.blobCount()).toBe(1);
      expect(await f.open().get(a)).toEqual({ a: [1, 2], b: 1 });
      await expect(store.get(`sha256:${'0'.repeat(64)}`)).rejects.toThrow(new RegExp(`artifact sha256:0{64} is not in the store at ${escape(store.location)}`));
      await expect(store.get('../../etc/passwd')).rejects.toThrow(/not an artifact ref/);
    }, timeoutMs);

    test('array writer: element by element, the ref put() gives the whole array, read back equal', async () => {
      const f = await fixture();
      const store = f.open();
      const elements = Array.from({ length: 300 }, (_, i) => ({ i, text: 'x'.repeat(i % 97), nested: { z: i, a: [i, null] } }));
      const writer = store.arrayWriter();
      for (const e of elements) writer.add(e);
      const ref = await writer.finish();
      expect(ref).toBe(await f.open().put(elements, { canonical: false }));
      expect(await f.blobCount()).toBe(1);
      expect(await store.get(ref)).toEqual(elements);
      expect(await store.arrayWriter().finish()).toBe(await store.put([], { canonical: false }));
    }, timeoutMs);

    test('a corrupt or truncated blob is a clear error naming the ref, never other data; the next put of the content repairs it', async () => {
      const f = await fixture();
      const store = f.open();
      const value = { traces: Array.from({ length: 200 }, (_, i) => ({ i, text: `step ${i}` })) };
      const ref = await store.put(value);
      const other = await store.put({ answer: 41 });
      // Valid gzip of other content: decompresses fine, hashes wrong.
      await f.replaceBlobBytes(ref, gzipSync(JSON.stringify({ answer: 41 })));
      await expect(f.open().get(ref)).rejects.toThrow(new RegExp(`artifact ${ref} is corrupt in the store.*its content hashes to ${other}`));
      expect(await store.put(value)).toBe(ref);
      expect(await f.open().get(ref)).toEqual(value);
      // Torn: the first half of the gzip'd bytes.
      const whole = gzipSync(JSON.stringify(value));
      await f.replaceBlobBytes(ref, whole.subarray(0, Math.floor(whole.length / 2)));
      await expect(f.open().get(ref)).rejects.toThrow(new RegExp(`artifact ${ref} is corrupt in the store.*does not decompress`));
      expect(await store.put(value)).toBe(ref);
      expect(await f.open().get(ref)).toEqual(value);
      // Damaged and never read: putting the same content again still repairs it (issue 28).
      await f.replaceBlobBytes(ref, whole.subarray(0, Math.floor(whole.length / 3)));
      expect(await store.put(value)).toBe(ref);
      expect(await f.open().get(ref)).toEqual(value);
      await f.replaceBlobBytes(ref, gzipSync(JSON.stringify({ answer: 41 })));
      expect(await f.open().put(value)).toBe(ref);
      expect(await f.open().get(ref)).toEqual(value);
    }, timeoutMs);

    test('harness versions by id; an unknown id and a malformed one are named', async () => {
      const f = await fixture();
      const store = f.open();
      const id = await store.putHarness(seedHarness());
      expect(id).toMatch(/^hx-[0-9a-f]{16}$/);
      expect(await store.putHarness(seedHarness())).toBe(id);
      expect(await f.open().getHarness(id)).toEqual(seedHarness());
      await expect(store.getHarness('hx-0000000000000000')).rejects.toThrow(/harness hx-0000000000000000 is not in the store/);
      await expect(store.getHarness('../x')).rejects.toThrow(/not a harness id/);
    }, timeoutMs);

    test('caches: set and get by any JSON key, many at once in order; a torn entry is a miss', async () => {
      const f = await fixture();
      const store = f.open();
      expect(await store.cacheGet('outcomes', { t: 1 })).toBeUndefined();
      await store.cacheSet('responses', { k: 'a' }, { text: 'A' });
      expect(await f.open().cacheGet('responses', { k: 'a' })).toEqual({ text: 'A' });
      await store.cacheSetMany('outcomes', [[{ t: 1, h: 'x' }, { passed: true }], [{ h: 'x', t: 2 }, { passed: false }]]);
      expect(await f.open().cacheGetMany('outcomes', [{ h: 'x', t: 2 }, { t: 3 }, { t: 1, h: 'x' }])).toEqual([{ passed: false }, undefined, { passed: true }]);
      await f.writeRawCacheEntry('outcomes', { h: 'x', t: 2 }, Buffer.from('{"passed":fa'));
      expect(await f.open().cacheGet('outcomes', { h: 'x', t: 2 })).toBeUndefined();
      expect(await f.open().cacheGetMany('outcomes', [{ t: 1, h: 'x' }, { h: 'x', t: 2 }])).toEqual([{ passed: true }, undefined]);
      await store.cacheSet('outcomes', { h: 'x', t: 2 }, { passed: false });
      expect(await store.cacheGet('outcomes', { h: 'x', t: 2 })).toEqual({ passed: false });
    }, timeoutMs);

    test('run files: whole JSON files by name (nested too), fault markers; unsafe run ids and names refused', async () => {
      const f = await fixture();
      const store = f.open();
      expect(await store.readRunFile('run-1', 'summary.json')).toBeUndefined();
      const where = await store.writeRunFile('run-1', 'summary.json', JSON.stringify({ a: 1 }));
      expect(where).toContain('run-1');
      await store.writeRunFile('run-1', 'summary.json', JSON.stringify({ a: 2 }));
      await store.writeRunFile('run-1', 'train-3/done.json', JSON.stringify({ done: true }));
      await store.writeRunFile('run-1', 'grpo.verl.parquet', Buffer.from([0, 1, 2, 255]));
      expect(await f.open().readRunFile('run-1', 'summary.json')).toEqual({ a: 2 });
      expect(await f.open().readRunFile('run-1', 'train-3/done.json')).toEqual({ done: true });
      expect(await f.open().faultMarkers('run-1')).toEqual([]);
      await store.writeRunFile('run-1', 'fault-rollout', new Date().toISOString());
      await store.writeRunFile('run-1', 'fault-ship', new Date().toISOString());
      expect((await f.open().faultMarkers('run-1')).sort()).toEqual(['rollout', 'ship']);
      expect(await f.open().faultMarkers('run-2')).toEqual([]);
      await expect(store.writeRunFile('../escape', 'x.json', '{}')).rejects.toThrow(/unsafe run id/);
      await expect(store.readRunFile('run-1', '../../x.json')).rejects.toThrow(/unsafe run file name/);
    }, timeoutMs);

    test('audit: a key is appended once; the log reads back in append order', async () => {
      const f = await fixture();
      const store = f.open();
      // Keys in no sorted order, appended within the same millisecond as often as not.
      const keys = ['setup', '1:rollout', '1:digest', '1:gate:c2', '1:gate:c1', '1:ship', '0:a', 'final'];
      for (const key of keys) expect(await store.appendAudit(record('run-a', key))).toBe(true);
      expect(await store.appendAudit(record('run-a', '1:ship', { ts: 'retried' }))).toBe(false);
      expect((await store.readAudit('run-a')).map((r) => r.key)).toEqual(keys);
      expect((await f.open().readAudit('run-a')).map((r) => r.key)).toEqual(keys);
      expect((await store.readAudit('run-a')).find((r) => r.key === '1:ship')!.ts).toBe('t');
      expect(await store.readAudit('run-none')).toEqual([]);
      // An append from a second host after the first's finished sorts after them.
      expect(await f.open().appendAudit(record('run-a', 'later'))).toBe(true);
      expect((await store.readAudit('run-a')).map((r) => r.key)).toEqual([...keys, 'later']);
      await expect(store.appendAudit(record('../x', 'k'))).rejects.toThrow(/unsafe run id/);
    }, timeoutMs);

    test('audit: two hosts appending overlapping keys at once lose and duplicate no record, and every reader sees one order', async () => {
      const f = await fixture();
      const hostA = f.open();
      const hostB = f.open();
      const N = 60;
      // A appends k0..k59, B appends k30..k89 (30 keys overlap), both at once.
      const appendAll = (store: Store, from: number) => Promise.all(Array.from({ length: N }, (_, i) => store.appendAudit(record('race', `k${from + i}`, { payload: { host: from } }))));
      const [a, b] = await Promise.all([appendAll(hostA, 0), appendAll(hostB, 30)]);
      const appended = [...a, ...b].filter(Boolean).length;
      const keys = (await hostA.readAudit('race')).map((r) => r.key);
      expect(keys).toHaveLength(90);
      expect(new Set(keys).size).toBe(90);
      expect(appended).toBe(90);
      expect((await hostB.readAudit('race')).map((r) => r.key)).toEqual(keys);
      expect((await f.open().readAudit('race')).map((r) => r.key)).toEqual(keys);
    }, timeoutMs * 2);

    test('check(): a usable store passes', async () => {
      const f = await fixture();
      await expect(f.open().check()).resolves.toBeUndefined();
    }, timeoutMs);
  });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

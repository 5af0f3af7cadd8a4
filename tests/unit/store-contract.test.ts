import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, sha256Hex } from '../../harness/canonical';
import { ArtifactStore } from '../../store/artifact-store';
import { storeContract, StoreFixture } from '../helpers/store-contract';

/** The local folder backend: the files behind it are written directly to damage them. */
async function localFixture(): Promise<StoreFixture> {
  const root = mkdtempSync(join(tmpdir(), 'hx-store-contract-'));
  const blobFile = (ref: string) => {
    const hex = ref.slice('sha256:'.length);
    return join(root, 'artifacts', hex.slice(0, 2), `${hex}.json.gz`);
  };
  return {
    open: () => new ArtifactStore(root),
    replaceBlobBytes: async (ref, bytes) => writeFileSync(blobFile(ref), bytes),
    writeRawCacheEntry: async (namespace, key, bytes) => {
      mkdirSync(join(root, 'cache', namespace), { recursive: true });
      writeFileSync(join(root, 'cache', namespace, `${sha256Hex(canonicalJson(key))}.json`), bytes);
    },
    blobCount: async () => readdirSync(join(root, 'artifacts'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.json.gz')).length,
  };
}

storeContract('local folder', localFixture);

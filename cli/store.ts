import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJson } from '../harness/config';
import { ArtifactStore } from '../store/artifact-store';
import type { Store } from '../store/store';
import { dataDir } from './paths';

/** The artifact store the CLI's commands read and write: the data directory. */
export function cliStore(): Store {
  return new ArtifactStore(dataDir());
}

/**
 * A local file holding harness `id`, for `--harness` and the summary's harnessPath: the store's own file
 * when the store is a local folder, otherwise a copy written under the local data directory (harnesses
 * are content-addressed, so the copy never goes stale).
 */
export async function localHarnessFile(store: Store, id: string): Promise<string> {
  if (store instanceof ArtifactStore) return store.harnessPath(id);
  const local = new ArtifactStore(dataDir());
  const path = local.harnessPath(id);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, toJson(await store.getHarness(id)));
  return path;
}

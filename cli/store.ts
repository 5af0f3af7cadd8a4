import { ArtifactStore } from '../store/artifact-store';
import { openStore, StoreSettingError } from '../store/open-store';
import type { Store } from '../store/store';
import { UsageError } from './errors';
import { dataDir } from './paths';

/**
 * The artifact store the CLI's commands read and write: HARNESSX_STORE (a folder or s3://bucket/prefix),
 * else the data directory. A malformed setting is a usage error naming it.
 */
export function cliStore(): Store {
  try {
    return openStore({ defaultDir: dataDir() });
  } catch (e) {
    if (e instanceof StoreSettingError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * cliStore, checked before a run starts (reachable, credentials accepted, writable): a wrong endpoint,
 * key or bucket is one clear error naming the setting, not a run whose activities retry it.
 */
export async function checkedCliStore(): Promise<Store> {
  const store = cliStore();
  try {
    await store.check();
  } catch (e) {
    throw new UsageError(`artifact store ${store.location}: ${(e as Error).message}`);
  }
  return store;
}

/**
 * A local file holding harness `id`, for `--harness` and the summary's harnessPath: the store's own file
 * when the store is a local folder, otherwise a copy written under the local data directory (harnesses
 * are content-addressed, so the copy never goes stale).
 */
export async function localHarnessFile(store: Store, id: string): Promise<string> {
  if (store instanceof ArtifactStore) return store.harnessPath(id);
  const local = new ArtifactStore(dataDir());
  await local.putHarness(await store.getHarness(id));
  return local.harnessPath(id);
}

/**
 * "No audit log for <id>": where the CLI looked (and which setting chose that store), and how to point it at
 * the store the run's workers used — runs on a cluster usually live in a bucket this shell has no settings for.
 */
export function noRunMessage(id: string, store: Store, env: NodeJS.ProcessEnv = process.env): string {
  const chosenBy = env.HARNESSX_STORE?.trim() ? 'HARNESSX_STORE' : env.HARNESSX_DATA_DIR ? 'HARNESSX_DATA_DIR' : 'the default data folder; HARNESSX_STORE and HARNESSX_DATA_DIR are unset';
  const hint = env.HARNESSX_STORE?.trim()
    ? 'check that HARNESSX_STORE (and AWS_ENDPOINT_URL_S3) name the store the run\'s workers used'
    : 'if the run\'s workers used an S3 store, set the same store settings here: HARNESSX_STORE=s3://bucket[/prefix], AWS_ENDPOINT_URL_S3 and the AWS_* keys (for `cluster up`: eval "$(npx harnessx cluster up --env)"); if they used another folder, HARNESSX_DATA_DIR';
  return `no audit log for "${id}" in ${store.location} (${chosenBy}): ${hint}`;
}

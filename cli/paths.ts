import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { installedAsDependency, packageRoot } from '../harness/package-root';

export const PROJECT_ROOT = packageRoot();
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/**
 * Project state (git-ignored): the dev server's SQLite, the artifact store, `cluster up`'s data. In a clone
 * it is the clone's .harnessx; installed as a dependency it is ./.harnessx in the working directory (the
 * user's project), never the package folder inside node_modules, which npm replaces on every install.
 */
export function stateDir(): string {
  if (process.env.HARNESSX_HOME) return resolve(process.env.HARNESSX_HOME);
  return installedAsDependency() ? resolve('.harnessx') : join(PROJECT_ROOT, '.harnessx');
}
export function dataDir(): string {
  return process.env.HARNESSX_DATA_DIR ? resolve(process.env.HARNESSX_DATA_DIR) : join(stateDir(), 'data');
}

/**
 * Where built Go binaries (the Temporal CLI, `cluster up`'s servers) live: a clone's .harnessx/bin, as
 * always; an installed package's are the user's, shared by every project on the machine
 * ($XDG_CACHE_HOME/harnessx/bin, default ~/.cache/harnessx/bin), since a cold build takes minutes and the
 * binaries depend only on their pinned versions. HARNESSX_HOME does not move them (hosts of a multi-host
 * test share one build).
 */
export function binDir(): string {
  if (!installedAsDependency()) return join(PROJECT_ROOT, '.harnessx', 'bin');
  const cache = process.env.XDG_CACHE_HOME ? resolve(process.env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(cache, 'harnessx', 'bin');
}
export function localCliPath(): string {
  return join(binDir(), 'temporal');
}

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { installedAsDependency, packageRoot } from '../harness/package-root';

export const PROJECT_ROOT = packageRoot();
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

// Where project state and the artifact store live: shared with the library (createAgent's episodic memory), so in store/.
export { dataDir, stateDir } from '../store/data-dir';

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

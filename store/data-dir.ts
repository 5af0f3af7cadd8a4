import { join, resolve } from 'node:path';
import { installedAsDependency, packageRoot } from '../harness/package-root';

/**
 * Project state (git-ignored): the dev server's SQLite, the artifact store, `cluster up`'s data. In a clone
 * it is the clone's .harnessx; installed as a dependency it is ./.harnessx in the working directory (the
 * user's project), never the package folder inside node_modules, which npm replaces on every install.
 */
export function stateDir(): string {
  if (process.env.HARNESSX_HOME) return resolve(process.env.HARNESSX_HOME);
  return installedAsDependency() ? resolve('.harnessx') : join(packageRoot(), '.harnessx');
}
export function dataDir(): string {
  return process.env.HARNESSX_DATA_DIR ? resolve(process.env.HARNESSX_DATA_DIR) : join(stateDir(), 'data');
}


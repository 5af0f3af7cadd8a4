import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(__dirname, '..');
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** Project-local state (git-ignored): the Temporal CLI, its SQLite database, the artifact store. */
export function stateDir(): string {
  return process.env.HARNESSX_HOME ? resolve(process.env.HARNESSX_HOME) : join(PROJECT_ROOT, '.harnessx');
}
export function dataDir(): string {
  return process.env.HARNESSX_DATA_DIR ? resolve(process.env.HARNESSX_DATA_DIR) : join(stateDir(), 'data');
}
export function localCliPath(): string {
  return join(PROJECT_ROOT, '.harnessx', 'bin', 'temporal');
}

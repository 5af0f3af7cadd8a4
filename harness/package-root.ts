import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let root: string | null = null;
/**
 * The folder holding HarnessX's package.json: the clone's root when running from sources, the installed
 * package's folder (…/node_modules/harnessx) when running the compiled code in dist/. Found by walking up
 * from this file, because the compiled copy sits one level deeper (dist/harness/) than the source.
 */
export function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}: HarnessX's files are incomplete`);
  }
}

/** HarnessX's own version (package.json). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Installed as a dependency of someone's project (under node_modules), as opposed to a clone of the repo:
 * state then belongs to the user's project, not to the package folder.
 */
export function installedAsDependency(): boolean {
  return packageRoot().split(/[\\/]/).includes('node_modules');
}

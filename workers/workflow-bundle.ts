import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { packageVersion } from '../harness/package-root';

/**
 * Where a worker gets its workflow code. In a clone, Temporal's bundler compiles workflows/*.ts at start,
 * as always. The installed package ships no TypeScript (the bundler does not compile .ts under
 * node_modules): `npm pack` compiles the workflows into dist/workflows and bundles them once into
 * dist/workflow-bundle.js, recording the Temporal SDK versions it bundled. A worker uses that bundle when
 * the installed SDK is the one it was built with, and otherwise bundles the compiled workflows at start
 * (a few seconds, said in one line) — a bundle of another SDK version is never loaded.
 */

const BUNDLE_FILE = 'workflow-bundle.js';
const META_FILE = 'workflow-bundle.json';

/** What a bundle was built against: the workflow SDK inside it, the worker SDK that runs it, and HarnessX. */
interface BundleMeta {
  workflowSdk: string;
  workerSdk: string;
  harnessx: string;
}

export type WorkflowSource = { workflowBundle: { codePath: string } } | { workflowsPath: string };

/** True for the compiled copy in dist/ (the installed package), false for the sources (a clone, tests). */
const compiled = (): boolean => __filename.endsWith('.js');
const distDir = (): string => join(__dirname, '..');
const workflowsPath = (): string => require.resolve('../workflows');

/** The version of an SDK package as Node resolves it from `fromDir` (the copy the bundler or the worker would load). */
function sdkVersion(name: string, fromDir: string): string {
  const manifest = require.resolve(`${name}/package.json`, { paths: [fromDir] });
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

function installedMeta(): BundleMeta {
  return { workflowSdk: sdkVersion('@temporalio/workflow', dirname(workflowsPath())), workerSdk: sdkVersion('@temporalio/worker', __dirname), harnessx: packageVersion() };
}

/** Why the shipped bundle cannot be used here, or null when it can. */
export function prebuiltBundleProblem(dir = distDir(), installed: BundleMeta = installedMeta()): string | null {
  const metaPath = join(dir, META_FILE);
  if (!existsSync(join(dir, BUNDLE_FILE)) || !existsSync(metaPath)) return `is missing (${join(dir, BUNDLE_FILE)})`;
  let built: Partial<BundleMeta>;
  try {
    built = JSON.parse(readFileSync(metaPath, 'utf8')) as Partial<BundleMeta>;
  } catch (e) {
    return `has an unreadable ${metaPath} (${(e as Error).message})`;
  }
  const differences = (['workflowSdk', 'workerSdk', 'harnessx'] as const)
    .filter((key) => built[key] !== installed[key])
    .map((key) => `${key === 'harnessx' ? 'harnessx' : key === 'workflowSdk' ? '@temporalio/workflow' : '@temporalio/worker'} ${built[key] ?? '(unrecorded)'}, installed ${installed[key]}`);
  return differences.length ? `was built for ${differences.join('; ')}` : null;
}

/** The workflow code a worker (or a replay) loads; see the comment at the top. */
export function workflowSource(log: (line: string) => void): WorkflowSource {
  if (!compiled()) return { workflowsPath: workflowsPath() };
  const problem = prebuiltBundleProblem();
  if (!problem) return { workflowBundle: { codePath: join(distDir(), BUNDLE_FILE) } };
  log(`HarnessX's prebuilt workflow bundle ${problem}: bundling the compiled workflows (${dirname(workflowsPath())}) for this SDK instead.`);
  return { workflowsPath: workflowsPath() };
}

/** `npm run build` (prepack): bundles the compiled workflows into dist/ with the SDK versions they were bundled with. */
export async function writeShippedBundle(): Promise<void> {
  if (!compiled()) throw new Error('writeShippedBundle bundles the compiled workflows: run it from dist/ after tsc');
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });
  writeFileSync(join(distDir(), BUNDLE_FILE), code);
  writeFileSync(join(distDir(), META_FILE), `${JSON.stringify(installedMeta(), null, 2)}\n`);
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinsAsWorker } from '../../cli/local-worker';
import { prebuiltBundleProblem, workflowSource } from '../../workers/workflow-bundle';

/**
 * The installed package's prebuilt workflow bundle is used only when the installed Temporal SDK is the one
 * it was bundled with; anything else is named (and the worker bundles the compiled workflows instead).
 */
describe('the shipped workflow bundle', () => {
  const installed = { workflowSdk: '1.24.0', workerSdk: '1.24.0', harnessx: '0.1.0' };
  const folder = (meta: unknown | null, bundle = true) => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-bundle-'));
    if (bundle) writeFileSync(join(dir, 'workflow-bundle.js'), '/* bundle */');
    if (meta !== null) writeFileSync(join(dir, 'workflow-bundle.json'), typeof meta === 'string' ? meta : JSON.stringify(meta));
    return dir;
  };

  it('matches when built for the installed SDK and HarnessX', () => {
    expect(prebuiltBundleProblem(folder(installed), installed)).toBeNull();
  });

  it('names every version that differs', () => {
    expect(prebuiltBundleProblem(folder({ ...installed, workflowSdk: '1.23.0' }), installed)).toBe('was built for @temporalio/workflow 1.23.0, installed 1.24.0');
    expect(prebuiltBundleProblem(folder({ workflowSdk: '1.25.1', workerSdk: '1.25.1', harnessx: '0.1.0' }), installed)).toBe(
      'was built for @temporalio/workflow 1.25.1, installed 1.24.0; @temporalio/worker 1.25.1, installed 1.24.0',
    );
    expect(prebuiltBundleProblem(folder({ workflowSdk: '1.24.0' }), installed)).toBe('was built for @temporalio/worker (unrecorded), installed 1.24.0; harnessx (unrecorded), installed 0.1.0');
  });

  it('is missing, or unreadable: said, never loaded', () => {
    const dir = folder(null, false);
    expect(prebuiltBundleProblem(dir, installed)).toBe(`is missing (${join(dir, 'workflow-bundle.js')})`);
    expect(prebuiltBundleProblem(folder('{not json'), installed)).toMatch(/^has an unreadable .*workflow-bundle\.json \(/);
  });

  it('from the sources (a clone, tests), workers bundle workflows/*.ts at start as always', () => {
    const lines: string[] = [];
    expect(workflowSource((l) => lines.push(l))).toEqual({ workflowsPath: require.resolve('../../workflows') });
    expect(lines).toEqual([]);
  });
});

describe('joining as a worker', () => {
  it('by default yes; --no-worker or HARNESSX_LOCAL_WORKER=off: no; anything else is refused', () => {
    expect(joinsAsWorker(false, {})).toBe(true);
    expect(joinsAsWorker(true, {})).toBe(false);
    expect(joinsAsWorker(false, { HARNESSX_LOCAL_WORKER: 'off' })).toBe(false);
    expect(joinsAsWorker(false, { HARNESSX_LOCAL_WORKER: ' ON ' })).toBe(true);
    expect(() => joinsAsWorker(false, { HARNESSX_LOCAL_WORKER: 'no' })).toThrow('HARNESSX_LOCAL_WORKER="no": expected "on" or "off"');
  });
});

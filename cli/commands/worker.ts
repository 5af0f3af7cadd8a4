import { connectionSettings, taskQueue } from '../../temporal.config';
import { createAegisWorker, installRuntime } from '../../workers/aegis-worker';
import { connectWorker } from '../../workers/connection';
import { ensureDevServer } from '../dev-server';
import type { Commands } from '../options';
import { dataDir } from '../paths';

export const commands: Commands = {
  /** An AEGIS worker polling the task queue until stopped. */
  worker: async () => {
    await ensureDevServer((l) => console.log(l));
    installRuntime();
    const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir() });
    console.log(`AEGIS worker polling ${taskQueue()} on ${connectionSettings().address}; Ctrl-C to stop.`);
    await worker.run();
  },
};

import { connectionSettings, taskQueue } from '../../temporal.config';
import { createAegisWorker, installRuntime } from '../../workers/aegis-worker';
import { connectWorker } from '../../workers/connection';
import { ensureDevServer } from '../dev-server';
import { type Commands, loadConfigFlag, parseFlags } from '../options';
import { dataDir } from '../paths';
import { checkedCliStore } from '../store';

export const commands: Commands = {
  /** An AEGIS worker polling the task queue until stopped, with the suites of the user's config registered. */
  worker: async (args) => {
    const values = parseFlags(args, { config: { type: 'string' } });
    // The config first: a bad one is reported (file and field) before a dev server is started for nothing.
    const { file, suites } = await loadConfigFlag(values.config);
    // Then the store: a worker that cannot reach it would fail every activity it takes.
    const store = await checkedCliStore();
    await ensureDevServer((l) => console.log(l));
    installRuntime();
    const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir(), store, config: values.config });
    if (file) console.log(`Suites from ${file}: ${suites.join(', ') || '(none)'}`);
    console.log(`Artifact store: ${store.location}`);
    console.log(`AEGIS worker polling ${taskQueue()} on ${connectionSettings().address}; Ctrl-C to stop.`);
    await worker.run();
  },
};

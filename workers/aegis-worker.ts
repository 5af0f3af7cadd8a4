import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { ActivityDeps, createActivities } from '../activities';
import { boxStatus } from '../benchmarks/code-box';
import { checkEndpointEnvironment } from '../models/endpoint-limiter';
import { checkStore, openStore } from '../store/open-store';
import type { Store } from '../store/store';
import { registerConfiguredSuites } from '../suites/load-config';
import { startTelemetry } from '../telemetry';
import { connectionSettings, taskQueue } from '../temporal.config';
import { dataConverter } from './codec';
import { installEndpointCoordination } from './endpoint-coordination';
import { workflowSource } from './workflow-bundle';

export interface AegisWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** The local store folder when HARNESSX_STORE does not name another store. */
  dataDir: string;
  /** The artifact store, already opened (and checked) by the caller; otherwise opened from HARNESSX_STORE / dataDir and checked here. */
  store?: Store;
  /** A prebuilt workflow bundle (tests build it once); otherwise the sources' or the package's own (workers/workflow-bundle.ts). */
  workflowBundle?: { code: string };
  /** Where a note about the workflow code goes (the package's bundle not matching the installed SDK); stderr by default. */
  log?: (line: string) => void;
  /** Tests and the bench only: replaces each task model rollouts create (see ActivityDeps.substituteRolloutModel). */
  substituteRolloutModel?: ActivityDeps['substituteRolloutModel'];
  /** Tests and the bench only: wraps the activities (the bench's meta-agent that thinks for 2 s per call). */
  wrapActivities?: (activities: ReturnType<typeof createActivities>) => ReturnType<typeof createActivities>;
  /** Diagnostics only: the workflow cache size (0 replays every workflow task from the start, as after an eviction; bench/deploy-replay.ts). The SDK's default otherwise. */
  maxCachedWorkflows?: number;
  /** Payload encryption; defaults to HARNESSX_CODEC_KEY from the environment. */
  dataConverter?: ReturnType<typeof dataConverter>;
  /** The user's config (`--config`); otherwise HARNESSX_CONFIG, else harnessx.config.* in the working directory, else none. */
  config?: string;
}

let runtimeInstalled = false;
/** The SDK logs at WARN unless HARNESSX_LOG_LEVEL says otherwise; progress is the CLI's job. */
export function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger((process.env.HARNESSX_LOG_LEVEL as 'WARN') ?? 'WARN') });
  } catch {
    /* already installed by the host (tests) */
  }
}

/**
 * The AEGIS worker: workflows plus every activity. Simulator rollouts are CPU-bound and share this
 * process's event loop; add worker processes (one per core) to scale out.
 */
export async function createAegisWorker(options: AegisWorkerOptions): Promise<Worker> {
  // A bad limit fails the worker at start, not its first rollout.
  checkEndpointEnvironment();
  // Said at start, not at the first HumanEval episode: without a box, task code is refused (or, opted in, unboxed).
  const box = boxStatus();
  if (box.kind !== 'bubblewrap') process.stderr.write(`harnessx worker: ${box.summary}\n`);
  // The config's suites are registered before the worker polls: a run naming one of them must find it on
  // its first activity. A bad config fails the worker at start, with the file and field named.
  await registerConfiguredSuites({ explicit: options.config });
  // Episode spans go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set; the provider flushes when the process
  // exits on its own, and the CLI flushes it before calling process.exit (cli/main.ts).
  startTelemetry();
  // The store is checked before the worker polls: wrong credentials, a missing bucket or an unreachable
  // endpoint stop the worker at start with the setting named, instead of failing (and retrying) activities.
  const store = options.store ?? openStore({ defaultDir: options.dataDir });
  if (!options.store) await checkStore(store);
  const namespace = options.namespace ?? connectionSettings().namespace;
  const queue = options.taskQueue ?? taskQueue();
  const converter = options.dataConverter ?? dataConverter();
  // Endpoint limits set in a run's input (or defaulted) are the whole cluster's: shared out by the queue's coordinator workflow.
  installEndpointCoordination({ connection: options.connection, namespace, taskQueue: queue, dataConverter: converter });
  return Worker.create({
    connection: options.connection,
    namespace,
    taskQueue: queue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : workflowSource(options.log ?? ((line) => process.stderr.write(`${line}\n`)))),
    activities: (options.wrapActivities ?? ((a) => a))(createActivities({ store, ...(options.substituteRolloutModel ? { substituteRolloutModel: options.substituteRolloutModel } : {}) })),
    // Enough slots that a poller is always waiting: a task that finds no waiting poller goes to the
    // server's backlog and waits there 1–2 s (measured), which cost simulator rollouts a third of their
    // throughput at 2 slots. Real-model rollouts wait on the network, so they want many slots anyway;
    // CPU-bound simulator episodes share the event loop (rollouts yield to it every 50 ms).
    maxConcurrentActivityTaskExecutions: Number(process.env.HARNESSX_MAX_ACTIVITIES ?? 16),
    dataConverter: converter,
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
  });
}

/**
 * The one home of Temporal settings: address, namespace, task queues, timeouts and retry policies.
 * Pure (no Node imports) so workflow code can import the activity options.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';

type Env = Record<string, string | undefined>;
const env = (): Env => (typeof process !== 'undefined' ? process.env : {});

export const TASK_QUEUE = 'harnessx-aegis';

/** The task queue workers poll and the CLI starts runs on: HARNESSX_TASK_QUEUE, default harnessx-aegis. */
export function taskQueue(e: Env = env()): string {
  return e.HARNESSX_TASK_QUEUE || TASK_QUEUE;
}

export const DEV_SERVER = {
  port: 7233,
  uiPort: 8233,
  namespace: 'default',
  /** Search attributes registered on the dev server (and kept current by the workflows). */
  searchAttributes: {
    HarnessXBenchmark: 'Keyword',
    HarnessXTaskModel: 'Keyword',
    HarnessXMetaModel: 'Keyword',
    HarnessXStatus: 'Keyword',
    HarnessXRound: 'Int',
    HarnessXBestScore: 'Double',
    HarnessXHarnessId: 'Keyword',
  },
} as const;

export interface ConnectionSettings {
  address: string;
  namespace: string;
  /** True when TEMPORAL_ADDRESS points at an existing cluster: nothing is started locally. */
  external: boolean;
  tls: boolean;
  apiKey?: string;
  clientCertPath?: string;
  clientKeyPath?: string;
}

/** Reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CERT / _KEY. */
export function connectionSettings(e: Env = env()): ConnectionSettings {
  const external = !!e.TEMPORAL_ADDRESS;
  const apiKey = e.TEMPORAL_API_KEY || undefined;
  const clientCertPath = e.TEMPORAL_TLS_CERT || undefined;
  const clientKeyPath = e.TEMPORAL_TLS_KEY || undefined;
  return {
    address: e.TEMPORAL_ADDRESS || `127.0.0.1:${DEV_SERVER.port}`,
    namespace: e.TEMPORAL_NAMESPACE || DEV_SERVER.namespace,
    external,
    tls: e.TEMPORAL_TLS === 'true' || !!apiKey || !!clientCertPath,
    apiKey,
    clientCertPath,
    clientKeyPath,
  };
}

export function webUiUrl(workflowId: string, e: Env = env()): string {
  const base = e.TEMPORAL_UI_URL || `http://localhost:${DEV_SERVER.uiPort}`;
  return `${base}/namespaces/${connectionSettings(e).namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

const retry = (maximumAttempts: number) => ({ initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts });

/**
 * Activity options per kind, used beside proxyActivities in the workflows. Every activity heartbeats at
 * least every 5 s (activities/), so a killed worker's activity is retried elsewhere within ~15 s.
 */
export const ACTIVITY_OPTIONS = {
  /** Episodes: long, heartbeating, so a killed worker is noticed within the heartbeat timeout. */
  rollout: { startToCloseTimeout: '20m', heartbeatTimeout: '15s', retry: { ...retry(5), nonRetryableErrorTypes: ['InvalidInput'] } },
  /** Meta-agent stages (digest, plan, evolve, critique). */
  meta: { startToCloseTimeout: '10m', heartbeatTimeout: '15s', retry: { ...retry(4), nonRetryableErrorTypes: ['InvalidInput'] } },
  /** Bookkeeping: audit appends, harness storage. Idempotent, so retried freely. */
  bookkeeping: { startToCloseTimeout: '1m', heartbeatTimeout: '15s', retry: { ...retry(10), nonRetryableErrorTypes: ['InvalidInput'] } },
  /** Training jobs (GRPO steps, external trainers): hours allowed, liveness from heartbeats. */
  training: { startToCloseTimeout: '24h', heartbeatTimeout: '1m', retry: { ...retry(3), nonRetryableErrorTypes: ['InvalidInput', 'TrainerMissing'] } },
} satisfies Record<string, ActivityOptions>;

/**
 * Audit appends. 20 attempts: an attempt waits out an artifact store outage for up to 25 s (it cannot
 * heartbeat; activities/store-outage.ts), so the attempts and their backoff cover a ~15 minute outage;
 * an append that fails for any other reason fails in milliseconds.
 */
export const LOCAL_ACTIVITY_OPTIONS = {
  startToCloseTimeout: '30s',
  retry: { ...retry(20), nonRetryableErrorTypes: ['InvalidInput'] },
} satisfies LocalActivityOptions;

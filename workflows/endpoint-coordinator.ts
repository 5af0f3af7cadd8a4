import { allHandlersFinished, condition, continueAsNew, defineQuery, defineUpdate, patched, setHandler, upsertMemo, workflowInfo } from '@temporalio/workflow';
import { emptyShareState, EndpointReport, EndpointShareState, LEARNED_CAPS_MEMO, learnedCapsMemo, reclaimExpired, renewShare, ShareGrant } from '../models/endpoint-shares';

/**
 * One endpoint limit for the whole cluster: a long-running workflow per task queue that divides each
 * endpoint's limit among the workers calling it (models/endpoint-shares.ts). Workers renew their shares
 * with an update every second or so; a worker that stops renewing loses its share after its lease, one that
 * wants nothing lends it. Its state (shares, learned caps) is workflow state: it survives the worker that
 * runs it, the server restarting, and continue-as-new.
 */
export interface EndpointCoordinatorInput {
  endpoints?: Record<string, EndpointShareState>;
}

export interface LeaseRenewal {
  workerId: string;
  endpoints: EndpointReport[];
}

export const renewEndpointLeasesUpdate = defineUpdate<ShareGrant[], [LeaseRenewal]>('renewEndpointLeases');
export const endpointSharesQuery = defineQuery<Record<string, EndpointShareState>>('endpointShares');

/** The workflow id of a task queue's coordinator: one per queue, so every worker of a queue shares it. */
export function endpointCoordinatorId(taskQueue: string): string {
  return `harnessx-endpoints-${taskQueue}`;
}

/** Renewals per run before continue-as-new (each adds a few events; this keeps a run's history to a few thousand). */
const RENEWALS_PER_RUN = 600;

export async function endpointCoordinator(input: EndpointCoordinatorInput = {}): Promise<void> {
  const endpoints: Record<string, EndpointShareState> = input.endpoints ?? {};
  let renewals = 0;
  /** The learned caps last written to the memo (none yet in this run; nothing learned is not written). */
  let memoText = '{}';
  setHandler(
    renewEndpointLeasesUpdate,
    ({ workerId, endpoints: reports }) => {
      renewals++;
      // Workflow time: the same on replay.
      const now = Date.now();
      const grants = reports.map((report) => renewShare((endpoints[report.key] ??= emptyShareState(report, now)), workerId, report, now));
      // Learned caps also go to the memo (only when they change): a worker starting while this workflow's
      // task is slow to run reads them with describe, which needs no worker (workers/endpoint-coordination.ts).
      if (patched('endpoint-learned-caps-memo')) {
        const memo = learnedCapsMemo(endpoints);
        const text = JSON.stringify(memo);
        if (text !== memoText) {
          memoText = text;
          upsertMemo({ [LEARNED_CAPS_MEMO]: memo });
        }
      }
      return grants;
    },
    {
      validator: (renewal) => {
        if (typeof renewal?.workerId !== 'string' || !Array.isArray(renewal.endpoints)) throw new Error('a renewal names its worker and lists its endpoints');
      },
    },
  );
  // A query must not change state: it answers with a copy from which expired workers are dropped.
  setHandler(endpointSharesQuery, () => {
    const view = JSON.parse(JSON.stringify(endpoints)) as Record<string, EndpointShareState>;
    for (const state of Object.values(view)) reclaimExpired(state, Date.now());
    return view;
  });
  await condition(() => renewals >= RENEWALS_PER_RUN || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof endpointCoordinator>({ endpoints });
}

import { condition, defineSignal, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import type { DeploymentInput } from '../../aegis/live/deployment-input';
import type { DeploymentState, LiveRun } from '../../aegis/live/deployment-state';
import { ledger } from './activities';
import { noopAudit, PassedCandidate, RoundHost, runRound } from './round-stages';

/** The meta-agent's memory a round reads and changes, handed to the round and back. */
export type RoundMemory = Pick<DeploymentState, 'tried' | 'reputation' | 'previousDigestRef' | 'regressionSet'>;

export interface DeploymentRoundInput {
  /** The deployment's workflow id: its audit log, and where the round's news go (whichever of its runs is current). */
  deploymentId: string;
  input: DeploymentInput;
  round: number;
  base: string;
  memory: RoundMemory;
  windowRuns: Array<Pick<LiveRun, 'taskId' | 'harnessId' | 'traceRef' | 'score' | 'source'>>;
}

/** How a round ended: the memory it leaves, and the candidate for the canary, if one passed (or why it failed). */
export interface RoundOutcome {
  memory: Omit<RoundMemory, 'regressionSet'> | null;
  canary?: PassedCandidate;
  failed?: string;
}

/** What a round tells its deployment as it goes. */
export interface RoundNews {
  round: number;
  /** The round's own workflow id: an orphaned round of an earlier deployment of the same name is not taken for this one's. */
  workflowId?: string;
  spend?: { tokens: number; costUsd: number | null };
  lastEvent?: string;
  awaitingApproval?: string;
  done?: RoundOutcome;
}
export const roundNewsSignal = defineSignal<[RoundNews]>('roundNews');
export const roundDecisionSignal = defineSignal<[{ harnessId?: string; approve: boolean; reason: string }]>('roundDecision');
/** Sent by a deployment that has no handle on its round (it continued as new) to learn whether the round still runs. */
export const roundCheckSignal = defineSignal('roundCheck');

/**
 * A live round as a child workflow of its deployment. In the deployment's own history a round held the
 * deployment back from continuing as new for the round's whole length (minutes to an hour with a real
 * meta-agent), while every report update, traces included, went on growing that history toward Temporal's
 * 50 MB limit, where the server terminates the workflow. As a child, the round has its own history and the
 * deployment continues as new whenever it needs to. The round reads a copy of the meta-agent's memory and
 * tells the deployment by signal (to its id, so a run that continued as new receives it) what it spent,
 * when a candidate awaits approval, and how it ended; the deployment alone changes the champion or canary.
 */
export async function deploymentRound(args: DeploymentRoundInput): Promise<RoundOutcome> {
  const { input, round, base, deploymentId } = args;
  const deployment = getExternalWorkflowHandle(deploymentId);
  const told: Promise<void>[] = [];
  // A deployment that is gone (terminated by an operator) hears nothing; the round's audits stand.
  const self = workflowInfo().workflowId;
  const tell = (news: Omit<RoundNews, 'round'>) => deployment.signal(roundNewsSignal, { round, workflowId: self, ...news }).catch(() => undefined);
  let decision: { approve: boolean; reason: string } | null = null;
  let waitingFor: string | null = null;
  // Only a decision on the candidate waiting counts (a late one about an earlier candidate does not).
  setHandler(roundDecisionSignal, (d) => void (waitingFor && (d.harnessId === undefined || d.harnessId === waitingFor) && (decision ??= d)));
  setHandler(roundCheckSignal, () => undefined);
  const memory: RoundMemory = { ...args.memory };
  const audit: RoundHost['audit'] = (entry) => ledger.recordAudit({ runId: deploymentId, round, evidenceRefs: [], ...entry });
  const outcome: RoundOutcome = { memory: null };
  try {
    await runRound(
      {
        input,
        round,
        base,
        memory,
        audit,
        spend: (x) => void (x && (x.tokens || x.costUsd) && told.push(tell({ spend: x }))),
        noop: async (reason) => {
          await audit(noopAudit(round, base, reason));
          told.push(tell({ lastEvent: `round ${round}: no change (${reason})` }));
        },
        approved: async (harnessId) => {
          decision = null;
          waitingFor = harnessId;
          await tell({ awaitingApproval: harnessId, lastEvent: `round ${round}: ${harnessId} passed the offline check and awaits approval` });
          await condition(() => decision !== null);
          waitingFor = null;
          return (decision as { approve: boolean } | null)?.approve ?? false;
        },
        // The deployment puts it out (or says why not) when it hears the round's end.
        canaryBlocked: () => null,
        startCanary: (canary) => ((outcome.canary = canary), false),
      },
      args.windowRuns,
    );
  } catch (e) {
    outcome.failed = (e as Error)?.message ?? String(e);
  }
  outcome.memory = { tried: memory.tried, reputation: memory.reputation, previousDigestRef: memory.previousDigestRef };
  await Promise.all(told);
  await tell({ done: outcome });
  return outcome;
}

import { condition } from '@temporalio/workflow';
import type { ReviewerDecision } from '../../aegis/run-state';
import type { GateResult } from '../../aegis/types';
import type { AegisRun } from './run';

/**
 * The approval step (approval mode 'human'): a candidate that passed the gate waits, shown in the status
 * query and as status awaiting_approval, until a reviewer's decide update approves or rejects it. A stop
 * while it waits rejects it. The verdict is recorded in the audit log either way.
 */
export async function awaitApproval(
  run: AegisRun,
  round: number,
  candidate: { candidateId: string; harnessId: string; editKey: string },
  gate: Pick<GateResult, 'incumbentPassed' | 'candidatePassed' | 'gateTasks'>,
): Promise<ReviewerDecision> {
  const c = run.controls;
  const { candidateId } = candidate;
  c.pending = { candidateId, harnessId: candidate.harnessId, editKey: candidate.editKey, gate: `${gate.incumbentPassed} → ${gate.candidatePassed} of ${gate.gateTasks}` };
  c.decision = null;
  c.lastEvent = `round ${round}: ${candidateId} (${candidate.editKey}) passed the gate and awaits approval`;
  c.publish('awaiting_approval');
  await condition(() => c.decision !== null || c.stopping);
  const verdict: ReviewerDecision = c.decision ?? { approve: false, reason: 'run stopped while awaiting approval' };
  c.pending = null;
  c.publish('running');
  await run.audit({
    key: `${round}:approval:${candidateId}`,
    round,
    stage: 'gate',
    kind: verdict.approve ? 'info' : 'rollback',
    candidateId,
    harnessId: candidate.harnessId,
    payload: { editKey: candidate.editKey, approval: verdict.approve ? 'approved' : 'rejected', reason: verdict.reason },
  });
  return verdict;
}

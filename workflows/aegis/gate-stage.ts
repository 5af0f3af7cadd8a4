import { gateAction, reputationAfterGate, scoreAfterShip, triedAfterGate, triedAfterReviewerRejection } from '../../aegis/round-decisions';
import type { GateResult } from '../../aegis/types';
import { rollouts } from './activities';
import { awaitApproval } from './approval';
import type { AegisRun } from './run';
import type { Shortlist } from './stages';
import { adoptCandidate, forkCandidate, RoundFocus } from './strategies';

/**
 * The gate stage: the critic's ranked candidates go through the deterministic gate one at a time, in
 * ranking order; the first that ships (or forks a variant) ends the round. Each verdict updates the tried
 * edits and the bucket reputations before the next candidate, so the order of gate calls is part of the
 * result: evaluating candidates concurrently must still apply the verdicts in ranking order.
 * Returns true when the round shipped.
 */
export async function gateStage(run: AegisRun, round: number, focus: RoundFocus, shortlist: Shortlist): Promise<boolean> {
  const { input, state: s, controls } = run;
  const { pool } = shortlist;
  for (const candidateId of shortlist.ranking) {
    if (!run.budgetLeft()) return run.noop(round, 'budget exhausted before the gate');
    const candidate = pool.candidates.find((c) => c.candidateId === candidateId)!;
    // Results recorded by workers older than the gate's spend report carry none.
    const gate: GateResult & { spend?: { tokens: number; costUsd: number | null } } = await rollouts.gate({
      benchmark: input.benchmark,
      candidatesRef: pool.candidatesRef,
      candidateId,
      incumbentId: focus.base,
      gateTaskIds: focus.gateTaskIds,
      k: input.k,
      seed: input.seed,
      minGain: input.minGain,
      gating: input.gating,
      endpointLimits: input.endpointLimits,
    });
    run.account(gate.spend);
    const edit = { key: candidate.editKey, bucket: candidate.bucket, harnessId: focus.base };
    s.tried = triedAfterGate(s.tried, edit, gate);
    s.reputation = reputationAfterGate(s.reputation, candidate.bucket, gate.passed);
    const action = gateAction(gate, { ensemble: focus.variant !== null, minGain: input.minGain });
    if (action !== 'ship') {
      s.rejected++;
      controls.lastEvent = `round ${round}: rejected ${candidate.editKey} (${gate.reason})`;
      await run.audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'rollback', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, reason: gate.reason, checks: gate.checks } });
      if (action === 'fork') {
        await forkCandidate(run, round, focus, candidate, gate, pool.candidatesRef);
        return true;
      }
      continue;
    }
    await run.audit({ key: `${round}:gate:${candidateId}`, round, stage: 'gate', kind: 'info', candidateId, harnessId: candidate.harnessId, payload: { editKey: candidate.editKey, checks: gate.checks } });
    if (input.approval === 'human') {
      const verdict = await awaitApproval(run, round, candidate, gate);
      if (!verdict.approve) {
        s.rejected++;
        s.tried = triedAfterReviewerRejection(s.tried, edit, verdict.reason);
        if (controls.stopping) return false;
        continue;
      }
    }
    await run.audit({
      key: `${round}:ship`,
      round,
      stage: 'ship',
      kind: 'commit',
      candidateId,
      harnessId: candidate.harnessId,
      payload: { ...(focus.variant ? { variant: focus.variant } : {}), from: focus.base, to: candidate.harnessId, editKey: candidate.editKey, bucket: candidate.bucket, gate: { incumbentPassed: gate.incumbentPassed, candidatePassed: gate.candidatePassed, gateTasks: gate.gateTasks, unlocked: gate.unlocked } },
      evidenceRefs: [pool.candidatesRef],
    });
    adoptCandidate(run, focus, candidate.harnessId);
    s.shipped++;
    s.bestScore = scoreAfterShip(gate);
    controls.lastEvent = `round ${round}: shipped ${candidate.editKey} (${gate.incumbentPassed} → ${gate.candidatePassed} of ${gate.gateTasks})`;
    return true;
  }
  return false;
}

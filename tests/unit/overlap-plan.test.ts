import { finalFitsSlack, NO_OVERLAP, overlapPlan, speculationWorthwhile } from '../../aegis/overlap';

/**
 * Which stages may overlap (aegis/overlap.ts): everything where the endpoint is the limit; the two overlaps
 * that run evolution work early only without a spend cap (spend decides only under one); speculation only
 * where its cost is endpoint time (self-hosted) unless asked for; nothing on the simulator under 'auto'.
 */
const selfHosted = 'openai-compatible:qwen@http://gpu:8000/v1';
const limits = [{ model: selfHosted, limit: { maxInFlight: 64 }, source: 'run input' }];
const base = { overlap: 'auto' as const, model: selfHosted, strategy: 'global' as const };

describe('overlapPlan', () => {
  it('overlaps everything on a self-hosted endpoint without caps', () => {
    expect(overlapPlan(base, limits)).toEqual({ measureInBackground: true, gateBaselineEarly: true, seedFinalEarly: true, speculateNextBatch: true, finalWithLastGate: true, gateLookahead: true, gateDuringCritique: true });
  });
  it('overlaps nothing when off, or on the simulator under auto', () => {
    expect(overlapPlan({ ...base, overlap: 'off' }, limits)).toEqual(NO_OVERLAP);
    expect(overlapPlan({ ...base, model: 'sim:small' }, limits)).toEqual(NO_OVERLAP);
    expect(overlapPlan({ ...base, model: 'sim:small', overlap: 'on' }, limits).speculateNextBatch).toBe(true);
  });
  it('never runs evolution work early under a spend cap, and keeps measurement in order under a measurement cap', () => {
    for (const cap of [{ maxTokens: 1_000_000 }, { maxUsd: 5 }]) {
      const p = overlapPlan({ ...base, ...cap }, limits);
      expect(p).toEqual({ measureInBackground: true, gateBaselineEarly: false, seedFinalEarly: false, speculateNextBatch: false, finalWithLastGate: false, gateLookahead: false, gateDuringCritique: false });
    }
    expect(overlapPlan({ ...base, maxMeasurementTokens: 10 }, limits)).toEqual({ measureInBackground: true, gateBaselineEarly: true, seedFinalEarly: false, speculateNextBatch: true, finalWithLastGate: false, gateLookahead: true, gateDuringCritique: true });
  });
  it('does not speculate on a paid API under auto (a dropped batch is billed), nor under the ensemble strategy or statistical gating', () => {
    expect(overlapPlan({ ...base, model: 'anthropic:claude-sonnet-4-5' }, limits)).toMatchObject({ speculateNextBatch: false, finalWithLastGate: false, gateLookahead: false, gateDuringCritique: false, gateBaselineEarly: true, seedFinalEarly: true });
    expect(overlapPlan({ ...base, gating: { mode: 'statistical' } }, limits).gateLookahead).toBe(false);
    expect(overlapPlan({ ...base, strategy: 'ensemble' }, limits).gateLookahead).toBe(false);
    expect(overlapPlan({ ...base, model: 'anthropic:claude-sonnet-4-5', overlap: 'on' }, limits).speculateNextBatch).toBe(true);
    expect(overlapPlan({ ...base, strategy: 'ensemble' }, limits)).toMatchObject({ gateBaselineEarly: false, speculateNextBatch: false, measureInBackground: true });
    expect(overlapPlan({ ...base, gating: { mode: 'statistical' } }, limits).gateBaselineEarly).toBe(false);
    // No limits recorded (runs from before they were): not known to be self-hosted.
    expect(overlapPlan(base, undefined).speculateNextBatch).toBe(false);
  });
});

describe('speculationWorthwhile', () => {
  it('only when a next round follows that only the gate can change', () => {
    expect(speculationWorthwhile({ round: 2, rounds: 5, guardDueAfterRound: false, stopping: false })).toBe(true);
    expect(speculationWorthwhile({ round: 5, rounds: 5, guardDueAfterRound: false, stopping: false })).toBe(false);
    expect(speculationWorthwhile({ round: 3, rounds: 5, guardDueAfterRound: true, stopping: false })).toBe(false);
    expect(speculationWorthwhile({ round: 2, rounds: 5, guardDueAfterRound: false, stopping: true })).toBe(false);
  });
});

describe('finalFitsSlack', () => {
  it('starts a candidate\'s final evaluation beside its gate only when it fits the episodes a rollout keeps open', () => {
    expect(finalFitsSlack({ finalEpisodes: 16, maxInFlight: 64 })).toBe(true);
    expect(finalFitsSlack({ finalEpisodes: 128, maxInFlight: 64 })).toBe(true);
    // A default final evaluation (212 train tasks × 2 and the test tasks) is far past the slack.
    expect(finalFitsSlack({ finalEpisodes: 564, maxInFlight: 64 })).toBe(false);
    expect(finalFitsSlack({ finalEpisodes: 16, maxInFlight: undefined })).toBe(false);
  });
});

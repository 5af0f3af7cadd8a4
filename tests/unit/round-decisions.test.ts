import {
  digestNoOpReason,
  forksIntoVariant,
  gateAction,
  regressionGuardDue,
  regressionSuite,
  regressionVerdict,
  reputationAfterGate,
  scoreAfterShip,
  gateTermsFor,
  triedAfterGate,
  triedAfterReviewerRejection,
  variantsAfterRollback,
  variantsAfterShip,
  variantToImprove,
} from '../../aegis/round-decisions';
import type { GateCheckResult, GateResult } from '../../aegis/types';
import type { Variant } from '../../aegis/variants';

/** The AEGIS round's pure decisions, called as the workflow calls them, without a Temporal server. */
const checks = (failing: GateCheckResult['check'] | null): GateCheckResult[] =>
  (['manifest_complete', 'canonical_form', 'reward_hacking', 'code_sandbox', 'smoke_test', 'seesaw'] as const).map((check) => ({ check, passed: check !== failing, detail: '' }));
const gate = (over: Partial<GateResult>): GateResult => ({
  candidateId: 'r1-c1',
  passed: false,
  checks: checks('seesaw'),
  reason: 'seesaw: regresses 1 solved task(s)',
  incumbentPassed: 5,
  candidatePassed: 6,
  gateTasks: 10,
  regressions: ['t1'],
  unlocked: ['t2', 't3'],
  ...over,
});
const variant = (id: string, harnessId: string): Variant => ({ id, harnessId, parentId: null, born: 0, stats: {} });

describe('what to do with a gate result', () => {
  it('ships a candidate that passed, under either strategy', () => {
    const passed = gate({ passed: true, checks: checks(null), reason: null, regressions: [] });
    expect(gateAction(passed, { ensemble: false, minGain: 1 })).toBe('ship');
    expect(gateAction(passed, { ensemble: true, minGain: 1 })).toBe('ship');
  });

  it('forks a seesaw-only rejection that unlocks while regressing, under ensemble only', () => {
    expect(gateAction(gate({}), { ensemble: true, minGain: 1 })).toBe('fork');
    expect(gateAction(gate({}), { ensemble: false, minGain: 1 })).toBe('reject');
  });

  it('rejects instead of forking when another check failed, nothing regressed, or too little was unlocked', () => {
    // The seesaw check did not even run: the code sandbox failed first.
    const sandboxFailed = gate({ checks: checks('code_sandbox').slice(0, 4) });
    expect(forksIntoVariant(sandboxFailed, 1)).toBe(false);
    expect(gateAction(sandboxFailed, { ensemble: true, minGain: 1 })).toBe('reject');
    // A plain "no gain" seesaw failure: nothing regressed, so nothing to isolate in a variant.
    expect(gateAction(gate({ regressions: [] }), { ensemble: true, minGain: 1 })).toBe('reject');
    // Unlocks must reach minGain, and at least one even with minGain 0.
    expect(gateAction(gate({ unlocked: ['t2'] }), { ensemble: true, minGain: 2 })).toBe('reject');
    expect(gateAction(gate({ unlocked: [] }), { ensemble: true, minGain: 0 })).toBe('reject');
    expect(gateAction(gate({ unlocked: ['t2'] }), { ensemble: true, minGain: 0 })).toBe('fork');
  });
});

describe('which variant an ensemble round improves', () => {
  it('picks the variant with the most failed tasks; ties go to the earlier variant', () => {
    const perVariant = [
      { variantId: 'v0', tasks: 10, passed: 8 },
      { variantId: 'v1', tasks: 6, passed: 1 },
      { variantId: 'v2', tasks: 9, passed: 4 },
    ];
    expect(variantToImprove(perVariant).variantId).toBe('v1');
    expect(variantToImprove([{ variantId: 'v0', tasks: 4, passed: 1 }, { variantId: 'v1', tasks: 3, passed: 0 }]).variantId).toBe('v0');
    expect(perVariant.map((v) => v.variantId)).toEqual(['v0', 'v1', 'v2']);
  });
});

describe('a digest with nothing to do', () => {
  it('no-ops when every task passed or actionability is below the threshold, with the reason', () => {
    expect(digestNoOpReason({ failing: 0, actionability: 1 }, 0)).toBe('nothing actionable: every task passed');
    expect(digestNoOpReason({ failing: 3, actionability: 0.25 }, 0.5)).toBe('actionability 0.25 < 0.5');
    expect(digestNoOpReason({ failing: 3, actionability: 0.5 }, 0.5)).toBeNull();
  });
});

describe('what the gate verdicts leave behind', () => {
  const edit = { key: 'prompt:format', bucket: 'prompt' as const, harnessId: 'hx-a' };

  it('records each tried edit with its outcome, keeping the last 500', () => {
    const tried = triedAfterGate([], edit, { passed: false, reason: 'seesaw: no gain' });
    expect(tried).toEqual([{ ...edit, outcome: 'rejected: seesaw: no gain', rejectedFor: 'idea' }]);
    expect(triedAfterGate(tried, edit, { passed: true, reason: null }).at(-1)).toEqual({ ...edit, outcome: 'shipped' });
    // A ship with the gate's counts comes back with its measured effect.
    const counted = { passed: true, reason: null, incumbentPassed: 9, candidatePassed: 12, gateTasks: 20, unlocked: ['t3', 't7', 't9'], regressions: [] };
    expect(triedAfterGate(tried, edit, counted).at(-1)!.outcome).toBe('shipped: 9 → 12 of 20 gate tasks passed (+3); unlocked t3, t7, t9');
    const full = Array.from({ length: 500 }, (_, i) => ({ ...edit, key: `e${i}`, outcome: 'shipped' }));
    const next = triedAfterGate(full, edit, { passed: true, reason: null });
    expect(next).toHaveLength(500);
    expect(next[0].key).toBe('e1');
  });

  it('tells a rejection for a mistake (the change never ran) from one for the idea', () => {
    expect(triedAfterGate([], edit, { passed: false, reason: 'smoke_test: guard: threw' })[0].rejectedFor).toBe('mistake');
    expect(triedAfterGate([], edit, { passed: false, reason: 'code_sandbox: guard: type error' })[0].rejectedFor).toBe('mistake');
    expect(triedAfterGate([], edit, { passed: false, reason: 'reward_hacking: reads the answer' })[0].rejectedFor).toBe('idea');
    expect(triedAfterGate([], edit, { passed: false, reason: 'seesaw: regresses 2 task(s)' })[0].rejectedFor).toBe('idea');
  });

  it("replaces a reviewer-rejected edit's 'shipped' entry, with the reviewer's reason when given, as a rejection of the idea", () => {
    const tried = triedAfterGate([{ ...edit, key: 'older', outcome: 'shipped' }], edit, { passed: true, reason: null });
    expect(triedAfterReviewerRejection(tried, edit, 'too risky')).toEqual([tried[0], { ...edit, outcome: 'rejected: by reviewer: too risky', rejectedFor: 'idea' }]);
    expect(triedAfterReviewerRejection(tried, edit, '').at(-1)!.outcome).toBe('rejected: by reviewer');
  });

  it("states the gate's terms for this round: batch and validation tasks counted from the gate set", () => {
    const input = { minGain: 2, k: 3, gating: { mode: 'statistical' as const, repeats: 4, tCritical: 2.5 } };
    expect(gateTermsFor(input, ['t1', 't2', 'v1'], ['v1', 'v2'])).toEqual({ minGain: 2, k: 3, batchTasks: 2, validationTasks: 1, minUnseenGain: 1, mode: 'statistical', repeats: 4, tCritical: 2.5 });
    // The rule on unseen tasks turned off (0), or no validation task in the gate set: the agents are not told of it.
    expect(gateTermsFor({ ...input, gating: { ...input.gating, minUnseenGain: 0 } }, ['t1', 'v1'], ['v1'])).not.toHaveProperty('minUnseenGain');
    expect(gateTermsFor({ minGain: 1, k: 1 }, ['t1'], [])).toEqual({ minGain: 1, k: 1, batchTasks: 1, validationTasks: 0 });
  });

  it('moves the bucket reputation ×1.25 on a pass and ×0.9 on a rejection, within [0.25, 4], leaving the input alone', () => {
    const reputation = { prompt: 1, tools: 1 };
    expect(reputationAfterGate(reputation, 'prompt', true)).toEqual({ prompt: 1.25, tools: 1 });
    expect(reputationAfterGate(reputation, 'tools', false)).toEqual({ prompt: 1, tools: 0.9 });
    expect(reputationAfterGate({ prompt: 3.9 }, 'prompt', true).prompt).toBe(4);
    expect(reputationAfterGate({ prompt: 0.26 }, 'prompt', false).prompt).toBe(0.25);
    expect(reputationAfterGate({}, 'config', true)).toEqual({ config: 1.25 });
    expect(reputation).toEqual({ prompt: 1, tools: 1 });
  });

  it('scores a ship by the candidate on the gate set, and swaps only the focus variant', () => {
    expect(scoreAfterShip({ candidatePassed: 6, gateTasks: 8 })).toBe(0.75);
    expect(scoreAfterShip({ candidatePassed: 0, gateTasks: 0 })).toBeNull();
    const pool = [variant('v0', 'hx-a'), variant('v1', 'hx-b')];
    expect(variantsAfterShip(pool, 'v1', 'hx-c').map((v) => v.harnessId)).toEqual(['hx-a', 'hx-c']);
    expect(pool[1].harnessId).toBe('hx-b');
  });
});

describe('the cumulative-regression guard', () => {
  it('runs every N rounds and never when N is 0', () => {
    expect([1, 2, 3, 4, 5, 6].filter((r) => regressionGuardDue({ every: 3 }, r))).toEqual([3, 6]);
    expect(regressionGuardDue({ every: 0 }, 3)).toBe(false);
  });

  it('uses one fixed, sorted suite: validation tasks plus a seeded train sample', () => {
    const train = Array.from({ length: 20 }, (_, i) => `train-${String(i).padStart(2, '0')}`);
    const suite = regressionSuite(['val-b', 'val-a'], train, 5, 'seed-1');
    expect(suite).toHaveLength(7);
    expect(suite).toEqual([...suite].sort());
    expect(suite).toEqual(expect.arrayContaining(['val-a', 'val-b']));
    expect(regressionSuite(['val-b', 'val-a'], train, 5, 'seed-1')).toEqual(suite);
    expect(regressionSuite(['val-b', 'val-a'], train, 5, 'seed-2')).not.toEqual(suite);
    expect(regressionSuite([], train, 0, 'seed-1')).toEqual([]);
  });

  it('rolls back only beyond the tolerance, and otherwise keeps the best harness so far', () => {
    const best = { harnessId: 'hx-best', solved: 10, round: 3 };
    expect(regressionVerdict(best, { harnessId: 'hx-new', solved: 8 }, 1, 6)).toEqual({ rollback: true, to: best });
    expect(regressionVerdict(best, { harnessId: 'hx-new', solved: 9 }, 1, 6)).toEqual({ rollback: false, best });
    expect(regressionVerdict(best, { harnessId: 'hx-new', solved: 10 }, 1, 6)).toEqual({ rollback: false, best: { harnessId: 'hx-new', solved: 10, round: 6 } });
    expect(regressionVerdict(best, { harnessId: 'hx-new', solved: 9 }, 0, 6)).toEqual({ rollback: true, to: best });
  });

  it('points every variant running the rolled-back harness at the best one', () => {
    const pool = [variant('v0', 'hx-bad'), variant('v1', 'hx-ok'), variant('v2', 'hx-bad')];
    expect(variantsAfterRollback(pool, 'hx-bad', 'hx-best').map((v) => v.harnessId)).toEqual(['hx-best', 'hx-ok', 'hx-best']);
  });
});

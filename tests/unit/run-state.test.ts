import { applyBudgetChange, budgetChangeProblem, spendExhausted, stopReason } from '../../aegis/run-budget';
import { addSpend, ControlsView, decisionProblem, initialRunState, runStatus, stateAfterRound } from '../../aegis/run-state';
import { batchPassRates, buildRunSummary, finalEvaluationSkipped, finalTrainTaskIds } from '../../aegis/run-summary';
import { BUDGET_EXHAUSTED } from '../../aegis/stop';

/** The evolveHarness run's state, budgets, status and summary, as plain functions (no Temporal server). */
const prepared = { seedHarnessId: 'hx-seed', trainIds: ['t1', 't2', 't3'], validationIds: ['v1'], testIds: ['x1', 'x2'] };
const fresh = () => initialRunState('run-1', prepared, { rounds: 6, patience: 3, strategy: 'global' });
const controls: ControlsView = { stage: 'digest', waitingForResume: false, paused: false, stopRequested: false, lastEvent: 'round 1: …', pendingApproval: null };

describe('run state', () => {
  it('starts at round 0 on the seed harness; under ensemble the pool is the seed alone', () => {
    const s = fresh();
    expect(s).toMatchObject({ round: 0, incumbentId: 'hx-seed', seedHarnessId: 'hx-seed', costUsd: 0, tokens: 0, budget: { rounds: 6, patience: 3 }, reputation: { prompt: 1, tools: 1, config: 1, processor: 1 } });
    expect(s.variants).toBeUndefined();
    expect(initialRunState('run-1', prepared, { rounds: 6, patience: 3, strategy: 'ensemble' }).variants).toEqual([{ id: 'v0', harnessId: 'hx-seed', parentId: null, born: 0, stats: {} }]);
    // Runs never share a reputation object.
    fresh().reputation.prompt = 2;
    expect(fresh().reputation.prompt).toBe(1);
  });

  it('adds spend; unreported tokens count 0 and an unpriced cost makes the total unknown for good', () => {
    expect(addSpend({ tokens: 10, costUsd: 0.5 }, { tokens: 5, costUsd: 0.25 })).toEqual({ tokens: 15, costUsd: 0.75 });
    expect(addSpend({ tokens: 10, costUsd: 0.5 }, undefined)).toEqual({ tokens: 10, costUsd: null });
    expect(addSpend({ tokens: 10, costUsd: 0.5 }, { tokens: 5, costUsd: null })).toEqual({ tokens: 15, costUsd: null });
    expect(addSpend({ tokens: 10, costUsd: null }, { tokens: 5, costUsd: 1 })).toEqual({ tokens: 15, costUsd: null });
  });

  it('counts rounds without a ship for patience and keeps the last 200 pass rates', () => {
    const s = { ...fresh(), lastPassRate: 0.5, roundsWithoutShip: 2 };
    expect(stateAfterRound(s, 3, false)).toEqual({ roundsWithoutShip: 3, passRates: [{ round: 3, passRate: 0.5, shipped: false }] });
    expect(stateAfterRound(s, 3, true).roundsWithoutShip).toBe(0);
    const long = { ...s, passRates: Array.from({ length: 200 }, (_, i) => ({ round: i + 1, passRate: 0, shipped: false })) };
    const after = stateAfterRound(long, 201, true).passRates;
    expect(after).toHaveLength(200);
    expect([after[0].round, after.at(-1)!.round]).toEqual([2, 201]);
  });
});

describe('status', () => {
  it('reports the input budget before setup and the state after it', () => {
    expect(runStatus('run-1', 6, undefined, { ...controls, stage: 'setup' })).toMatchObject({ round: 0, rounds: 6, stage: 'setup', incumbentHarnessId: null, shipped: 0 });
    const s = { ...fresh(), round: 2, shipped: 1, rejected: 3, bestScore: 0.7, budget: { rounds: 9, patience: 3 } };
    expect(runStatus('run-1', 6, s, controls)).toEqual({
      runId: 'run-1', round: 2, rounds: 9, stage: 'digest', paused: false, stopRequested: false, incumbentHarnessId: 'hx-seed', bestScore: 0.7, lastPassRate: null, shipped: 1, rejected: 3, lastEvent: 'round 1: …', pendingApproval: null, endpointLimits: null,
      tokens: 0, measurementTokens: 0,
    });
  });

  it("shows stage 'paused' only while the run waits at a stage boundary", () => {
    expect(runStatus('run-1', 6, fresh(), { ...controls, paused: true }).stage).toBe('digest');
    expect(runStatus('run-1', 6, fresh(), { ...controls, paused: true, waitingForResume: true }).stage).toBe('paused');
  });
});

describe('budgets', () => {
  it('validates a setBudget change against the current round and the schema bounds', () => {
    expect(budgetChangeProblem(undefined, { rounds: 5 })).toMatch(/still starting/);
    expect(budgetChangeProblem(3, {})).toBe('give rounds and/or patience');
    expect(budgetChangeProblem(3, { rounds: 2 })).toBe('rounds must be a whole number from the current round (3) to 10000');
    expect(budgetChangeProblem(3, { rounds: 3.5 })).toMatch(/whole number/);
    expect(budgetChangeProblem(3, { rounds: 10001 })).toMatch(/to 10000/);
    expect(budgetChangeProblem(3, { patience: 0 })).toBe('patience must be a whole number from 1 to 1000');
    expect(budgetChangeProblem(3, { rounds: 3, patience: 1000 })).toBeNull();
    expect(applyBudgetChange({ rounds: 6, patience: 3 }, { patience: 5 })).toEqual({ rounds: 6, patience: 5 });
    expect(applyBudgetChange({ rounds: 6, patience: 3 }, { rounds: 9 })).toEqual({ rounds: 9, patience: 3 });
  });

  it('stops for a stop request first, then spent budget, then rounds, then patience', () => {
    const s = { ...fresh(), round: 6, roundsWithoutShip: 3, tokens: 100, costUsd: 2 };
    expect(stopReason({ maxTokens: 100 }, s, true)).toBe('stop requested');
    expect(stopReason({ maxTokens: 100 }, s, false)).toBe(`${BUDGET_EXHAUSTED}: 100 of 100 tokens`);
    expect(stopReason({ maxUsd: 1 }, s, false)).toMatch(/^budget exhausted: \$2\.0000 of \$1$/);
    expect(stopReason({}, s, false)).toBe('budget of 6 rounds used');
    expect(stopReason({}, { ...s, round: 2 }, false)).toBe('no ship in 3 rounds (patience)');
    expect(stopReason({}, { ...s, round: 2, roundsWithoutShip: 0 }, false)).toBeNull();
    // The round budget is read from the state: a setBudget change takes effect at the next check.
    expect(stopReason({}, { ...s, budget: { rounds: 7, patience: 9 } }, false)).toBeNull();
  });

  it('knows when the spend budget is gone, and that an unknown cost never exhausts a USD budget', () => {
    expect(spendExhausted({ maxTokens: 100 }, { ...fresh(), tokens: 99 })).toBeNull();
    expect(spendExhausted({ maxTokens: 100 }, { ...fresh(), tokens: 100 })).toMatch(/^budget exhausted/);
    expect(spendExhausted({ maxUsd: 1 }, { ...fresh(), costUsd: null })).toBeNull();
    expect(spendExhausted({}, { ...fresh(), tokens: 1e9 })).toBeNull();
  });
});

describe('approval decisions', () => {
  const pending = { candidateId: 'r2-c1', harnessId: 'hx-c', editKey: 'prompt:format', gate: '5 → 6 of 10' };
  it('accepts a verdict only on the candidate waiting, with a boolean approve', () => {
    expect(decisionProblem(null, { candidateId: 'r2-c1', approve: true })).toBe('no candidate is waiting for approval');
    expect(decisionProblem(pending, { candidateId: 'r99-c9', approve: true })).toBe('the candidate waiting is r2-c1, not r99-c9');
    expect(decisionProblem(pending, { candidateId: 'r2-c1', approve: 'yes' })).toBe('approve must be true or false');
    expect(decisionProblem(pending, { candidateId: 'r2-c1', approve: false })).toBeNull();
  });
});

describe('final evaluation and summary', () => {
  it('skips the final evaluation only when the spend budget ended the run', () => {
    expect(finalEvaluationSkipped(`${BUDGET_EXHAUSTED}: 100 of 100 tokens`)).toBe(true);
    expect(finalEvaluationSkipped('budget of 6 rounds used')).toBe(false);
    expect(finalEvaluationSkipped(null)).toBe(false);
    expect(batchPassRates({ seedBatchPassRate: 0.25, lastPassRate: null }, 40)).toEqual([{ passRate: 0.25, tasks: 40 }, { passRate: 0, tasks: 40 }]);
  });

  it('evaluates all train tasks, or a fixed sorted sample of them', () => {
    const train = Array.from({ length: 30 }, (_, i) => `t${i}`);
    expect(finalTrainTaskIds(train, 0, 's')).toBe(train);
    const sample = finalTrainTaskIds(train, 5, 's');
    expect(sample).toHaveLength(5);
    expect(sample).toEqual([...sample].sort());
    expect(finalTrainTaskIds(train, 5, 's')).toEqual(sample);
  });

  it('summarises the run; the ensemble fields appear only under ensemble', () => {
    const heldOut = [{ round: 2, evolutionTokens: 600, validation: 0.5, test: 0.4 }];
    const s = { ...fresh(), round: 4, shipped: 2, rejected: 5, incumbentId: 'hx-evolved', tokens: 1234, costUsd: null, measurementTokens: 321, heldOut };
    const measured = { seedTrain: { passRate: 0.3, tasks: 3 }, evolvedTrain: { passRate: 0.6, tasks: 3 }, seedTest: { passRate: 0.2, tasks: 2 }, evolvedTest: { passRate: 0.5, tasks: 2 } };
    const summary = buildRunSummary({ workflowId: 'run-1', benchmark: 'blocksworld', model: 'sim:small', stopReason: 'budget of 4 rounds used' }, s, measured);
    expect(summary).toEqual({
      workflowId: 'run-1', benchmark: 'blocksworld', model: 'sim:small', rounds: 4, stopReason: 'budget of 4 rounds used', seedHarnessId: 'hx-seed', harnessId: 'hx-evolved', shipped: 2, rejected: 5,
      seedPassRate: 0.3, evolvedPassRate: 0.6, seedTestPassRate: 0.2, evolvedTestPassRate: 0.5, trainTasks: 3, testTasks: 2, tokens: 1234, costUsd: null,
      measurementTokens: 321, measurementUsd: 0, finalEvaluation: true, heldOut,
    });
    expect(buildRunSummary({ workflowId: 'r', benchmark: 'b', model: 'm', stopReason: 'x' }, s, { ...measured, finalEvaluation: false }).finalEvaluation).toBe(false);
    expect(buildRunSummary({ workflowId: 'r', benchmark: 'b', model: 'm', stopReason: 'x' }, s, { ...measured, seedTest: null, evolvedTest: null })).toMatchObject({ seedTestPassRate: null, evolvedTestPassRate: null, testTasks: 0 });
    const pool = [{ id: 'v0', harnessId: 'hx-seed', parentId: null, born: 0, stats: { all: { passed: 1, total: 2 } } }];
    expect(buildRunSummary({ workflowId: 'r', benchmark: 'b', model: 'm', stopReason: 'x' }, { ...s, variants: pool }, measured)).toMatchObject({ strategy: 'ensemble', variants: [{ id: 'v0', harnessId: 'hx-seed', parentId: null, born: 0 }] });
  });
});

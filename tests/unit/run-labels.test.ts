import { activitySummary, bestValidation, currentDetails, evolveSummary, grouped, workflowSummary } from '../../aegis/run-labels';

describe('what the Temporal Web UI shows of a run', () => {
  it('names an evolve run by evolver, benchmark, models, rounds and budget', () => {
    const input = { benchmark: 'webshop', model: 'sim:small', metaAgent: 'rules', rounds: 4, k: 2, seed: 'demo', maxTokens: 1_500_000 };
    expect(evolveSummary(input)).toBe('HarnessX AEGIS · webshop · task model sim:small · meta-agent rules · 4 rounds · pass@2 · seed demo · budget 1,500,000 tok');
    expect(evolveSummary({ ...input, evolver: 'random', maxTokens: undefined, maxUsd: 2 })).toContain('HarnessX random evolver · webshop · task model sim:small · meta-agent rules · 4 rounds · pass@2 · seed demo · budget $2');
    expect(evolveSummary({ ...input, maxTokens: undefined })).toMatch(/no budget cap$/);
  });

  it('labels each activity with round, stage and what sets it apart from its siblings', () => {
    const tasks = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
    expect(activitySummary({ round: 3, stage: 'gate' }, 'gate', { candidateId: 'r3-c2', taskIds: tasks(40) })).toBe('round 3 · gate · r3-c2 · 40 tasks');
    expect(activitySummary({ round: 3, stage: 'rollout' }, 'rollout', { taskIds: tasks(1200), k: 2 })).toBe('round 3 · rollout · 1,200 tasks · pass@2');
    expect(activitySummary({ round: 2, stage: 'digest' }, 'digest', {})).toBe('round 2 · digest · meta-agent');
    // Evaluations: told apart by purpose.
    expect(activitySummary({ round: 4, stage: 'gate' }, 'evaluate', { seed: 's|regression', harnessId: 'hx-1', taskIds: tasks(30) })).toBe('round 4 · regression guard · hx-1 · 30 tasks');
    expect(activitySummary({ round: 4, stage: 'gate' }, 'evaluate', { seed: 's', harnessId: 'hx-1', taskIds: tasks(20) })).toBe('round 4 · held-out validation · hx-1 · 20 tasks');
    expect(activitySummary({ round: 4, stage: 'gate' }, 'evaluate', { seed: 's|final', harnessId: 'hx-1', taskIds: tasks(20) })).toBe('round 4 · held-out test · hx-1 · 20 tasks');
    expect(activitySummary({ round: 6, stage: 'final' }, 'evaluate', { seed: 's|final', harnessId: 'hx-2', taskIds: tasks(50) })).toBe('final evaluation · hx-2 · 50 tasks');
    expect(activitySummary({ round: 0, stage: 'setup' }, 'prepareRun', {})).toBe('setup · seed harness and task split');
    expect(activitySummary({ round: 2, stage: 'GRPO update', roundWord: 'iteration' }, 'trainStep', {})).toBe('iteration 2 · GRPO update · trainStep');
  });

  it('keeps current details to round, stage, best validation, counts and the last event', () => {
    const text = currentDetails({ round: 3, rounds: 6, stage: 'gate', shipped: 1, rejected: 2, bestValidation: 0.72, lastPassRate: 0.4838709677419355, tokens: 1029848, lastEvent: 'round 3: shipped x' });
    expect(text).toContain('**Round 3 of 6 · gate**');
    expect(text).toContain('best held-out validation 72.0% · last batch pass 48.4%');
    expect(text).toContain('evolution spend 1,029,848 tok');
    expect(text).toContain('last event: round 3: shipped x');
  });

  it('reports the best validation pass rate measured, null before any', () => {
    expect(bestValidation(undefined)).toBeNull();
    expect(bestValidation([{ validation: null }])).toBeNull();
    expect(bestValidation([{ validation: 0.5 }, { validation: 0.8 }, { validation: 0.7 }])).toBe(0.8);
  });

  it('gives other workflows (deployments) the same form', () => {
    expect(workflowSummary('deployment', ['webshop', 'harness hx-1', ''])).toBe('HarnessX deployment · webshop · harness hx-1');
    expect(grouped(3578316)).toBe('3,578,316');
  });
});

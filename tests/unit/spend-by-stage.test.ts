import { spendByStage } from '../../report/spend-by-stage';
import { syntheticAudit } from '../helpers/synthetic-audit';

describe('where the tokens went', () => {
  it('stacks every stage per round and adds up to the summary evolution and measurement spend', () => {
    const audit = syntheticAudit();
    const s = spendByStage(audit);
    const final = audit.find((r) => r.stage === 'final')!.payload;
    const sum = (stages: string[]) => s.rounds.reduce((n, r) => n + stages.reduce((m, st) => m + r.tokens[st as keyof typeof r.tokens], 0), 0);
    expect(sum(['rollout', 'digest', 'plan', 'evolve', 'critique', 'gate', 'guard', 'unattributed'])).toBe(final.tokens);
    expect(sum(['measurement'])).toBe(final.measurementTokens);
    const round1 = s.rounds.find((r) => r.round === 1)!;
    expect(round1.tokens).toMatchObject({ rollout: 120_000, gate: 115_000, measurement: 30_000 });
    // The guard's 40,000 tokens are named; nothing is unattributed in this log.
    expect(s.rounds.find((r) => r.round === 2)!.tokens).toMatchObject({ rollout: 110_000, guard: 40_000, unattributed: 0 });
    expect(s.rounds.find((r) => r.round === 'final')!.tokens.measurement).toBe(60_000);
  });

  it('shows spend no record names as unattributed instead of dropping it', () => {
    const audit = syntheticAudit().filter((r) => r.stage !== 'regression');
    const s = spendByStage(audit);
    expect(s.rounds.find((r) => r.round === 2)!.tokens.unattributed).toBe(40_000);
    expect(s.evolutionTokens).toBe(385_000);
  });
});

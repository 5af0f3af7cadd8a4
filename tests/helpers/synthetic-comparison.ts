import { aggregateArms } from '../../cli/commands/compare';
import type { ComparisonReportData, ComparisonRow } from '../../report/compare-report';
import { spendByStage } from '../../report/spend-by-stage';
import { syntheticAudit } from './synthetic-audit';

/** A comparison of static, aegis and random over the given seeds, with test pass rates per seed. */
export function comparison(tests: Record<'aegis' | 'random', number[]>, seedTest = 0.5): ComparisonReportData {
  const seeds = tests.aegis.map((_, i) => `s-${i + 1}`);
  const spend = spendByStage(syntheticAudit());
  const row = (evolver: string, seed: string, test: number): ComparisonRow & { rounds: number; shipped: number; rejected: number; costUsd: number; measurementTokens: number; overshootTokens: number; reused: boolean } => ({
    evolver,
    seed,
    workflowId: evolver === 'static' ? null : `compare-${evolver}-${seed}`,
    testPassRate: test,
    trainPassRate: test,
    tokens: evolver === 'static' ? 0 : 385_000,
    seedTestPassRate: seedTest,
    heldOut: evolver === 'static' ? [] : [{ round: 1, evolutionTokens: 200_000, test: (seedTest + test) / 2 }, { round: 2, evolutionTokens: 385_000, test }],
    tokensToTarget: test >= seedTest + 0.2 ? 385_000 : null,
    spend: evolver === 'static' ? null : spend,
    rounds: 2,
    shipped: 1,
    rejected: 1,
    costUsd: 0,
    measurementTokens: 0,
    overshootTokens: 0,
    reused: false,
  });
  const rows = seeds.flatMap((seed, i) => [row('static', seed, seedTest), row('aegis', seed, tests.aegis[i]), row('random', seed, tests.random[i])]);
  return {
    benchmark: 'gsm8k',
    model: 'sim:small',
    metaAgent: 'rules',
    k: 1,
    seeds,
    rounds: 2,
    maxTokens: 1_000_000,
    targetGainPoints: 20,
    trainTasks: 40,
    testTasks: 20,
    rows,
    arms: aggregateArms(rows, ['static', 'aegis', 'random']),
    runUrl: (id) => `http://localhost:8233/namespaces/default/workflows/${id}`,
  };
}


import { RandomMetaAgent } from '../../aegis/baselines/random-evolver';
import { validSingleEdits } from '../../aegis/edit-space';
import { paretoParent, PromptPoolEntry, ReflectivePromptMetaAgent, templateOf } from '../../aegis/baselines/reflective-prompt';
import { SingleAgentMetaAgent } from '../../aegis/baselines/single-agent';
import { seededRandom } from '../../aegis/sampling';
import type { Digest } from '../../aegis/types';
import { applyEdits } from '../../harness/builder';
import { diffHarnesses } from '../../harness/diff';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace } from '../../harness/trace';

const digest: Digest = { round: 1, harnessId: 'hx-seed', actionability: 1, traceTokens: 1, digestTokens: 1, tasks: [
  { taskId: 't1', passed: false, successes: 0, attempts: 2, category: 'invalid_action', categoryCounts: { invalid_action: 2 }, implicated: [], evidence: [], history: [] },
  { taskId: 't2', passed: true, successes: 1, attempts: 2, category: 'loop', categoryCounts: { loop: 1 }, implicated: [], evidence: [], history: [] },
] };
const landscape = (tried: string[] = []) => ({ round: 1, harnessId: 'hx-seed', failingTasks: [], categories: [], implicatedComponents: [], editsTried: tried.map((key) => ({ key, outcome: 'rejected: x' })), untriedBuckets: [], options: [], solvedTasks: [], unstableTasks: [] });

describe('random baseline', () => {
  test('every edit it can pick applies to the harness', () => {
    const edits = validSingleEdits(seedHarness());
    expect(edits.length).toBeGreaterThan(15);
    for (const { edit } of edits) expect(applyEdits(seedHarness(), [edit]).ok).toBe(true);
  });
  test('is seeded: the same round draws the same edits, another round others', async () => {
    const draw = (round: number) => new RandomMetaAgent('s').evolve({ digest, config: seedHarness(), maxCandidates: 3, round }).then((d) => d.map((c) => c.editKey));
    expect(await draw(1)).toEqual(await draw(1));
    expect(await draw(1)).not.toEqual(await draw(2));
  });
});

describe('single-agent baseline (rules)', () => {
  const trace = (taskId: string, errorKind: 'precondition' | 'bad_arguments'): EpisodeTrace => ({
    taskId, harnessId: 'hx-seed', model: 'sim:small', seed: 's', attempt: 0, systemPrompt: '', instruction: '', steps: 2, endReason: 'step_budget_exhausted', success: false, reward: 0, usage: { inputTokens: 0, outputTokens: 0 }, durationMs: 0,
    records: [1, 2, 3].map((step) => ({ kind: 'tool_call' as const, step, call: { id: `c${step}`, name: 'stack', args: {} }, approved: true, result: { ok: false, errorKind, output: 'no' } })),
  });
  test('pools signals over raw traces and proposes one edit for the top category, skipping tried ones', async () => {
    const agent = new SingleAgentMetaAgent(null);
    const traces = [trace('a', 'precondition'), trace('b', 'precondition'), trace('c', 'bad_arguments')];
    const [first] = await agent.evolve({ landscape: landscape(), digest, config: seedHarness(), maxCandidates: 4, round: 1, traces });
    expect(first.editKey).toBe('insert:admissible_actions@before_model');
    const [second] = await agent.evolve({ landscape: landscape(['insert:admissible_actions@before_model']), digest, config: seedHarness(), maxCandidates: 4, round: 1, traces });
    expect(second.editKey).toBe('insert:observation_format@after_tool');
    expect(await agent.critique({ candidates: [{ ...first, harnessId: 'hx-1' }] })).toEqual({ decision: 'ship_ranking', ranking: ['r1-c1'], notes: ['no critic (baseline)'] });
  });
});

describe('reflective-prompt baseline (GEPA-style)', () => {
  test('Pareto parent: only prompts that lead on some task, drawn in proportion to the tasks they lead', () => {
    const pool: PromptPoolEntry[] = [
      { harnessId: 'a', template: 'A', scores: { t1: 1, t2: 0.5, t3: 0 } },
      { harnessId: 'b', template: 'B', scores: { t1: 0.5, t2: 0.5, t3: 0 } },
      { harnessId: 'c', template: 'C', scores: { t1: 0, t2: 0, t3: 0 } },
    ];
    // a leads on t1 and t2 (tied with b), b on t2: weights a 2, b 1, c 0.
    const random = seededRandom('pareto');
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 3000; i++) counts[paretoParent(pool, random)!.harnessId]++;
    expect(counts.c).toBe(0);
    expect(counts.a / 3000).toBeCloseTo(2 / 3, 1);
    expect(paretoParent([{ harnessId: 'z', template: 'Z', scores: { t1: 0 } }], random)).toBeNull();
  });

  test('children change the system prompt only, and the pool keeps the incumbent’s per-task scores', async () => {
    let saved: PromptPoolEntry[] = [];
    const agent = new ReflectivePromptMetaAgent(null, { load: () => saved, save: (e) => void (saved = e) }, 's');
    const drafts = await agent.evolve({ landscape: landscape(), digest, config: seedHarness(), maxCandidates: 3, round: 1 });
    expect(drafts).toHaveLength(3);
    for (const d of drafts) {
      expect(d.bucket).toBe('prompt');
      const diff = diffHarnesses(seedHarness(), d.config);
      expect(JSON.stringify(diff)).toContain('system_prompt');
      expect(templateOf(d.config).startsWith(templateOf(seedHarness()))).toBe(true);
    }
    expect(saved).toEqual([{ harnessId: 'hx-seed', template: templateOf(seedHarness()), scores: { t1: 0, t2: 0.5 } }]);
  });
});

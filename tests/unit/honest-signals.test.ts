import { checkModelFlag, simulatorMisfit, taskModelLabel } from '../../cli/options';
import { episodeScore, taskScores } from '../../cli/rollout-report';
import { UsageError } from '../../cli/errors';
import type { EpisodeTrace } from '../../harness/trace';

/** Honest signals on user suites (#26): what a run says about itself must be true of the model and suite it runs. */
describe('sim:* on a suite it cannot play', () => {
  it('is refused at start, saying what to use instead', () => {
    const refusal = simulatorMisfit('sim:small', 'memory');
    expect(refusal).toMatch(/suite "memory" gives it no simulator brief/);
    expect(refusal).toMatch(/Use a real model, e\.g\. --model openai-compatible:<model>@http:\/\/localhost:8000\/v1/);
    expect(() => checkModelFlag('--model', 'sim:large', { suite: 'memory' })).toThrow(UsageError);
    expect(() => checkModelFlag('--model', 'sim:large', { suite: 'memory' })).toThrow(/^--model sim:large: the simulator plays only the built-in benchmarks \(blocksworld/);
  });

  it('is accepted on the built-in benchmarks, and real models are accepted on any suite', () => {
    for (const builtin of ['blocksworld', 'gsm8k', 'humaneval', 'tau2-retail', 'webshop']) expect(simulatorMisfit('sim:small', builtin)).toBeNull();
    expect(simulatorMisfit('openai-compatible:qwen@http://127.0.0.1:8000/v1', 'memory')).toBeNull();
    expect(() => checkModelFlag('--model', 'openai-compatible:qwen@http://127.0.0.1:8000/v1', { suite: 'memory' })).not.toThrow();
    // A suite named like a built-in prefix is still a user suite.
    expect(simulatorMisfit('sim:small', 'blocksworld-mine')).not.toBeNull();
  });
});

describe('the run banner', () => {
  it('calls only the simulator a simulator', () => {
    expect(taskModelLabel('sim:small')).toBe('sim:small (the simulator, not an LLM)');
    expect(taskModelLabel('openai-compatible:qwen3.5-9b@http://127.0.0.1:8000/v1')).toBe('openai-compatible:qwen3.5-9b@http://127.0.0.1:8000/v1');
  });
});

describe('rollout --json per-task scores', () => {
  const trace = (taskId: string, attempt: number, reward: number, rewardBreakdown?: Record<string, unknown>): EpisodeTrace => ({
    taskId, harnessId: 'hx-1', model: 'm', seed: 's', attempt, systemPrompt: 'secret system prompt', instruction: 'i', records: [], steps: 3,
    endReason: 'goal_reached', success: reward >= 1, reward, usage: { inputTokens: 1, outputTokens: 1 }, durationMs: 1,
    ...(rewardBreakdown ? { rewardBreakdown } : {}),
  });

  it("gives each task's score, its episodes' verifier reasons and breakdowns, in task and attempt order", () => {
    // Episodes arrive in any order; the report is ordered by the outcomes and by attempt.
    const episodes = [
      trace('b', 1, 1, { score: 1, verifier: 'verify.mjs', reason: 'all entities present' }),
      trace('a', 0, 0, { score: 0, verifier: 'verify.mjs', reason: 'entity "Ada" missing', entities: 2 }),
      trace('b', 0, 0.5, { score: 0.5, verifier: 'verify.mjs', reason: 'one relation missing' }),
      trace('a', 1, 0),
    ].map(episodeScore);
    const report = taskScores(
      [
        { taskId: 'a', passed: false, successes: 0, attempts: 2 },
        { taskId: 'b', passed: true, successes: 1, attempts: 2 },
      ],
      episodes,
    );
    expect(report.map((t) => [t.taskId, t.passed, t.meanReward])).toEqual([['a', false, 0], ['b', true, 0.75]]);
    expect(report[0].episodes).toEqual([
      { attempt: 0, reward: 0, success: false, endReason: 'goal_reached', steps: 3, reason: 'entity "Ada" missing', breakdown: { score: 0, verifier: 'verify.mjs', entities: 2 } },
      { attempt: 1, reward: 0, success: false, endReason: 'goal_reached', steps: 3 },
    ]);
    expect(report[1].episodes.map((e) => e.reason)).toEqual(['one relation missing', 'all entities present']);
    // The report carries scores, not conversations.
    expect(JSON.stringify(report)).not.toContain('secret system prompt');
  });
});

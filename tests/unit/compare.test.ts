import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { evolveInputSchema } from '../../aegis/run-input';
import { aggregateArms, armWorkflowId, comparisonSeeds } from '../../cli/commands/compare';

/** `compare` as an experiment: its seeds, its resumable run ids, its per-arm statistics, and bad input refused before any run. */
jest.setTimeout(60_000);

const ROOT = join(__dirname, '../..');
// An unreachable server: any command that got past its checks would fail on connecting, with another message.
const harnessxCommand = (command: string, ...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'bin/harnessx.js'), command, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', HARNESSX_DEBUG: '' }, encoding: 'utf8', timeout: 50_000 });

const harnessx = (...args: string[]) => harnessxCommand('compare', ...args);

const row = (evolver: string, seed: string, testPassRate: number | null, extra: Partial<{ tokens: number; tokensToTarget: number | null; overshootTokens: number }> = {}) => ({
  evolver, seed, workflowId: null, trainPassRate: 0.5, testPassRate, rounds: 3, shipped: 1, rejected: 2, tokens: extra.tokens ?? 1000, costUsd: 0, measurementTokens: 500, overshootTokens: extra.overshootTokens ?? 0, tokensToTarget: extra.tokensToTarget ?? null, reused: false,
});

describe('compare', () => {
  it('repeats over seed-1 … seed-N, or the given seed alone', () => {
    expect(comparisonSeeds('cmp', 1)).toEqual(['cmp']);
    expect(comparisonSeeds('cmp', 3)).toEqual(['cmp-1', 'cmp-2', 'cmp-3']);
  });

  it('names each arm by its whole input, so the same command finds its runs again and a changed one does not', () => {
    const input = (over: Record<string, unknown>) => evolveInputSchema().parse({ benchmark: 'blocksworld', evolver: 'aegis', seed: 's1', maxTokens: 1000, ...over });
    expect(armWorkflowId(input({}))).toBe(armWorkflowId(input({})));
    expect(armWorkflowId(input({}))).toMatch(/^compare-aegis-blocksworld-[0-9a-f]{16}$/);
    expect(armWorkflowId(input({ seed: 's2' }))).not.toBe(armWorkflowId(input({})));
    expect(armWorkflowId(input({ maxTokens: 2000 }))).not.toBe(armWorkflowId(input({})));
  });

  it('aggregates each arm over seeds and tests AEGIS against each baseline paired by seed', () => {
    const rows = [
      row('aegis', 'a', 0.6, { tokensToTarget: 300, overshootTokens: 120 }), row('aegis', 'b', 0.7, { tokensToTarget: 500 }), row('aegis', 'c', 0.8, { overshootTokens: 30 }),
      row('random', 'a', 0.5), row('random', 'b', 0.5), row('random', 'c', 0.5),
      row('single-agent', 'a', 0.6), row('single-agent', 'b', 0.7), row('single-agent', 'c', 0.8),
    ];
    const [aegis, random, single] = aggregateArms(rows, ['aegis', 'random', 'single-agent']);
    expect(aegis.testPassRate!.mean).toBeCloseTo(0.7, 10);
    expect(aegis.testPassRate!.halfWidth!).toBeCloseTo((4.302653 * 0.1) / Math.sqrt(3), 5);
    expect(aegis.tokensToTarget).toEqual({ reached: 2, mean: 400 });
    expect(aegis.overshootTokens.mean).toBeCloseTo(50, 10);
    expect(aegis.maxOvershootTokens).toBe(120);
    expect(random.maxOvershootTokens).toBe(0);
    expect(aegis.versusAegis).toBeUndefined();
    // +20 points on 3 seeds with spread 0.1: p = 0.074, not significant.
    expect(random.versusAegis).toMatchObject({ n: 3, significant: false });
    expect(random.versusAegis!.meanDifference).toBeCloseTo(0.2, 10);
    expect(single.versusAegis).toMatchObject({ meanDifference: 0, p: 1, significant: false });
    expect(random.tokensToTarget).toEqual({ reached: 0, mean: null });
  });

  it('leaves an arm without a held-out test rate out of the test columns instead of ranking it on something else', () => {
    const [aegis, random] = aggregateArms([row('aegis', 'a', 0.6), row('random', 'a', null)], ['aegis', 'random']);
    expect(aegis.testPassRate!.mean).toBe(0.6);
    expect(random.testPassRate).toBeNull();
    expect(random.versusAegis).toBeUndefined();
  });

  it.each([
    [['--seeds', '0'], /--seeds must be from 1 to 100, got 0/],
    [['--seeds', 'two'], /--seeds must be a whole number, got "two"/],
    [['--max-tokens', '1000'], /--max-tokens 1000 is too small for even one round: one round's rollout of 40 blocksworld tasks at pass@2 needs at least \d+ tokens/],
    [['--evolvers', 'aegis,genetic'], /--evolvers: unknown "genetic"; choose from aegis, single-agent, random, reflective-prompt/],
    [['--model', 'openai-compatible:m@http://127.0.0.1:1/v1', '--max-usd', '2'], /--max-usd: "openai-compatible:m@http:\/\/127.0.0.1:1\/v1" has no price/],
    [['--max-usd', 'lots'], /--max-usd must be a positive number, got "lots"/],
  ])('refuses %j before any run starts', (args, message) => {
    const r = harnessx(...args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/connect/i);
  });

  // evolve takes the same budget flags and refuses the same budgets before it connects.
  it.each([
    [['--max-tokens', '1000'], /--max-tokens 1000 is too small for even one round: one round's rollout of 40 blocksworld tasks at pass@2 needs at least \d+ tokens/],
    [['--model', 'openai-compatible:m@http://127.0.0.1:1/v1', '--max-usd', '2'], /--max-usd: "openai-compatible:m@http:\/\/127.0.0.1:1\/v1" has no price/],
    [['--max-usd', 'lots'], /--max-usd must be a positive number, got "lots"/],
    [['--max-measurement-tokens', 'many'], /--max-measurement-tokens must be a whole number, got "many"/],
  ])('evolve refuses %j before any run starts', (args, message) => {
    const r = harnessxCommand('evolve', ...args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/connect/i);
  });
});

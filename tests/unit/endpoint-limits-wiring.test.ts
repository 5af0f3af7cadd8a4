import { evolveInputSchema, inputProblems } from '../../aegis/run-input';
import { runStatus } from '../../aegis/run-state';
import { main } from '../../cli/main';
import { coevolveInputSchema } from '../../coevolution/coevolve-input';
import { checkEndpointEnvironment } from '../../models/endpoint-limiter';
import { evaluateInputSchema } from '../../workflows/evaluate-harness';
import { rolloutKey } from '../../activities/rollout-progress';
import { endpointLimitsInForce } from '../../activities/rollouts';

/** Run input, environment and CLI flags carry endpoint limits; bad values are refused naming the setting. */
describe('endpoint limits in run input', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['a limit of 0', { 'openai-compatible': { maxInFlight: 0 } }, /endpointLimits\.openai-compatible\.maxInFlight: maxInFlight must be a whole number ≥ 1/],
    ['a negative limit', { anthropic: { maxInFlight: -3 } }, /endpointLimits\.anthropic\.maxInFlight: maxInFlight must be a whole number ≥ 1/],
    ['a non-numeric limit', { anthropic: { maxInFlight: '8' } }, /endpointLimits\.anthropic\.maxInFlight: maxInFlight must be a whole number ≥ 1/],
    ['an unknown endpoint key', { vllm: { maxInFlight: 8 } }, /endpointLimits\.vllm: unknown endpoint key "vllm": use a provider \(sim, anthropic, openai, openai-compatible\)/],
    ['an unknown field', { openai: { maxInFlight: 8, burst: 2 } }, /endpointLimits\.openai: .*burst/],
  ];
  it.each(bad)('evolveHarness refuses %s, naming the setting', (_label, endpointLimits, message) => {
    const parsed = evolveInputSchema().safeParse({ benchmark: 'blocksworld', endpointLimits });
    expect(parsed.success).toBe(false);
    expect(inputProblems(parsed.error!).join('\n')).toMatch(message);
  });
  it.each(bad)('evaluateHarness and coevolve refuse %s', (_label, endpointLimits) => {
    const evaluate = evaluateInputSchema().safeParse({ benchmark: 'blocksworld', harnessId: 'hx-0123456789abcdef', taskIds: ['t'], endpointLimits });
    expect(evaluate.success).toBe(false);
    expect(evaluate.error!.issues[0].path[0]).toBe('endpointLimits');
    const coevolve = coevolveInputSchema().safeParse({ benchmark: 'blocksworld', endpointLimits });
    expect(coevolve.success).toBe(false);
    expect(coevolve.error!.issues[0].path[0]).toBe('endpointLimits');
  });
  it('accepts valid limits, by provider and by model string', () => {
    const endpointLimits = { 'openai-compatible': { maxInFlight: 64 }, 'anthropic:claude-opus-4-6': { maxInFlight: 4, requestsPerMinute: 50 } };
    expect(evolveInputSchema().parse({ benchmark: 'blocksworld', endpointLimits }).endpointLimits).toEqual(endpointLimits);
    expect(evaluateInputSchema().parse({ benchmark: 'blocksworld', harnessId: 'hx-0123456789abcdef', taskIds: ['t'], endpointLimits }).endpointLimits).toEqual(endpointLimits);
    expect(coevolveInputSchema().parse({ benchmark: 'blocksworld', endpointLimits }).endpointLimits).toEqual(endpointLimits);
  });

  it('what a worker records at setup: the run input over the environment over the default, with the source', () => {
    const url = 'openai-compatible:qwen@http://127.0.0.1:8000/v1';
    const [local, paid] = endpointLimitsInForce({ models: [url, 'anthropic:claude-opus-4-6', url], endpointLimits: { anthropic: { maxInFlight: 3 } } });
    expect(local).toEqual({ model: url, limit: { maxInFlight: 32 }, source: 'default' });
    expect(paid).toEqual({ model: 'anthropic:claude-opus-4-6', limit: { maxInFlight: 3 }, source: 'run input "anthropic"' });
  });

  it('status shows the limits the run recorded (null before setup)', () => {
    const controls = { stage: 'rollout' as const, waitingForResume: false, paused: false, stopRequested: false, lastEvent: '', pendingApproval: null };
    expect(runStatus('r', 3, undefined, controls).endpointLimits).toBeNull();
    const limits = [{ model: 'sim:small', limit: { maxInFlight: 2 }, source: 'default' }];
    const state = { endpointLimits: limits, budget: { rounds: 3, patience: 3 } } as unknown as Parameters<typeof runStatus>[2];
    expect(runStatus('r', 3, state, controls).endpointLimits).toEqual(limits);
  });

  it('rollout keys tell rollouts of one activity apart (harness, tasks, attempts, seed)', () => {
    const base = { harnessId: 'hx-a', taskIds: ['t1', 't2'], k: 2, seed: 's' };
    const keys = [base, { ...base, harnessId: 'hx-b' }, { ...base, taskIds: ['t1'] }, { ...base, k: 4 }, { ...base, seed: 's|confirm' }].map(rolloutKey);
    expect(new Set(keys).size).toBe(5);
    expect(rolloutKey({ ...base })).toBe(keys[0]);
  });
});

describe('endpoint settings at startup', () => {
  it('checks HARNESSX_ENDPOINT_LIMITS and HARNESSX_RATE_LIMIT_WAIT_S, naming the variable', () => {
    expect(() => checkEndpointEnvironment({ HARNESSX_ENDPOINT_LIMITS: 'openai-compatible=32;anthropic=4,rpm=50', HARNESSX_RATE_LIMIT_WAIT_S: '30' })).not.toThrow();
    expect(() => checkEndpointEnvironment({ HARNESSX_ENDPOINT_LIMITS: 'openai-compatible=0' })).toThrow(/^HARNESSX_ENDPOINT_LIMITS: .*maxInFlight must be a whole number ≥ 1/);
    expect(() => checkEndpointEnvironment({ HARNESSX_ENDPOINT_LIMITS: 'vllm=8' })).toThrow(/^HARNESSX_ENDPOINT_LIMITS: unknown endpoint key "vllm"/);
    expect(() => checkEndpointEnvironment({ HARNESSX_RATE_LIMIT_WAIT_S: 'soon' })).toThrow(/^HARNESSX_RATE_LIMIT_WAIT_S: must be a number of seconds/);
  });

  describe('the CLI', () => {
    let stderr: string;
    let spy: jest.SpyInstance;
    const saved = { ...process.env };
    beforeEach(() => {
      stderr = '';
      spy = jest.spyOn(process.stderr, 'write').mockImplementation((t) => ((stderr += String(t)), true));
    });
    afterEach(() => {
      spy.mockRestore();
      process.env = { ...saved };
    });

    it('refuses to start with a bad HARNESSX_ENDPOINT_LIMITS (exit 2, the variable named)', async () => {
      process.env.HARNESSX_ENDPOINT_LIMITS = 'anthropic=many';
      expect(await main(['rollout', '--benchmark', 'blocksworld', '--tasks', '1'])).toBe(2);
      expect(stderr).toMatch(/HARNESSX_ENDPOINT_LIMITS: "anthropic=many": maxInFlight must be a whole number ≥ 1/);
    });

    it('refuses a bad HARNESSX_RATE_LIMIT_WAIT_S', async () => {
      process.env.HARNESSX_RATE_LIMIT_WAIT_S = '-1';
      expect(await main(['evolve', '--rounds', '1'])).toBe(2);
      expect(stderr).toMatch(/HARNESSX_RATE_LIMIT_WAIT_S: must be a number of seconds from 0 to 3600/);
    });

    it.each([['rollout'], ['evolve']])('%s refuses a bad --endpoint-limits before anything runs', async (command) => {
      expect(await main([command, '--endpoint-limits', 'openai-compatible=0'])).toBe(2);
      expect(stderr).toMatch(/--endpoint-limits: "openai-compatible=0": maxInFlight must be a whole number ≥ 1/);
    });

    it('rollout runs with a valid --endpoint-limits', async () => {
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        expect(await main(['rollout', '--benchmark', 'blocksworld', '--model', 'sim:small', '--tasks', '2', '--k', '1', '--endpoint-limits', 'sim=1', '--json'])).toBe(0);
      } finally {
        log.mockRestore();
      }
    });
  });
});

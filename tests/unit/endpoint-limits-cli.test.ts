import { WorkflowNotFoundError } from '@temporalio/client';
import { main } from '../../cli/main';

/**
 * `compare` and `coevolve` take --endpoint-limits like `evolve` and `rollout`: a bad value is refused before
 * anything runs, a good one reaches the workflow input as `endpointLimits`. The local worker is replaced by
 * a client that records what would be started and stops there (no server is needed).
 */
const started: Array<{ workflow: string; input: Record<string, unknown> }> = [];
class StoppedAtStart extends Error {}
jest.mock('../../cli/local-worker', () => ({
  idTimestamp: () => '20261130000000',
  startLocalWorker: jest.fn(async () => ({
    client: {
      workflow: {
        getHandle: () => ({
          describe: async () => {
            throw new WorkflowNotFoundError('not found', 'w', undefined);
          },
        }),
        start: async (workflow: string, options: { args: Array<Record<string, unknown>> }) => {
          started.push({ workflow, input: options.args[0] });
          throw new StoppedAtStart('stopped at start (test)');
        },
      },
    },
    worker: { runUntil: async (work: Promise<unknown> | (() => Promise<unknown>)) => (typeof work === 'function' ? work() : work) },
  })),
}));

describe('--endpoint-limits on compare and coevolve', () => {
  let stderr: string;
  let spies: jest.SpyInstance[];
  const saved = { ...process.env };
  beforeEach(() => {
    stderr = '';
    started.length = 0;
    delete process.env.HARNESSX_ENDPOINT_LIMITS;
    spies = [
      jest.spyOn(process.stderr, 'write').mockImplementation((t) => ((stderr += String(t)), true)),
      jest.spyOn(process.stdout, 'write').mockImplementation(() => true),
      jest.spyOn(console, 'log').mockImplementation(() => undefined),
    ];
  });
  afterEach(() => {
    for (const s of spies) s.mockRestore();
    process.env = { ...saved };
  });

  it.each([['compare'], ['coevolve']])('%s refuses a bad --endpoint-limits before anything runs, naming the flag', async (command) => {
    for (const [value, message] of [
      ['openai-compatible=0', /--endpoint-limits: "openai-compatible=0": maxInFlight must be a whole number ≥ 1/],
      ['vllm=8', /--endpoint-limits: unknown endpoint key "vllm"/],
      ['anthropic=many', /--endpoint-limits: "anthropic=many": maxInFlight must be a whole number ≥ 1/],
    ] as const) {
      stderr = '';
      expect(await main([command, '--endpoint-limits', value])).toBe(2);
      expect(stderr).toMatch(message);
    }
    expect(started).toEqual([]);
  });

  it('compare puts the limits in every arm\'s evolveHarness input', async () => {
    await main(['compare', '--evolvers', 'aegis,random', '--rounds', '1', '--endpoint-limits', 'openai-compatible=48;anthropic=4,rpm=50']);
    // The first arm reached start (and the fake client stopped the command there).
    expect(started).toHaveLength(1);
    expect(started[0].workflow).toBe('evolveHarness');
    expect(started[0].input.endpointLimits).toEqual({ 'openai-compatible': { maxInFlight: 48 }, anthropic: { maxInFlight: 4, requestsPerMinute: 50 } });
  });

  it('compare without the flag leaves the input without limits (the arms\' workflow ids are unchanged)', async () => {
    await main(['compare', '--evolvers', 'aegis', '--rounds', '1']);
    expect(started).toHaveLength(1);
    expect('endpointLimits' in started[0].input).toBe(false);
  });

  it('coevolve puts the limits in its input (its rollouts, gates and evaluations pass them to the activities)', async () => {
    await main(['coevolve', '--iterations', '1', '--endpoint-limits', '{"sim:small":{"maxInFlight":3}}']);
    expect(started).toHaveLength(1);
    expect(started[0].workflow).toBe('coevolve');
    expect(started[0].input.endpointLimits).toEqual({ 'sim:small': { maxInFlight: 3 } });
  });
});

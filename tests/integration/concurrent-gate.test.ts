import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { seededRandom } from '../../models/endpoint-limiter';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, tempDataDir, workflowBundle } from './temporal-env';

jest.setTimeout(600_000);

/**
 * The gate evaluating ranked candidates at once ships what one-at-a-time ships. The worker's gate activity
 * is the real one with a random delay (seeded) before it answers, so gates finish out of ranking order, and
 * it rejects every round's first-ranked candidate (the rules Critic's first pick passes the real gate on
 * blocksworld, which would leave nothing for the concurrent waves to do). The run at gateConcurrency 4
 * must ship the same candidates, reject the same ones and end on the same harness as the run at 1, and
 * record the evaluated-but-not-needed ones as such.
 */
describe('concurrent gating through Temporal', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const dataDir = tempDataDir();
  const store = new ArtifactStore(dataDir);
  const taskQueue = 'concurrent-gate';
  let inFlight = 0;
  let peak = 0;
  const delay = seededRandom('gate-delays');
  /** The first candidate each round's gate sees (the Critic's first pick): the test's wrapper rejects it. */
  const firstRanked = new Set<string>();
  const gatedRounds = new Set<string>();

  beforeAll(async () => {
    env = await startDevServer();
    const activities = createActivities({ store });
    const realGate = activities.gate;
    worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: {
        ...activities,
        gate: async (input: Parameters<typeof realGate>[0]) => {
          // The first gate call of a (run, round) is its first-ranked candidate: one at a time and in waves alike.
          const roundKey = `${input.candidatesRef}`;
          if (!gatedRounds.has(roundKey)) {
            gatedRounds.add(roundKey);
            firstRanked.add(input.candidateId);
          }
          inFlight++;
          peak = Math.max(peak, inFlight);
          try {
            const real = await realGate(input);
            const result = firstRanked.has(input.candidateId) ? { ...real, passed: false, reason: 'seesaw: rejected by the test' } : real;
            await new Promise((r) => setTimeout(r, Math.floor(delay() * 1500)));
            return result;
          } finally {
            inFlight--;
          }
        },
      },
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const input = (gateConcurrency: number) => ({ benchmark: 'blocksworld', seed: 'concurrent-gate', rounds: 3, batchSize: 10, validationSize: 6, k: 2, candidatesPerRound: 4, gateConcurrency, evaluateTest: false, trackHeldOut: false, finalTrainTasks: 6, regressionGuard: { every: 0 }, searchAttributes: false });
  const run = async (gateConcurrency: number) => {
    peak = 0;
    const workflowId = `concurrent-gate-${gateConcurrency}-${Date.now()}`;
    const summary = (await env.client.workflow.execute('evolveHarness', { taskQueue, workflowId, args: [input(gateConcurrency)] })) as RunSummary;
    const audit = await store.readAudit(workflowId);
    const gates = audit.filter((r) => r.stage === 'gate' || r.stage === 'ship');
    const applied = gates.filter((r) => !(r.payload as { notNeeded?: boolean }).notNeeded).map((r) => `${r.round}:${r.stage}:${r.kind}:${r.candidateId}`);
    const notNeeded = gates.filter((r) => (r.payload as { notNeeded?: boolean }).notNeeded).map((r) => `${r.round}:${r.candidateId}`);
    return { summary, applied, notNeeded, peak, gateCalls: gates.filter((r) => r.stage === 'gate').length };
  };

  it('ships the same candidates at concurrency 1 and 4, whatever order the gates finish in', async () => {
    const one = await run(1);
    const four = await run(4);
    expect(one.peak).toBe(1);
    expect(four.peak).toBeGreaterThan(1);
    expect(one.notNeeded).toEqual([]);
    // Something was gated in both runs, so the comparison below is not vacuous.
    expect(one.applied.length).toBeGreaterThan(0);
    expect(four.applied).toEqual(one.applied);
    expect(four.summary.harnessId).toBe(one.summary.harnessId);
    expect(four.summary.shipped).toBe(one.summary.shipped);
    expect(four.summary.rejected).toBe(one.summary.rejected);
    expect(four.summary.evolvedPassRate).toBe(one.summary.evolvedPassRate);
    // Spend: the concurrent run paid for every candidate it evaluated, so at least what one at a time paid.
    expect(four.summary.tokens).toBeGreaterThanOrEqual(one.summary.tokens);
    if (four.notNeeded.length) expect(four.summary.tokens).toBeGreaterThan(one.summary.tokens);
    console.log(`gate verdicts applied ${one.applied.length}; not needed at concurrency 4: ${four.notNeeded.join(', ') || 'none'}; tokens ${one.summary.tokens} vs ${four.summary.tokens}`);
  });
});

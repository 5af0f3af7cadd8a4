import { evolvedHarness } from '../../bench/evolved-harness';
import { getBenchmark } from '../../benchmarks/registry';
import { HarnessConfig, harnessId, parseHarnessConfig } from '../../harness/config';
import { runEpisode } from '../../harness/run-loop';
import { seedHarness } from '../../harness/seed';
import { DeploymentClient, DeploymentLink } from '../../library/deployment';
import { createModel } from '../../models/registry';

/**
 * A long run (100+ steps) that adopts a harness promoted while it runs. The deployment is a fake client
 * whose champion changes when the run passes step 100 — as the deployment's workflow does when a canary is
 * promoted — and the agent's link picks it up at a later step boundary (between-steps). On the simulator the
 * later steps do better for it: the same episodes without the swap run out of their 200 steps unsolved.
 */
describe('a long run picks up a harness promoted mid-task', () => {
  const bench = getBenchmark('blocksworld');
  const withBudget = (h: HarnessConfig, n: number) => parseHarnessConfig({ ...h, hooks: { ...h.hooks, step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: n } }] } });
  const seed = withBudget(seedHarness(), 200);
  const evolved = withBudget(evolvedHarness(), 200);
  const [seedId, evolvedId] = [harnessId(seed), harnessId(evolved)];

  /** A deployment whose champion is the seed until `promote()`; its `current` query answers as the workflow's does. */
  function fakeDeployment() {
    let revision = 1;
    let champion = { harnessId: seedId, config: seed as unknown as Record<string, unknown> };
    const client: DeploymentClient = {
      workflow: {
        getHandle: () => ({
          query: async <R>(_name: string, known?: unknown) =>
            (known === revision ? { revision, unchanged: true } : { revision, champion, canary: null, swap: 'between-steps', ttlMs: 0 }) as R,
          executeUpdate: async <R>() => ({ queued: 0 }) as R,
        }),
      },
    };
    return {
      client,
      promote: () => {
        champion = { harnessId: evolvedId, config: evolved as unknown as Record<string, unknown> };
        revision++;
      },
    };
  }

  async function longRun(taskId: string, swap: boolean) {
    const deployment = fakeDeployment();
    const link = new DeploymentLink({ name: 'desk', client: deployment.client, log: () => undefined });
    await link.ready();
    let running = link.serve('user-1')!.harnessId;
    const env = bench.createEnvironment(taskId, { seed: 'long' });
    const trace = await runEpisode({
      config: seed,
      harnessId: seedId,
      env,
      model: createModel('sim:small', { seed: `long|${taskId}` }),
      task: bench.task(taskId),
      seed: 'long',
      attempt: 0,
      hardStepCap: 250,
      onRecord: (r) => {
        if (swap && r.step === 100) deployment.promote();
      },
      nextHarness: () => {
        const next = link.newerChampion(running, 'champion');
        if (next) running = next.harnessId;
        return next;
      },
    });
    return { trace, score: env.score() };
  }

  it('runs past step 100 under the seed, swaps to the promoted champion, and solves what the seed alone does not', async () => {
    // Long tasks: the seed harness alone does not solve them in 200 steps.
    const candidates = bench.tasks().filter((t) => t.split === 'train').slice(0, 40);
    const long: string[] = [];
    for (const t of candidates) {
      const { trace, score } = await longRun(t.id, false);
      if (score === 0 && trace.steps >= 200) long.push(t.id);
      if (long.length === 5) break;
    }
    expect(long).toHaveLength(5);

    let solved = 0;
    for (const id of long) {
      const { trace, score } = await longRun(id, true);
      solved += score;
      // Swapped once, at a step boundary after the promotion, and only once.
      expect(trace.harnessSwaps).toHaveLength(1);
      const [swapped] = trace.harnessSwaps!;
      expect(swapped).toMatchObject({ from: seedId, to: evolvedId });
      expect(swapped.step).toBeGreaterThan(100);
      expect(swapped.step).toBeLessThanOrEqual(103);
      expect(trace.steps).toBeGreaterThan(100);
      // Every record says which version ran its step: the seed before the swap, the champion after.
      const stamped = trace.records.filter((r) => r.kind === 'model_call' || r.kind === 'tool_call');
      expect(stamped.every((r) => r.harnessId === (r.step < swapped.step ? seedId : evolvedId))).toBe(true);
    }
    // The later steps do better for the swap: most long runs finish, where none did without it.
    expect(solved).toBeGreaterThanOrEqual(4);
  });
});

import type { TaskOutcome } from '../aegis/rollout';
import { passes } from '../aegis/live/outcomes';
import { seededSample } from '../aegis/sampling';
import { getBenchmark } from '../benchmarks/registry';
import type { HarnessConfig } from '../harness/config';
import type { EpisodeTrace } from '../harness/trace';
import type { ActivityServices } from './services';

/**
 * The deployment workflow's store side: live traces in and out of the artifact store (only refs travel in
 * the workflow's state), a window's evidence in the shape the Digester reads, the tasks an offline check of
 * a candidate can replay, and harness configs for the agents. The AEGIS stages themselves (digest, plan,
 * evolve, critique, gate) are the existing activities.
 */
export function createLiveActivities(services: ActivityServices) {
  const { store } = services;
  return {
    /** Stores each reported trace; returns one ref per trace (null where a report came without one). */
    async storeLiveTraces(input: { traces: Array<EpisodeTrace | null> }): Promise<Array<string | null>> {
      return Promise.all(input.traces.map((t) => (t ? store.put(t) : null)));
    },

    /**
     * A closed window's evidence as a rollout's: its traces (each marked solved or not by the run's resolved
     * outcome, which is what the Digester reads) and pass@k outcomes per task, so the digest, plan, evolve and
     * critique activities take it as they take an offline rollout.
     */
    async liveWindowEvidence(input: { runs: Array<{ taskId: string; traceRef: string; score: number; source: string }> }): Promise<{ tracesRef: string; outcomesRef: string; tasks: number }> {
      const writer = store.arrayWriter();
      const byTask = new Map<string, TaskOutcome>();
      for (const [attempt, run] of input.runs.entries()) {
        const trace = await store.get<EpisodeTrace>(run.traceRef);
        const success = passes(run.score);
        writer.add({ ...trace, attempt, success, reward: run.score, rewardBreakdown: { ...(trace.rewardBreakdown ?? {}), outcomeSource: run.source } });
        const o = byTask.get(run.taskId) ?? { taskId: run.taskId, passed: false, successes: 0, attempts: 0 };
        o.attempts++;
        if (success) o.successes++;
        o.passed = o.successes > 0;
        byTask.set(run.taskId, o);
      }
      const outcomes = [...byTask.values()].sort((a, b) => a.taskId.localeCompare(b.taskId));
      return { tracesRef: await writer.finish(), outcomesRef: await store.put(outcomes), tasks: outcomes.length };
    },

    /**
     * The tasks an offline check of a candidate runs, all in the suite (so they can be rebuilt and verified):
     * the window's live tasks the suite knows (replay), the deployment's regression set, and a fixed seeded
     * sample of the suite's held-out (validation and test) tasks.
     */
    async liveGateTasks(input: { benchmark: string; liveTaskIds: string[]; regressionSet: string[]; heldOut: number; seed: string }): Promise<{ replay: string[]; regression: string[]; heldOut: string[] }> {
      const tasks = getBenchmark(input.benchmark).tasks();
      const known = new Set(tasks.map((t) => t.id));
      const replay = [...new Set(input.liveTaskIds.filter((id) => known.has(id)))].sort();
      const regression = input.regressionSet.filter((id) => known.has(id) && !replay.includes(id)).sort();
      const taken = new Set([...replay, ...regression]);
      const pool = tasks.filter((t) => t.split !== 'train' && !taken.has(t.id)).map((t) => t.id);
      return { replay, regression, heldOut: seededSample(pool, input.heldOut, `${input.seed}|live-held-out`).sort() };
    },

    /** Harness configs by id, for the agents (the deployment's `current` query carries them). */
    async harnessConfigs(input: { harnessIds: string[] }): Promise<Record<string, HarnessConfig>> {
      return Object.fromEntries(await Promise.all(input.harnessIds.map(async (id) => [id, await store.getHarness(id)] as const)));
    },
  };
}

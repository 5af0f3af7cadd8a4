import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { heartbeat } from '../../activities/activity-context';
import type { MetaAgent } from '../../aegis/meta-agent';
import { metaCallsOf } from '../../cli/progress-line';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';

/** A meta-agent whose plan makes three model calls, 500 ms apart. */
function slowPlanner(): MetaAgent {
  let calls = 0;
  return {
    name: 'slow',
    digest: undefined,
    plan: async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 500));
        calls++;
      }
      return { categories: [], options: [], editsTried: [], untriedEditTypes: [] } as never;
    },
    evolve: async () => [],
    critique: async () => ({ decision: 'no_op', reason: 'none' }) as never,
    usage: () => ({ usage: { inputTokens: 0, outputTokens: 0 }, calls, repairs: 0 }),
  } as MetaAgent;
}

async function beatsOf(metaAgent: string): Promise<unknown[]> {
  const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-meta-progress-')));
  const activities = createActivities({ store, metaAgent: slowPlanner() });
  const env = new MockActivityEnvironment();
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const harnessId = await store.putHarness(seedHarness());
  await env.run(activities.plan, { digestRef: await store.put({}), harnessId, tried: [], metaAgent });
  return beats;
}

describe("a model meta-agent's calls reach the progress line", () => {
  it('a stage heartbeats its calls so far while the agent works', async () => {
    const calls = (await beatsOf('anthropic:claude-x')).map(metaCallsOf).filter((c): c is number => c !== null);
    expect(calls[0]).toBe(0);
    // Beats every second over ~1.5 s: the count moves and never goes back.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[calls.length - 1]).toBeGreaterThanOrEqual(1);
    expect([...calls].sort((a, b) => a - b)).toEqual(calls);
  });

  it('the rules meta-agent makes no model calls and reports none', async () => {
    expect((await beatsOf('rules')).map(metaCallsOf).filter((c) => c !== null)).toEqual([]);
  });

  it('a bare liveness beat repeats the last details instead of erasing them', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    await env.run(async () => {
      heartbeat();
      heartbeat({ meta: { calls: 2 } });
      heartbeat();
    });
    expect(beats).toEqual([undefined, { meta: { calls: 2 } }, { meta: { calls: 2 } }]);
  });
});

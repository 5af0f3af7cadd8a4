import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { startDevServer, tempDataDir, workflowBundle } from './temporal-env';

jest.setTimeout(600_000);

type HistoryEvent = { eventId?: unknown; eventTime?: { seconds?: unknown; nanos?: number | null } | null } & Record<string, unknown>;

/**
 * Overlapping stages (aegis/overlap.ts) changes when work runs, never what is decided: a run with every
 * overlap on (held-out tracking beside the next round, the gate baseline beside the batch, the seed's final
 * evaluation from setup, the next batch speculated while the meta-agent works) and the same run with
 * overlap off ship and reject the same candidates, end on the same harness with the same pass rates and
 * held-out history, and count the same evolution and measurement spend. The overlapped run's history shows
 * the overlap happened (activities open at once across stages) and replays deterministically.
 */
describe('overlapping AEGIS stages through Temporal', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const dataDir = tempDataDir();
  const store = new ArtifactStore(dataDir);
  const taskQueue = 'overlap-stages';

  beforeAll(async () => {
    env = await startDevServer();
    // Rollouts take 300 ms more, evaluations 1.5 s and gates 2 s, as against a model endpoint, and the Evolver
    // 1 s and the Critic 1.5 s, as an LLM meta-agent does (a gate is begun during the critique only then): on the bare simulator they end before the next activity is scheduled,
    // and whether stages overlapped would be a matter of timing (a gate begun during the critique is then
    // still open when the next candidate's is started ahead beside it).
    const activities = createActivities({ store });
    const slow = <A extends unknown[], R>(ms: number, f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      await new Promise((r) => setTimeout(r, ms));
      return f(...a);
    };
    worker = await Worker.create({ connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue, workflowBundle: await workflowBundle(), activities: { ...activities, rollout: slow(300, activities.rollout), evaluate: slow(1500, activities.evaluate), evolve: slow(1000, activities.evolve), critique: slow(1500, activities.critique), gate: slow(2000, activities.gate) } });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  // The limit lets a last-round candidate's final evaluation (10 train + 70 test tasks, k = 2) fit beside its gate (finalFitsSlack).
  const run = async (overlap: 'on' | 'off', seed: string) => {
    const workflowId = `overlap-${overlap}-${seed}-${Date.now()}`;
    const input = { benchmark: 'blocksworld', seed, rounds: 5, batchSize: 12, validationSize: 8, k: 2, candidatesPerRound: 3, evaluateTest: true, trackHeldOut: true, finalTrainTasks: 10, regressionGuard: { every: 3 }, searchAttributes: false, overlap, endpointLimits: { sim: { maxInFlight: 128 } } };
    const summary = (await env.client.workflow.execute('evolveHarness', { taskQueue, workflowId, args: [input] })) as RunSummary;
    const audit = await store.readAudit(workflowId);
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    return {
      workflowId,
      summary,
      history,
      verdicts: audit.filter((r) => r.stage === 'gate' || r.stage === 'ship' || r.stage === 'regression').map((r) => `${r.round}:${r.stage}:${r.kind}:${r.candidateId ?? r.harnessId}`),
      roundEnds: audit.filter((r) => r.stage === 'round_end').map((r) => ({ round: r.round, harnessId: r.harnessId, ...(({ shipped, passRate, validation, test, tokens }) => ({ shipped, passRate, validation, test, tokens }))(r.payload as Record<string, unknown>) })).sort((a, b) => a.round - b.round),
      overlapRecord: audit.find((r) => r.key === 'overlap')?.payload,
      firstCandidates: Object.fromEntries(audit.filter((r) => r.stage === 'evolve').map((r) => [r.round, (r.payload as { candidates?: Array<{ candidateId: string }> }).candidates?.[0]?.candidateId])) as Record<number, string | undefined>,
      rankings: Object.fromEntries(audit.filter((r) => r.stage === 'critique').map((r) => [r.round, (r.payload as { ranking?: string[] }).ranking ?? []])) as Record<number, string[]>,
    };
  };

  /** Rollout-kind activities scheduled while an activity of another stage was still open, by name. */
  function crossStageOverlaps(events: HistoryEvent[]): string[] {
    const open = new Map<string, string>();
    const seen: string[] = [];
    for (const e of events) {
      const scheduled = e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } } | undefined;
      if (scheduled) {
        const name = scheduled.activityType?.name ?? '?';
        const others = [...open.values()].filter((n) => n !== name);
        if (others.length) seen.push(`${name} while ${[...new Set(others)].sort().join('+')}`);
        open.set(String(e.eventId), name);
      }
      for (const key of ['activityTaskCompletedEventAttributes', 'activityTaskFailedEventAttributes', 'activityTaskTimedOutEventAttributes', 'activityTaskCanceledEventAttributes']) {
        const done = e[key] as { scheduledEventId?: unknown } | undefined;
        if (done) open.delete(String(done.scheduledEventId));
      }
    }
    return seen;
  }

  /** The most activities of one type open at once in a history. */
  function mostOpenAtOnce(events: HistoryEvent[], type: string): number {
    const open = new Set<string>();
    let most = 0;
    for (const e of events) {
      const scheduled = e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } } | undefined;
      if (scheduled?.activityType?.name === type) open.add(String(e.eventId));
      for (const key of ['activityTaskCompletedEventAttributes', 'activityTaskFailedEventAttributes', 'activityTaskTimedOutEventAttributes', 'activityTaskCanceledEventAttributes']) {
        const done = e[key] as { scheduledEventId?: unknown } | undefined;
        if (done) open.delete(String(done.scheduledEventId));
      }
      most = Math.max(most, open.size);
    }
    return most;
  }

  it.each(['overlap-a', 'overlap-b'])('decides the same with and without overlap (seed %s)', async (seed) => {
    const off = await run('off', seed);
    const on = await run('on', seed);
    console.log(`overlap ${seed}: ${on.verdicts.join(' ')}; discarded ${on.summary.overlapDiscardedTokens ?? 0} tokens`);
    // Something was gated and shipped, so the comparison is not vacuous.
    expect(off.verdicts.some((v) => v.includes(':ship:'))).toBe(true);
    expect(on.verdicts).toEqual(off.verdicts);
    expect(on.roundEnds).toEqual(off.roundEnds);
    for (const key of ['harnessId', 'rounds', 'shipped', 'rejected', 'stopReason', 'seedPassRate', 'evolvedPassRate', 'seedTestPassRate', 'evolvedTestPassRate', 'heldOut', 'tokens', 'measurementTokens'] as const) expect([key, on.summary[key]]).toEqual([key, off.summary[key]]);

    // The overlap happened: stages' activities were open at once.
    const overlapsOn = crossStageOverlaps(on.history.events as HistoryEvent[]);
    const overlapsOff = crossStageOverlaps(off.history.events as HistoryEvent[]);
    expect(on.overlapRecord).toEqual({ measureInBackground: true, gateBaselineEarly: true, seedFinalEarly: true, speculateNextBatch: true, finalWithLastGate: true, gateLookahead: true, gateDuringCritique: true });
    expect(off.overlapRecord).toBeUndefined();
    expect(overlapsOff).toEqual([]);
    console.log(`overlap ${seed}: ${[...new Set(overlapsOn)].join('; ')}`);
    expect(overlapsOn.some((o) => /^rollout while .*evaluate/.test(o))).toBe(true); // the batch beside the baseline or the seed's final evaluation
    expect(overlapsOn.some((o) => /^(digest|plan|evolve|critique) while .*evaluate/.test(o))).toBe(true); // measurement while the meta-agent works
    expect(overlapsOn.some((o) => /^(digest|plan|evolve|critique) while .*rollout/.test(o))).toBe(true); // the next batch while the meta-agent works
    expect(overlapsOn.some((o) => /^gate while .*evaluate|^evaluate while .*gate/.test(o))).toBe(true); // the last round's candidate's final evaluation beside its gate
    expect(overlapsOn.some((o) => /^gate while .*critique|^critique while .*gate/.test(o))).toBe(true); // the Evolver's first candidate gated while the Critic ranks
    expect(overlapsOff.some((o) => /critique/.test(o))).toBe(false);
    // The next candidate's gate ran beside the current one's (gateLookahead), and never without overlap.
    expect(Object.values(on.rankings).some((r) => r.length > 1)).toBe(true);
    // Two: the current and the next; three when the gate begun during the critique is of a candidate ranked after both.
    expect(mostOpenAtOnce(on.history.events as HistoryEvent[], 'gate')).toBeGreaterThanOrEqual(2);
    expect(mostOpenAtOnce(on.history.events as HistoryEvent[], 'gate')).toBeLessThanOrEqual(3);
    expect(mostOpenAtOnce(off.history.events as HistoryEvent[], 'gate')).toBe(1);
    // A speculation dropped after a ship (a round before the last, with no guard after it) is reported
    // apart, never in the evolution spend compared above; without one nothing is discarded.
    const shippedRounds = on.verdicts.filter((v) => v.includes(':ship:')).map((v) => Number(v.split(':')[0]));
    // So is the final evaluation of a last-round candidate that was rejected, and a gate started ahead
    // (one at a time on the simulator: the 2nd, 4th, … candidate beside the one before) in a round decided before its turn.
    const lookaheadDropped = Object.entries(on.rankings).some(([round, ranking]) => {
      const gated = on.verdicts.filter((v) => v.startsWith(`${round}:gate:`)).length;
      return shippedRounds.includes(Number(round)) && (gated - 1) % 2 === 0 && gated < ranking.length;
    });
    // And the incumbent's final evaluation, run from the start of the last round, when that round ships (unless the incumbent is the seed, whose final evaluation is used anyway).
    const incumbentFinalDropped = shippedRounds.includes(5) && shippedRounds.some((r) => r < 5);
    const dropped = shippedRounds.some((r) => r < 5 && r % 3 !== 0) || on.verdicts.some((v) => v.startsWith('5:gate:rollback')) || lookaheadDropped || incumbentFinalDropped;
    // A gate begun during the critique whose candidate's turn never came is cancelled: what it spent by then
    // (possibly nothing) is discarded too, so then only "something was dropped ⇒ tokens discarded" holds.
    const begunAndDropped = Object.entries(on.firstCandidates).some(([round, first]) => first !== undefined && !on.verdicts.some((v) => v.startsWith(`${round}:gate:`) && v.endsWith(`:${first}`)));
    if (begunAndDropped) expect((on.summary.overlapDiscardedTokens ?? 0) > 0 || !dropped).toBe(true);
    else expect((on.summary.overlapDiscardedTokens ?? 0) > 0).toBe(dropped);
    console.log(`overlap ${seed}: ${on.verdicts.join(' ')}; discarded ${on.summary.overlapDiscardedTokens ?? 0} tokens`);

    // The overlapped history replays against the current code.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, on.history, on.workflowId);
  });
});

import { z } from 'zod';
import { getBenchmark } from '../../benchmarks/registry';
import { HarnessConfig, harnessId, parseHarnessConfig } from '../../harness/config';
import { defineProcessor } from '../../harness/processor';
import { PROCESSOR_LIBRARY } from '../../harness/processors';
import { runEpisode } from '../../harness/run-loop';
import type { HookEvent, HookName } from '../../harness/types';
import { createModel } from '../../models/registry';

/** Processors that count the events they saw in their own instance state, and log their task_end. */
const log: string[] = [];
function registerCounter(type: string, hook: HookName) {
  PROCESSOR_LIBRARY[type] = defineProcessor({
    type, dimension: 'control', description: 'test', hooks: [hook], meta: { order: 'normal' }, params: z.object({ label: z.string().default('') }),
    create: () => {
      let seen = 0;
      return {
        async *process(e: HookEvent) {
          seen++;
          if (e.hook === 'task_end') log.push(`${type}:task_end after ${seen}`);
          if (e.hook === 'step_end') log.push(`${type}:${seen}`);
          yield e;
        },
      };
    },
  });
}

describe('mid-task harness swap at a step boundary', () => {
  const bench = getBenchmark('blocksworld');
  const task = bench.tasks()[0];
  const config = (hooks: Record<string, unknown>): HarnessConfig => parseHarnessConfig({ model: { main: { model: 'sim:small' } }, hooks });
  beforeAll(() => {
    registerCounter('test_kept', 'step_end');
    registerCounter('test_added', 'step_end');
    registerCounter('test_leaving', 'task_end');
  });
  afterAll(() => {
    for (const key of Object.keys(PROCESSOR_LIBRARY)) if (key.startsWith('test_')) delete PROCESSOR_LIBRARY[key];
  });

  it('keeps the conversation and the state of processors present in both, starts new ones fresh, ends removed ones, and stamps each record with its harness', async () => {
    log.length = 0;
    const a = config({ task_start: [{ id: 'sp', type: 'system_prompt', params: {} }], step_end: [{ id: 'kept', type: 'test_kept', params: {} }], task_end: [{ id: 'leaving', type: 'test_leaving', params: {} }] });
    const b = config({ task_start: [{ id: 'sp', type: 'system_prompt', params: {} }, { id: 'td', type: 'tool_docs', params: {} }], step_end: [{ id: 'kept', type: 'test_kept', params: {} }, { id: 'added', type: 'test_added', params: {} }] });
    const [idA, idB] = [harnessId(a), harnessId(b)];
    const asked: number[] = [];
    const trace = await runEpisode({
      config: a, harnessId: idA, env: bench.createEnvironment(task.id, { seed: 's' }), model: createModel('sim:small', { seed: 's' }), task: bench.task(task.id), seed: 's', attempt: 0, hardStepCap: 8,
      nextHarness: (step) => (asked.push(step), step >= 4 ? { config: b, harnessId: idB } : null),
    });
    expect(asked[0]).toBe(2);
    expect(trace.harnessSwaps).toEqual([{ step: 4, from: idA, to: idB }]);
    expect(trace.harnessId).toBe(idB);
    // Every record carries the harness of its step: the first three steps ran A, the rest B.
    for (const r of trace.records) expect(r.harnessId).toBe(r.step < 4 ? idA : idB);
    // The kept processor's counter goes on (state kept); the added one starts at 1; the leaving one ended at the swap.
    expect(log.slice(0, 3)).toEqual(['test_kept:1', 'test_kept:2', 'test_kept:3']);
    expect(log[3]).toBe('test_leaving:task_end after 1');
    expect(log.slice(4, 6).sort()).toEqual(['test_added:1', 'test_kept:4']);
    expect(log.filter((l) => l.startsWith('test_leaving'))).toHaveLength(1);
    // The conversation is kept: the first act call after the swap sees every message before it.
    const calls = trace.records.filter((r) => r.kind === 'model_call' && r.purpose === 'act') as Array<Extract<(typeof trace.records)[number], { kind: 'model_call' }>>;
    const before = calls.find((c) => c.step === 3)!;
    const after = calls.find((c) => c.step === 4)!;
    expect(after.request.messageCount).toBeGreaterThan(before.request.messageCount);
    // B's task_start processors differ, so the system prompt was rebuilt with them.
    expect(trace.systemPrompt).toContain('Tools (call exactly one per turn):');
  });

  it('records no harness ids and no swaps when the episode cannot swap (traces as before)', async () => {
    const a = config({ task_start: [{ id: 'sp', type: 'system_prompt', params: {} }] });
    const trace = await runEpisode({ config: a, harnessId: harnessId(a), env: bench.createEnvironment(task.id, { seed: 's' }), model: createModel('sim:small', { seed: 's' }), task: bench.task(task.id), seed: 's', attempt: 0, hardStepCap: 4 });
    expect(trace.harnessSwaps).toBeUndefined();
    expect(trace.records.every((r) => r.harnessId === undefined)).toBe(true);
  });
});

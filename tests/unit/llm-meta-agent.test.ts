import { z } from 'zod';
import { LlmMetaAgent, promptEditsStalled, untriedEditTypes } from '../../aegis/llm/llm-meta-agent';
import { callStructured, extractJson } from '../../aegis/llm/structured-output';
import { StageFailure } from '../../aegis/meta-agent';
import type { Digest } from '../../aegis/types';
import { seedHarness } from '../../harness/seed';
import { ScriptedModel } from '../helpers/processor-harness';

const digest: Digest = {
  round: 1,
  harnessId: 'hx-1',
  actionability: 1,
  traceTokens: 4000,
  digestTokens: 100,
  tasks: [
    { taskId: 't1', passed: false, successes: 0, attempts: 2, category: 'loop', categoryCounts: { loop: 3 }, implicated: ['missing:loop_detection'], evidence: ['step 3: returned to an earlier state'], history: [{ round: 1, passed: false, category: 'loop' }] },
    { taskId: 't2', passed: true, successes: 2, attempts: 2, category: null, categoryCounts: {}, implicated: [], evidence: [], history: [] },
  ],
};

describe('structured output', () => {
  test('extracts JSON from a fence, from surrounding prose, and says why when it cannot', () => {
    expect(extractJson('Sure:\n```json\n{"a": 1}\n```')).toEqual({ ok: true, value: { a: 1 } });
    expect(extractJson('Here it is {"a": {"b": 2}} hope that helps')).toEqual({ ok: true, value: { a: { b: 2 } } });
    expect(extractJson('no json here')).toEqual({ ok: false, error: 'the reply contains no JSON object' });
    expect(extractJson('{"a": 1,,}')).toMatchObject({ ok: false, error: expect.stringMatching(/does not parse/) });
  });

  test('an invalid reply gets exactly one repair attempt that quotes the problem', async () => {
    const model = new ScriptedModel(['{"n": "three"}', '{"n": 3}']);
    const r = await callStructured({ model, stage: 'test', system: 's', user: 'u', schema: z.object({ n: z.number() }) });
    expect(r).toMatchObject({ ok: true, value: { n: 3 } });
    expect(r.calls.map((c) => [c.attempt, c.refused !== null])).toEqual([['first', true], ['repair', false]]);
    expect(model.requests[1].messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(model.requests[1].messages[3].content).toMatch(/n: Invalid input: expected number/);
    model.assertConsumed();
  });

  test('a reply still invalid after the repair is a failure, not an exception; semantic checks count too', async () => {
    const model = new ScriptedModel(['{"ids": ["x"]}', '{"ids": ["y"]}']);
    const r = await callStructured({ model, stage: 'pick', system: 's', user: 'u', schema: z.object({ ids: z.array(z.string()) }), check: (v) => v.ids.filter((id) => id !== 'a').map((id) => `ids: "${id}" is not a candidate`) });
    expect(r).toMatchObject({ ok: false, error: 'pick: invalid output after one repair attempt: ids: "y" is not a candidate' });
    model.assertConsumed();
  });
});

describe('the LLM meta-agent', () => {
  test('the Digester links each failing task to its summary and reports its own output tokens', async () => {
    const reply = { tasks: [{ taskId: 't1', summary: 'loops between two states', category: 'loop', evidence: ['step 3'], implicated: ['missing:loop_detection'] }] };
    const model = new ScriptedModel([JSON.stringify(reply)]);
    const out = await new LlmMetaAgent(model).digest({ digest, traces: [] });
    expect(out.tasks[0]).toMatchObject({ taskId: 't1', summary: 'loops between two states', history: digest.tasks[0].history });
    expect(out.tasks[1]).toEqual(digest.tasks[1]);
    expect(out.digestTokens).toBe(1);
    expect(out.traceTokens / out.digestTokens).toBe(4000);
    expect(JSON.parse(model.requests[0].messages[1].content).tasks.map((t: { taskId: string }) => t.taskId)).toEqual(['t1']);
  });

  test('the Planner must go structural once prompt-only edits stop shipping', async () => {
    const tried = [
      { key: 'configure:system_prompt:a', bucket: 'prompt' as const, harnessId: 'hx-1', outcome: 'rejected: seesaw: no gain' },
      { key: 'configure:system_prompt:b', bucket: 'prompt' as const, harnessId: 'hx-1', outcome: 'rejected: seesaw: no gain' },
    ];
    expect(promptEditsStalled(tried)).toBe(true);
    expect(promptEditsStalled(tried.slice(0, 1))).toBe(false);
    const promptOnly = { options: [{ category: 'loop', bucket: 'prompt', direction: 'reword', editTypes: ['configure:system_prompt'] }], untriedEditTypes: [] };
    const structural = { options: [{ category: 'loop', bucket: 'processor', direction: 'add loop detection', editTypes: ['insert:loop_detection@before_model'] }], untriedEditTypes: ['insert:loop_detection@before_model'] };
    const model = new ScriptedModel([JSON.stringify(promptOnly), JSON.stringify(structural)]);
    const landscape = await new LlmMetaAgent(model).plan({ digest, tried, config: seedHarness() });
    expect(landscape.options).toEqual([expect.objectContaining({ bucket: 'processor', direction: 'add loop detection', edits: [] })]);
    expect(model.requests[1].messages[3].content).toMatch(/prompt-only edits have stopped shipping/);
    const sent = JSON.parse(model.requests[0].messages[1].content);
    expect(sent.promptOnlyEditsStalled).toBe(true);
    expect(sent.untriedEditTypes).toEqual(untriedEditTypes(seedHarness(), tried));
    expect(sent.untriedEditTypes).toContain('insert:loop_detection@before_model');
  });

  test('the Evolver’s edits must apply to the incumbent; a builder error is quoted in the repair, and a second failure is a StageFailure', async () => {
    const bad = { candidates: [{ bucket: 'processor', rationale: 'r', changes: [{ op: 'insert', hook: 'after_model', processor: { id: 'loop', type: 'loop_detection', params: {} } }], evidence: ['e'], predictedImpact: { tasksWillUnlock: ['t1'] } }] };
    const model = new ScriptedModel([JSON.stringify(bad), JSON.stringify(bad)]);
    const agent = new LlmMetaAgent(model);
    const landscape = { round: 1, harnessId: 'hx-1', failingTasks: [], categories: [], implicatedComponents: [], editsTried: [], untriedBuckets: [], options: [{ category: 'loop' as const, bucket: 'processor' as const, edits: [], key: 'k', rationale: 'r', direction: 'd' }], solvedTasks: [], unstableTasks: [] };
    await expect(agent.evolve({ landscape, digest, config: seedHarness(), maxCandidates: 2, round: 1 })).rejects.toBeInstanceOf(StageFailure);
    expect(model.requests[1].messages[3].content).toMatch(/candidates\.0\.changes: hook_not_allowed: "loop_detection" attaches only to before_model/);
    expect(agent.usage()).toEqual({ usage: { inputTokens: 2, outputTokens: 2 }, calls: 2, repairs: 1 });
  });

  test('the Critic’s claims check flags unlock claims for tasks that are not failing', () => {
    const candidate = { candidateId: 'c1', harnessId: 'hx-2', editKey: 'k', bucket: 'processor' as const, manifest: { candidateId: 'c1', bucket: 'processor' as const, capabilityEvidence: ['e'], changes: [], predictedImpact: { tasksWillUnlock: ['t1', 't2', 't9'], stabilize: [], atRisk: [] }, attributionSignature: 's' } };
    expect(LlmMetaAgent.claimFindings([candidate], digest)).toEqual({ c1: ['2 of 3 claimed unlocks are not failing tasks of this round (t2, t9)'] });
  });
});

import { z } from 'zod';
import { COMPATIBLE_PROMPT_CHARS, LlmMetaAgent, promptEditsStalled, untriedEditTypes } from '../../aegis/llm/llm-meta-agent';
import { digesterUser, traceExcerpt } from '../../aegis/llm/prompts';
import { digestTraces, episodeSignals, stepsTaken } from '../../aegis/digester';
import { runOneEpisode } from '../../aegis/rollout';
import { CriticOutputSchema, EvolverOutputSchema, PlannerOutputSchema } from '../../aegis/llm/schemas';
import { callStructured, extractJson, responseFormat } from '../../aegis/llm/structured-output';
import { rejectionKind, StageFailure, TriedEdit, triedEditFromGate } from '../../aegis/meta-agent';
import { makePreGateChecker } from '../../aegis/pre-gate';
import type { Digest, Landscape } from '../../aegis/types';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace } from '../../harness/trace';
import { AnthropicModel } from '../../models/anthropic/anthropic-model';
import { openAIJsonSchema, OpenAIModel } from '../../models/openai/openai-model';
import { createModel } from '../../models/registry';
import { withResponseCache } from '../../models/cached-model';
import { costUsd } from '../../models/prices';
import type { ModelResponse } from '../../harness/types';
import { GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';
import { ScriptedModel } from '../helpers/processor-harness';
import { anthropicForcedTool, scriptedMetaAgent, systemText } from '../helpers/scripted-meta-agent';
import { startWireServer } from '../helpers/wire-server';

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
    expect(Object.values(sent.untriedEditTypes).flat().sort()).toEqual(untriedEditTypes(seedHarness(), tried).sort());
    expect(sent.untriedEditTypes.processor).toContain('insert:loop_detection@before_model');
  });

  test('the Evolver’s edits must apply to the incumbent; a builder error is quoted in the repair, and a second failure is a StageFailure', async () => {
    const bad = { candidates: [{ bucket: 'processor', rationale: 'r', changes: [{ op: 'insert', hook: 'after_model', processor: { id: 'loop', type: 'loop_detection', params: {} } }], evidence: ['e'], predictedImpact: { tasksWillUnlock: ['t1'] } }] };
    const model = new ScriptedModel([JSON.stringify(bad), JSON.stringify(bad)]);
    const agent = new LlmMetaAgent(model);
    const landscape = { round: 1, harnessId: 'hx-1', failingTasks: [], categories: [], implicatedComponents: [], editsTried: [], untriedBuckets: [], options: [{ category: 'loop' as const, bucket: 'processor' as const, edits: [], key: 'k', rationale: 'r', direction: 'd' }], solvedTasks: [], unstableTasks: [] };
    await expect(agent.evolve({ landscape, digest, config: seedHarness(), maxCandidates: 2, round: 1 })).rejects.toBeInstanceOf(StageFailure);
    expect(model.requests[1].messages[3].content).toMatch(/candidates\.0\.changes\.0: hook_not_allowed: "loop_detection" attaches only to before_model/);
    expect(agent.usage()).toEqual({ usage: { inputTokens: 2, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 }, calls: 2, repairs: 1 });
  });

  test('the Critic’s claims check flags unlock claims for tasks that are not failing', () => {
    const candidate = { candidateId: 'c1', harnessId: 'hx-2', editKey: 'k', bucket: 'processor' as const, manifest: { candidateId: 'c1', bucket: 'processor' as const, capabilityEvidence: ['e'], changes: [], predictedImpact: { tasksWillUnlock: ['t1', 't2', 't9'], stabilize: [], atRisk: [] }, attributionSignature: 's' } };
    expect(LlmMetaAgent.claimFindings([candidate], digest)).toEqual({ c1: ['2 of 3 claimed unlocks are not failing tasks of this round (t2, t9)'] });
  });
});

const landscapeWith = (direction: string): Landscape => ({ round: 1, harnessId: 'hx-1', failingTasks: [], categories: [], implicatedComponents: [], editsTried: [], untriedBuckets: [], options: [{ category: 'loop', bucket: 'processor', edits: [], key: 'k', rationale: 'r', direction }], solvedTasks: [], unstableTasks: [] });
const proposal = (changes: unknown[], bucket = 'processor') => ({ bucket, rationale: 'warn on repeated states', changes, evidence: ['returned to an earlier state'], predictedImpact: { tasksWillUnlock: ['t1'], stabilize: [], atRisk: [] } });
// The sandbox's limit is wall-clock until the untrusted-code issue lands; the widest limit keeps a loaded machine from flipping verdicts here.
const guard = (smokeTests: unknown[]) => ({ op: 'insert', hook: 'before_model', processor: { id: 'guard', type: 'code', params: { source: REPEATED_STATE_GUARD, smokeTests, timeoutMs: 1000 } } });
/** The mistake the report saw: a smoke test sending an event of another hook. */
const WRONG_HOOK_TEST = { name: 'warns on a repeated state', event: { hook: 'after_model', step: 1, response: { text: '', toolCalls: [], usage: { inputTokens: 0, outputTokens: 0 }, stopReason: 'end_turn', model: 'm' } }, expect: 'changed' };

describe('pre-gate checks inside the Evolver stage', () => {
  jest.setTimeout(60_000);
  const preGate = makePreGateChecker(seedHarness(), getBenchmark('blocksworld'), { seed: 'unit' });

  test('a smoke-test mistake goes back to the Evolver with the exact message, once, and the corrected candidate comes out', async () => {
    const model = new ScriptedModel([
      JSON.stringify({ candidates: [proposal([guard([WRONG_HOOK_TEST])]), proposal([{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }])] }),
      JSON.stringify({ candidates: [proposal([guard(GUARD_SMOKE_TESTS)]), proposal([{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }])] }),
    ]);
    const agent = new LlmMetaAgent(model);
    const drafts = await agent.evolve({ landscape: landscapeWith('warn on loops'), digest, config: seedHarness(), maxCandidates: 2, round: 1, preGate });
    model.assertConsumed();
    // The repair continues the same conversation: the first reply, then the gate's exact words.
    const repair = model.requests[1].messages;
    expect(repair.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(repair[3].content).toContain('- candidates.0 (r1-c1): code_sandbox: guard: smoke_test: smoke test "warns on a repeated state" sends a after_model event to a processor on before_model');
    expect(repair[3].content).not.toContain('r1-c2');
    expect(drafts.map((d) => d.candidateId)).toEqual(['r1-c1', 'r1-c2']);
    for (const d of drafts) await expect(preGate(d)).resolves.toMatchObject({ passed: true, reason: null });
    expect(agent.usage()).toMatchObject({ calls: 2, repairs: 1 });
  });

  test('candidates that pass need no repair turn; without a checker (rules, baselines) nothing is checked', async () => {
    const reply = JSON.stringify({ candidates: [proposal([guard(GUARD_SMOKE_TESTS)])] });
    const model = new ScriptedModel([reply]);
    await new LlmMetaAgent(model).evolve({ landscape: landscapeWith('d'), digest, config: seedHarness(), maxCandidates: 2, round: 1, preGate });
    model.assertConsumed();
    const unchecked = new ScriptedModel([JSON.stringify({ candidates: [proposal([guard([WRONG_HOOK_TEST])])] })]);
    const drafts = await new LlmMetaAgent(unchecked).evolve({ landscape: landscapeWith('d'), digest, config: seedHarness(), maxCandidates: 2, round: 1 });
    expect(drafts).toHaveLength(1);
    unchecked.assertConsumed();
  });

  test('a mistake the repair does not fix stays in the pool, so the gate rejects it and the ledger records a mistake', async () => {
    const bad = JSON.stringify({ candidates: [proposal([guard([WRONG_HOOK_TEST])])] });
    const model = new ScriptedModel([bad, bad]);
    const [draft] = await new LlmMetaAgent(model).evolve({ landscape: landscapeWith('d'), digest, config: seedHarness(), maxCandidates: 2, round: 1, preGate });
    const verdict = await preGate(draft);
    expect(verdict).toMatchObject({ passed: false, reason: expect.stringMatching(/^code_sandbox: guard: smoke_test/) });
    expect(triedEditFromGate(draft, 'hx-1', verdict)).toMatchObject({ key: draft.editKey, rejectedFor: 'mistake' });
  });
});

describe('the ledger: edit keys, buckets, ideas and mistakes', () => {
  test('a candidate of several changes is keyed by all of them and filed under the bucket its changes make it', async () => {
    const changes = [
      { op: 'configure', processorId: 'step_budget', params: { maxSteps: 21 } },
      { op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } },
      { op: 'configure', processorId: 'system_prompt', params: { template: 'x'.repeat(200) } },
    ];
    // The model called it a config edit after its first change; the changes say processor.
    const model = new ScriptedModel([JSON.stringify({ candidates: [proposal(changes, 'config')] })]);
    const [draft] = await new LlmMetaAgent(model).evolve({ landscape: landscapeWith('d'), digest, config: seedHarness(), maxCandidates: 1, round: 1 });
    expect(draft.editKey).toMatch(/^configure:step_budget:\{"maxSteps":21\}\+insert:loop_detection@before_model\+configure:system_prompt:\{template\}#[0-9a-f]{10}$/);
    expect(draft.bucket).toBe('processor');
    expect(draft.manifest.bucket).toBe('processor');
    const entry = triedEditFromGate(draft, 'hx-1', { passed: false, reason: 'seesaw: no gain: 3/12 vs 3/12 (needs +1)' });
    expect(entry).toEqual({ key: draft.editKey, bucket: 'processor', harnessId: 'hx-1', outcome: 'rejected: seesaw: no gain: 3/12 vs 3/12 (needs +1)', rejectedFor: 'idea' });
    // Every change of it counts as tried.
    expect(untriedEditTypes(seedHarness(), [entry])).not.toContain('insert:loop_detection@before_model');
  });

  test('rejected for an idea vs for a mistake: only ideas count against retrying', () => {
    const at = (outcome: string): TriedEdit => ({ key: 'insert:loop_detection@before_model', bucket: 'processor', harnessId: 'hx-1', outcome });
    expect(rejectionKind(at('shipped'))).toBeNull();
    expect(rejectionKind(at('rejected: seesaw: regresses 1 solved task(s): t2'))).toBe('idea');
    expect(rejectionKind(at('rejected: reward_hacking: task id at system_prompt'))).toBe('idea');
    expect(rejectionKind(at('rejected: by reviewer: no'))).toBe('idea');
    expect(rejectionKind(at('rejected: code_sandbox: g: compile: typecheck: processor.ts:3: …'))).toBe('mistake');
    expect(rejectionKind(at('rejected: smoke_test: g crashed'))).toBe('mistake');
    expect(rejectionKind(at('rejected: manifest_complete: changes: at least one change'))).toBe('mistake');
    expect(untriedEditTypes(seedHarness(), [at('rejected: smoke_test: crashed')])).toContain('insert:loop_detection@before_model');
    expect(untriedEditTypes(seedHarness(), [at('rejected: seesaw: no gain')])).not.toContain('insert:loop_detection@before_model');
    const prompt = (outcome: string): TriedEdit => ({ ...at(outcome), bucket: 'prompt' });
    expect(promptEditsStalled([prompt('rejected: seesaw: no gain'), prompt('rejected: manifest_complete: x')])).toBe(false);
  });

  test('the Planner and Critic see the gate’s earlier results with reasons and kinds; the Critic is told how the gate decides, in numbers', async () => {
    const tried: TriedEdit[] = [
      { key: 'insert:notes@before_model', bucket: 'processor', harnessId: 'hx-1', outcome: 'rejected: seesaw: no gain: 5/16 vs 5/16 (needs +1)' },
      { key: 'insert:code@before_model#abc', bucket: 'processor', harnessId: 'hx-1', outcome: 'rejected: code_sandbox: g: smoke_test: x' },
    ];
    const plannerModel = new ScriptedModel([JSON.stringify({ options: [{ category: 'loop', bucket: 'processor', direction: 'd', editTypes: ['insert:code@before_model'] }], untriedEditTypes: [] })]);
    await new LlmMetaAgent(plannerModel).plan({ digest, tried, config: seedHarness() });
    const sent = JSON.parse(plannerModel.requests[0].messages[1].content);
    expect(sent.editsTried.map((t: { rejectedFor: string }) => t.rejectedFor)).toEqual(['idea', 'mistake']);
    expect(sent.editsTried[0].outcome).toContain('no gain: 5/16 vs 5/16');
    expect(Object.keys(sent.editExamples)).toEqual(['insert', 'replace', 'remove', 'configure', 'move']);
    expect(sent.editExamples.configure).toEqual({ op: 'configure', processorId: 'step_budget', params: { maxSteps: 20 } });
    expect(plannerModel.requests[0].messages[0].content).toMatch(/replace\s+\{"op":"replace"/);

    const candidate = { candidateId: 'c1', harnessId: 'hx-2', editKey: 'k', bucket: 'processor' as const, manifest: { candidateId: 'c1', bucket: 'processor' as const, capabilityEvidence: ['e'], changes: [], predictedImpact: { tasksWillUnlock: ['t1'], stabilize: [], atRisk: [] }, attributionSignature: 's' } };
    const criticModel = new ScriptedModel([JSON.stringify({ decision: 'ship_ranking', ranking: ['c1'], notes: [] })]);
    await new LlmMetaAgent(criticModel).critique({ candidates: [candidate], digest, reputation: {}, config: seedHarness(), round: 1, tried, gate: { minGain: 2, k: 3, batchTasks: 12, validationTasks: 30 } });
    const critic = JSON.parse(criticModel.requests[0].messages[1].content);
    expect(critic.editsTried).toHaveLength(2);
    expect(critic.gateRules).toContain("the round's 12 batch task(s) plus 30 validation task(s) (42 in all) — with 3 attempt(s) per task");
    expect(critic.gateRules).toContain('at least 2 more task(s)');
    expect(critic.gateRules).toContain('the FIRST candidate that passes ships');
    expect(criticModel.requests[0].messages[0].content).toContain('A gate set the incumbent already passes in full leaves no gain to make');
  });
});

describe('what the Digester sees', () => {
  const trace: EpisodeTrace = {
    taskId: 't1', harnessId: 'hx-1', model: 'sim:small', seed: 's', attempt: 0, systemPrompt: '', instruction: 'My goal is to have that the red block is on the blue block.',
    records: [
      { kind: 'model_call', step: 1, purpose: 'plan', request: { messageCount: 2, newMessages: [], parts: [] }, response: { text: '[PLAN] pick up the red block [PLAN END]', toolCalls: [], stopReason: 'end_turn' }, usage: { inputTokens: 1, outputTokens: 1 }, latencyMs: 0, model: 'm' },
      { kind: 'model_call', step: 1, purpose: 'act', request: { messageCount: 1, newMessages: [{ role: 'user', content: 'Current state:\n- red on table' }], parts: [{ kind: 'plan', text: 'Plan: 1. pick up the red block' }] }, response: { text: '', toolCalls: [{ id: 'c1', name: 'pick_up', args: { block: 'red' } }], stopReason: 'tool_use' }, usage: { inputTokens: 1, outputTokens: 1 }, latencyMs: 0, model: 'm' },
      { kind: 'tool_call', step: 1, call: { id: 'c1', name: 'pick_up', args: { block: 'red' } }, approved: true, result: { ok: false, output: 'The red block is not clear.', errorKind: 'precondition' } },
      { kind: 'model_call', step: 2, purpose: 'act', request: { messageCount: 3, newMessages: [], parts: [{ kind: 'loop_warning', text: 'Warning: back in a state.' }], carriedParts: 1 }, response: { text: '', toolCalls: [{ id: 'c2', name: 'pick_up', args: { block: 'red' } }], stopReason: 'tool_use' }, usage: { inputTokens: 1, outputTokens: 1 }, latencyMs: 0, model: 'm' },
      { kind: 'tool_call', step: 2, call: { id: 'c2', name: 'pick_up', args: { block: 'red' } }, approved: true, result: { ok: false, output: 'The red block is not clear.', errorKind: 'precondition' } },
    ],
    steps: 3, endReason: 'step_budget_exhausted', success: false, reward: 0, usage: { inputTokens: 3, outputTokens: 3 }, durationMs: 0,
  };

  test('the harness, the library, each task’s goal and start, and per step the context parts the model received; plan replies are not format errors', () => {
    const sent = JSON.parse(digesterUser([{ digest: digest.tasks[0], traces: [trace] }], seedHarness()));
    expect(sent.harness.step_start).toEqual([{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 14 } }]);
    expect(sent.tasks[0]).toMatchObject({ goal: trace.instruction, initialObservation: 'Current state:\n- red on table' });
    // Newest step first.
    expect(sent.tasks[0].failedAttempts[0].contextParts).toEqual([
      { step: 2, parts: ['loop_warning: Warning: back in a state.', '+1 unchanged from the previous step'] },
      { step: 1, parts: ['plan: Plan: 1. pick up the red block'] },
    ]);
    const excerpt: string = sent.tasks[0].failedAttempts[0].excerpt;
    expect(excerpt).not.toContain('without a tool call');
    expect(excerpt).toContain('(plan_then_act asked for a plan; not an action)');
    // The budget's interrupted step 3 never reached the model.
    expect(excerpt).toMatch(/ended: step_budget_exhausted after 2 step\(s\)$/);
  });

  test('a step budget of 14 is reported as 14 steps taken, not 15', async () => {
    const bench = getBenchmark('blocksworld');
    let ended: EpisodeTrace | null = null;
    for (const task of bench.tasks().slice(0, 40)) {
      const trace = await runOneEpisode({ benchmark: bench, config: seedHarness('sim:small'), harnessId: 'hx-seed', seed: 'steps' }, task.id, 0);
      if (trace.endReason === 'step_budget_exhausted') {
        ended = trace;
        break;
      }
    }
    expect(ended).not.toBeNull();
    expect(ended!.records.filter((r) => r.kind === 'model_call' && r.purpose === 'act')).toHaveLength(14);
    expect(stepsTaken(ended!)).toBe(14);
    expect(ended!.steps).toBe(14); // the run loop does not count the step the budget interrupted
    expect(episodeSignals(ended!).counts.no_progress).toBe(1);
    expect(traceExcerpt(ended!)).toMatch(/after 14 step\(s\)$/);
  });

  test('a smaller budget summarises whole fields instead of cutting JSON', () => {
    const tasks = Array.from({ length: 8 }, (_, i) => ({ digest: { ...digest.tasks[0], taskId: `t${i}` }, traces: [trace] }));
    const full = digesterUser(tasks, seedHarness());
    const small = digesterUser(tasks, seedHarness(), Math.floor(full.length / 2));
    expect(small.length).toBeLessThan(full.length);
    const parsed = JSON.parse(small);
    expect(parsed.tasks).toHaveLength(8);
    expect(parsed.tasks[0].failedAttempts[0].contextParts).toBeUndefined();
    expect(COMPATIBLE_PROMPT_CHARS).toBeLessThan(120_000);
  });

  test('the deterministic digest is multi-label too: a primary category and the others the attempts show', () => {
    const d = digestTraces({ round: 1, harnessId: 'hx-1', config: seedHarness(), traces: [trace], outcomes: [{ taskId: 't1', passed: false, successes: 0, attempts: 1 }], previous: null });
    expect(d.tasks[0]).toMatchObject({ category: 'invalid_action', secondary: ['no_progress'], categoryCounts: { invalid_action: 2, no_progress: 1 } });
    expect(d.tasks[0].evidence).toContain('attempt 0: ended by step_budget_exhausted after 2 steps');
  });

  test('the LLM Digester keeps a primary and secondary categories', async () => {
    const reply = { tasks: [{ taskId: 't1', summary: 's', category: 'loop', secondary: ['invalid_action', 'loop'], evidence: ['step 2'], implicated: [] }] };
    const model = new ScriptedModel([JSON.stringify(reply)]);
    const out = await new LlmMetaAgent(model).digest({ digest, traces: [trace], config: seedHarness() });
    expect(out.tasks[0]).toMatchObject({ category: 'loop', secondary: ['invalid_action'] });
    // The library's processor types ride in the (cacheable) system prompt, with their hooks.
    expect(model.requests[0].messages[0].content).toMatch(/Library processor types[\s\S]*"type":"loop_detection","hooks":\["before_model"\]/);
  });
});

/** Sets env vars for one test and restores them. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

describe('native structured output over the real SDKs', () => {
  jest.setTimeout(60_000);
  const plan = { options: [{ category: 'loop', bucket: 'processor', direction: 'add loop detection', editTypes: ['insert:loop_detection@before_model'], targetTasks: [] }], untriedEditTypes: [], notes: '' };

  test('Anthropic: a forced tool whose input_schema is the stage schema, the system prompt cached, the tool input accepted, cached tokens counted', async () => {
    const server = await startWireServer((r) => (r.path === '/v1/messages' ? { body: anthropicForcedTool('submit_plan', plan, { input_tokens: 400, output_tokens: 90, cache_read_input_tokens: 3000, cache_creation_input_tokens: 0 }) } : undefined));
    try {
      const agent = new LlmMetaAgent(new AnthropicModel('claude-test', 'sk-ant-x', server.url));
      const landscape = await agent.plan({ digest, tried: [], config: seedHarness() });
      expect(landscape.options[0]).toMatchObject({ direction: 'add loop detection' });
      const body = server.requests[0].body as { tools: Array<{ name: string; input_schema: Record<string, unknown> }>; tool_choice: unknown; system: Array<{ text: string; cache_control?: unknown }> };
      expect(body.tool_choice).toEqual({ type: 'tool', name: 'submit_plan' });
      expect(body.tools).toHaveLength(1);
      expect(body.tools[0].input_schema).toMatchObject({ type: 'object', required: expect.arrayContaining(['options', 'untriedEditTypes']) });
      expect(JSON.stringify(body.tools[0].input_schema)).toContain('"enum":["format_error"');
      expect(body.system).toEqual([{ type: 'text', text: expect.stringMatching(/^You are the Planner/), cache_control: { type: 'ephemeral' } }]);
      expect(agent.usage().usage).toEqual({ inputTokens: 3400, outputTokens: 90, cacheReadTokens: 3000, cacheWriteTokens: 0 });
      expect(agent.stageCalls()[0].mode).toBe('native');
      // Cached input is billed at the cache price where the table has one.
      expect(costUsd('anthropic:claude-test', agent.usage().usage, { 'anthropic:*': { input: 10, output: 50, cacheRead: 1 } })).toBeCloseTo((400 * 10 + 3000 * 1 + 90 * 50) / 1e6);
      expect(costUsd('anthropic:claude-test', agent.usage().usage, { 'anthropic:*': { input: 10, output: 50 } })).toBeCloseTo((3400 * 10 + 90 * 50) / 1e6);
    } finally {
      await server.close();
    }
  });

  test('the response cache keeps the native path and keys on the reply format: a replayed stage never pays twice', async () => {
    const server = await startWireServer((r) => (r.path === '/v1/messages' ? { body: anthropicForcedTool('submit_plan', plan) } : undefined));
    try {
      const store = new Map<string, ModelResponse>();
      const cached = withResponseCache(new AnthropicModel('claude-test', 'k', server.url), { get: (k) => store.get(k), set: (k, v) => void store.set(k, v) }, 'meta');
      const first = new LlmMetaAgent(cached);
      await first.plan({ digest, tried: [], config: seedHarness() });
      expect(first.stageCalls()[0].mode).toBe('native');
      await new LlmMetaAgent(cached).plan({ digest, tried: [], config: seedHarness() });
      expect(server.requests).toHaveLength(1);
      expect([cached.hits, cached.misses]).toEqual([1, 1]);
    } finally {
      await server.close();
    }
  });

  test('Anthropic: a reply in prose instead of the tool still goes through the JSON-in-text path', async () => {
    const script = scriptedMetaAgent([{ stage: 'plan', reply: () => `Here you go:\n\`\`\`json\n${JSON.stringify(plan)}\n\`\`\`` }]);
    const server = await startWireServer(script.respond);
    try {
      const landscape = await new LlmMetaAgent(new AnthropicModel('claude-test', 'k', server.url)).plan({ digest, tried: [], config: seedHarness() });
      expect(landscape.options).toHaveLength(1);
      expect(systemText(server.requests[0].body)).toMatch(/^You are the Planner/);
      script.assertConsumed();
    } finally {
      await server.close();
    }
  });

  const openaiReply = (content: string) => ({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }], usage: { prompt_tokens: 5000, completion_tokens: 80, prompt_tokens_details: { cached_tokens: 4096 } } });

  test('OpenAI: response_format json_schema, strict where the schema allows it; the JSON content accepted', async () => {
    const server = await startWireServer((r) => (r.path === '/chat/completions' || r.path === '/v1/chat/completions' ? { body: openaiReply(JSON.stringify(plan)) } : undefined));
    try {
      const agent = new LlmMetaAgent(new OpenAIModel('openai:gpt-test', 'openai', 'gpt-test', 'sk-x', server.url));
      await agent.plan({ digest, tried: [], config: seedHarness() });
      const format = server.requests[0].body.response_format as { type: string; json_schema: { name: string; strict?: boolean; schema: Record<string, unknown> } };
      expect(format).toMatchObject({ type: 'json_schema', json_schema: { name: 'submit_plan', strict: true } });
      // Strict mode: every object closed and fully required, no size keywords.
      const text = JSON.stringify(format.json_schema.schema);
      expect(text).not.toMatch(/"maxItems"|"minLength"|"default"/);
      const option = (format.json_schema.schema.properties as { options: { items: { required: string[]; additionalProperties: boolean } } }).options.items;
      expect(option).toMatchObject({ additionalProperties: false, required: ['category', 'bucket', 'direction', 'editTypes', 'targetTasks'] });
      expect(server.requests[0].body.tools).toBeUndefined();
      expect(agent.usage().usage).toEqual({ inputTokens: 5000, outputTokens: 80, cacheReadTokens: 4096, cacheWriteTokens: 0 });
    } finally {
      await server.close();
    }
  });

  test('OpenAI: a schema with open objects (processor params) or a union at the root is sent without strict', () => {
    expect(openAIJsonSchema(responseFormat('evolve', EvolverOutputSchema), 'openai').json_schema.strict).toBeUndefined();
    expect(openAIJsonSchema(responseFormat('critique', CriticOutputSchema), 'openai').json_schema.strict).toBeUndefined();
    expect(openAIJsonSchema(responseFormat('plan', PlannerOutputSchema), 'openai').json_schema.strict).toBe(true);
  });

  test('openai-compatible (vLLM, SGLang): the JSON-schema response format for guided decoding, and a smaller prompt budget', async () => {
    const server = await startWireServer((r) => (r.path.endsWith('/chat/completions') ? { body: openaiReply(JSON.stringify(plan)) } : undefined));
    try {
      await withEnv({ OPENAI_COMPATIBLE_API_KEY: 'local' }, async () => {
        const model = createModel(`openai-compatible:qwen-test@${server.url}/v1`, { seed: 's' });
        const agent = new LlmMetaAgent(model);
        await agent.plan({ digest, tried: [], config: seedHarness() });
        expect(server.requests[0].path).toBe('/v1/chat/completions');
        const format = server.requests[0].body.response_format as { type: string; json_schema: { name: string; strict?: boolean; schema: { properties: Record<string, unknown> } } };
        expect(format.type).toBe('json_schema');
        expect(format.json_schema.name).toBe('submit_plan');
        expect(format.json_schema.strict).toBeUndefined();
        expect(Object.keys(format.json_schema.schema.properties)).toEqual(['options', 'untriedEditTypes', 'notes']);
        expect(server.requests[0].body.model).toBe('qwen-test');
      });
    } finally {
      await server.close();
    }
  });

  test('the scripted meta-agent over the Anthropic SDK repairs a smoke-test mistake inside the Evolver stage', async () => {
    const script = scriptedMetaAgent([
      { stage: 'evolve', reply: () => ({ candidates: [proposal([guard([WRONG_HOOK_TEST])])] }) },
      { stage: 'evolve', reply: (_u, req) => (expect(JSON.stringify(req.body.messages)).toContain('sends a after_model event to a processor on before_model'), { candidates: [proposal([guard(GUARD_SMOKE_TESTS)])] }) },
    ]);
    const server = await startWireServer(script.respond);
    try {
      const preGate = makePreGateChecker(seedHarness(), getBenchmark('blocksworld'), { seed: 'unit' });
      const drafts = await new LlmMetaAgent(new AnthropicModel('claude-test', 'k', server.url)).evolve({ landscape: landscapeWith('d'), digest, config: seedHarness(), maxCandidates: 1, round: 1, preGate });
      script.assertConsumed();
      expect(script.log).toEqual([{ stage: 'evolve', repair: false }, { stage: 'evolve', repair: true }]);
      expect(drafts[0].editKey).toMatch(/^insert:code@before_model#[0-9a-f]{10}$/);
      await expect(preGate(drafts[0])).resolves.toMatchObject({ passed: true });
    } finally {
      await server.close();
    }
  });
});

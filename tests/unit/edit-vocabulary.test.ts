import { z } from 'zod';
import { resolveModules } from '../../aegis/llm/code-modules';
import { LlmMetaAgent } from '../../aegis/llm/llm-meta-agent';
import { EDIT_VOCABULARY, editExamples, harnessView } from '../../aegis/llm/prompts';
import { callStructured } from '../../aegis/llm/structured-output';
import { makePreGateChecker } from '../../aegis/pre-gate';
import { changeKey } from '../../aegis/remedies';
import type { Digest, Landscape } from '../../aegis/types';
import { getBenchmark } from '../../benchmarks/registry';
import { applyEdit, applyEdits } from '../../harness/builder';
import { canonicalize, HarnessConfig, harnessId, parseHarnessConfig } from '../../harness/config';
import { diffHarnesses, formatDiff } from '../../harness/diff';
import { runEpisode } from '../../harness/run-loop';
import { seedHarness } from '../../harness/seed';
import type { ModelResponse } from '../../harness/types';
import { GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';
import { ScriptedModel } from '../helpers/processor-harness';

/**
 * The edit vocabulary beyond insert/replace/remove/configure/bundle (issue #30 item 4): positions within a
 * hook, code modules shared by several candidates, and a repair message naming every problem of a reply.
 */
jest.setTimeout(60_000);

/** Two task_start processors whose output order shows their execution order in the system prompt. */
function twoStarters(positions: { skills?: { before?: string; after?: string } } = {}): HarnessConfig {
  return parseHarnessConfig({
    model: { main: { model: 'sim:large' } },
    hooks: {
      task_start: [
        { id: 'system_prompt', type: 'system_prompt', params: {} },
        { id: 'skills', type: 'skill_loader', params: {}, ...(positions.skills ?? {}) },
        { id: 'tools', type: 'tool_filter', params: { exclude: ['unstack'] } },
      ],
    },
  });
}

async function systemPromptOf(config: HarnessConfig): Promise<string> {
  const bench = getBenchmark('blocksworld');
  const taskId = bench.smokeTaskId();
  const reply: ModelResponse = { text: 'done', toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: 'scripted' };
  const trace = await runEpisode({ config, harnessId: harnessId(config), env: bench.createEnvironment(taskId, { seed: 's' }), model: { id: 'scripted', generate: async () => reply }, skills: { stacking: 'Build towers bottom-up.' }, task: bench.task(taskId), seed: 's', attempt: 0, hardStepCap: 1 });
  return trace.systemPrompt;
}

describe('positions within a hook', () => {
  test('by default a hook runs by order class, type dependencies, then id; an explicit position overrides it, and the run loop honours it', async () => {
    const plain = twoStarters();
    expect(plain.hooks.task_start.map((p) => p.id)).toEqual(['system_prompt', 'skills', 'tools']);
    const moved = twoStarters({ skills: { after: 'tools' } });
    expect(moved.hooks.task_start.map((p) => p.id)).toEqual(['system_prompt', 'tools', 'skills']);
    const [a, b] = [await systemPromptOf(plain), await systemPromptOf(moved)];
    expect(a.indexOf('## Skill: stacking')).toBeLessThan(a.indexOf('Use only these tools'));
    expect(b.indexOf('## Skill: stacking')).toBeGreaterThan(b.indexOf('Use only these tools'));
    // A position may cross order classes: before a 'pre' processor is honoured too.
    const early = parseHarnessConfig({ model: { main: { model: 'sim:small' } }, hooks: { before_tool: [{ id: 'allow', type: 'tool_whitelist', params: {} }, { id: 'zfix', type: 'arg_validation', params: {}, before: 'allow' }] } });
    expect(early.hooks.before_tool.map((p) => p.id)).toEqual(['zfix', 'allow']);
  });

  test('a harness without positions keeps its id (the field is absent, not null)', () => {
    const seed = seedHarness();
    expect(JSON.stringify(seed)).not.toMatch(/"(before|after)"/);
    expect(harnessId(seed)).toBe(harnessId(canonicalize(JSON.parse(JSON.stringify(seed)))));
  });

  test('insert with a position, move, remove and replace keep positions consistent; bad positions are refused with the rule bad_position', () => {
    const base = twoStarters();
    const inserted = applyEdit(base, { op: 'insert', hook: 'task_start', processor: { id: 'memory', type: 'episodic_memory', params: {}, before: 'system_prompt' } });
    expect(inserted.ok && inserted.config.hooks.task_start.map((p) => p.id)).toEqual(['memory', 'system_prompt', 'skills', 'tools']);
    const moved = applyEdit(base, { op: 'move', processorId: 'skills', after: 'tools' });
    expect(moved.ok && moved.config.hooks.task_start.map((p) => p.id)).toEqual(['system_prompt', 'tools', 'skills']);
    expect(moved.ok && harnessId(moved.config)).not.toBe(harnessId(base));
    expect(moved.ok && formatDiff(diffHarnesses(base, moved.config))).toBe('↕ task_start: skills: default order → after tools');
    // Replacing the anchor moves the position to its successor.
    const replaced = moved.ok ? applyEdit(moved.config, { op: 'replace', hook: 'task_start', group: 'tool_filter', processor: { id: 'tools2', type: 'tool_filter', params: {} } }) : moved;
    expect(replaced.ok && replaced.config.hooks.task_start.map((p) => [p.id, p.after ?? null])).toEqual([['system_prompt', null], ['tools2', null], ['skills', 'tools2']]);
    // Removing the anchor drops the position; the default order comes back.
    const removed = moved.ok ? applyEdit(moved.config, { op: 'remove', processorId: 'tools' }) : moved;
    expect(removed.ok && removed.config.hooks.task_start).toEqual([expect.objectContaining({ id: 'system_prompt' }), { id: 'skills', type: 'skill_loader', params: expect.any(Object) }]);

    expect(applyEdit(base, { op: 'move', processorId: 'skills', after: 'nowhere' })).toEqual({ ok: false, error: { rule: 'bad_position', message: '"skills": no processor "nowhere" on task_start to place it after (processors there: system_prompt, skills, tools)' } });
    expect(applyEdit(base, { op: 'move', processorId: 'skills', after: 'skills' })).toMatchObject({ ok: false, error: { rule: 'bad_position' } });
    expect(applyEdit(base, { op: 'move', processorId: 'skills' })).toMatchObject({ ok: false, error: { rule: 'bad_position' } });
    // A position on another hook's processor is not a position in this hook.
    expect(applyEdit(seedHarness(), { op: 'move', processorId: 'tracer', before: 'step_budget' })).toMatchObject({ ok: false, error: { rule: 'bad_position' } });
    // A circle: tools before skills, then skills before tools.
    const circle = applyEdits(base, [{ op: 'move', processorId: 'tools', before: 'skills' }, { op: 'move', processorId: 'skills', before: 'tools' }]);
    expect(circle).toMatchObject({ ok: false, error: { rule: 'bad_position', message: expect.stringContaining('form a circle') } });
    expect(() => parseHarnessConfig({ model: { main: { model: 'sim:small' } }, hooks: { task_start: [{ id: 'a', type: 'system_prompt', params: {}, after: 'b' }] } })).toThrow(/hooks\.task_start\.a\.after: no processor "b" on task_start/);
  });

  test('the meta-agent is told how order works and sees positions; a move has its own ledger key and is a config change', () => {
    expect(EDIT_VOCABULARY).toContain('never the order of insertion');
    expect(EDIT_VOCABULARY).toContain('"op":"move"');
    const moved = applyEdit(twoStarters(), { op: 'move', processorId: 'skills', after: 'tools' });
    if (!moved.ok) throw new Error(moved.error.message);
    expect(harnessView(moved.config).task_start).toEqual([expect.objectContaining({ id: 'system_prompt' }), expect.objectContaining({ id: 'tools' }), expect.objectContaining({ id: 'skills', after: 'tools' })]);
    expect(editExamples(twoStarters()).move).toEqual({ op: 'move', processorId: 'skills', before: 'system_prompt' });
    expect(changeKey({ op: 'move', processorId: 'skills', after: 'tools' })).toBe('move:skills(after:tools)');
    expect(changeKey({ op: 'insert', hook: 'task_start', processor: { id: 'm', type: 'episodic_memory', params: {}, before: 'x' } })).toBe('insert:episodic_memory@task_start(before:x)');
  });
});

const digest: Digest = {
  round: 1,
  harnessId: 'hx-1',
  actionability: 1,
  traceTokens: 4000,
  digestTokens: 100,
  tasks: [{ taskId: 't1', passed: false, successes: 0, attempts: 2, category: 'loop', categoryCounts: { loop: 3 }, implicated: [], evidence: ['step 3: returned to an earlier state'], history: [] }],
};
const landscape: Landscape = { round: 1, harnessId: 'hx-1', failingTasks: [], categories: [], implicatedComponents: [], editsTried: [], untriedBuckets: [], options: [{ category: 'loop', bucket: 'processor', edits: [], key: 'k', rationale: 'r', direction: 'guard against loops' }], solvedTasks: [], unstableTasks: [] };
const proposal = (changes: unknown[]) => ({ bucket: 'processor', rationale: 'warn on repeated states', changes, evidence: ['returned to an earlier state'], predictedImpact: { tasksWillUnlock: ['t1'], stabilize: [], atRisk: [] } });
const codeInsert = (id: string, hook: string, params: Record<string, unknown>) => ({ op: 'insert', hook, processor: { id, type: 'code', params } });

describe('named code modules', () => {
  test('two candidates reference one module: sent once, each draft carries the full source, and the pre-gate passes both', async () => {
    const reply = {
      modules: [{ id: 'guard', source: REPEATED_STATE_GUARD }],
      candidates: [
        proposal([codeInsert('guard', 'before_model', { module: 'guard', smokeTests: GUARD_SMOKE_TESTS, timeoutMs: 1000 })]),
        proposal([codeInsert('guard', 'before_model', { module: 'guard', smokeTests: GUARD_SMOKE_TESTS, timeoutMs: 1000 }), { op: 'configure', processorId: 'step_budget', params: { maxSteps: 20 } }]),
      ],
    };
    const text = JSON.stringify(reply);
    // The source appears once in the reply.
    expect(text.split('processEvent').length - 1).toBe(REPEATED_STATE_GUARD.split('processEvent').length - 1);
    const model = new ScriptedModel([text]);
    const preGate = makePreGateChecker(seedHarness(), getBenchmark('blocksworld'), { seed: 'unit' });
    const drafts = await new LlmMetaAgent(model).evolve({ landscape, digest, config: seedHarness(), maxCandidates: 2, round: 1, preGate });
    model.assertConsumed();
    expect(drafts).toHaveLength(2);
    for (const d of drafts) {
      expect(d.config.hooks.before_model.find((p) => p.id === 'guard')?.params).toEqual({ source: REPEATED_STATE_GUARD, smokeTests: expect.any(Array), timeoutMs: 1000 });
      expect(JSON.stringify(d.manifest.changes)).not.toContain('"module"');
      expect(d.preGate).toBe('passed');
    }
  });

  test('an unknown module, "module" beside "source" and a module defined twice are each reported, naming where', () => {
    const candidates = [
      proposal([codeInsert('a', 'before_model', { module: 'nope', smokeTests: [] })]),
      proposal([codeInsert('b', 'before_model', { module: 'm', source: 'x', smokeTests: [] })]),
    ] as never[];
    const { problems } = resolveModules(candidates, [{ id: 'm', source: 'x' }, { id: 'm', source: 'y' }]);
    expect(problems).toEqual([
      'modules.1.id: module "m" is defined twice',
      'candidates.0.changes.0.processor.params.module: no module "nope" in this reply\'s "modules" (m)',
      'candidates.1.changes.0.processor.params: give "module" or "source", not both',
    ]);
  });
});

describe('the repair message lists every problem of a reply', () => {
  test('every change of a candidate that does not apply, not only the first', () => {
    const problems = LlmMetaAgent.proposalProblems(seedHarness(), [proposal([{ op: 'remove', processorId: 'ghost' }, { op: 'configure', processorId: 'step_budget', params: { maxSteps: -3 } }, { op: 'insert', hook: 'task_start', processor: { id: 'x', type: 'no_such_type', params: {} } }]) as never], (i) => `candidates.${i}`);
    expect(problems).toHaveLength(3);
    expect(problems.map((p) => p.split(':')[0])).toEqual(['candidates.0.changes.0', 'candidates.0.changes.1', 'candidates.0.changes.2']);
  });

  test('a schema problem in one candidate and a builder problem in another reach the model in one repair message', async () => {
    const first = JSON.stringify({
      candidates: [proposal([{ op: 'insert', hook: 'not_a_hook', processor: { id: 'x', type: 'loop_detection', params: {} } }]), proposal([{ op: 'remove', processorId: 'ghost' }])],
    });
    const fixed = JSON.stringify({ candidates: [proposal([{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }])] });
    const model = new ScriptedModel([first, fixed]);
    const drafts = await new LlmMetaAgent(model).evolve({ landscape, digest, config: seedHarness(), maxCandidates: 2, round: 1 });
    expect(drafts).toHaveLength(1);
    const repair = model.requests[1].messages.at(-1)!.content;
    expect(repair).toMatch(/candidates\.0\.changes\.0\.hook: /);
    expect(repair).toContain('candidates.1.changes.0: no_such_processor: no processor with id "ghost"');
  });

  test('more schema issues than the old cap of eight are all listed (up to the cap of 30, then counted)', async () => {
    const schema = z.object(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, z.number()])));
    const model = new ScriptedModel(['{}', JSON.stringify(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, i])))]);
    await callStructured({ model, stage: 't', system: 's', user: 'u', schema });
    const repair = model.requests[1].messages.at(-1)!.content;
    for (let i = 0; i < 12; i++) expect(repair).toContain(`- f${i}:`);
    const many = z.object(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`g${i}`, z.number()])));
    const m2 = new ScriptedModel(['{}', '{}']);
    await callStructured({ model: m2, stage: 't', system: 's', user: 'u', schema: many });
    expect(m2.requests[1].messages.at(-1)!.content).toContain('… and 10 more problem(s) of the same reply');
  });
});

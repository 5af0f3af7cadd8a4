import { bundlesInLibrary, CORE_PROCESSOR_TYPES, editOutsideLibrary, typeInLibrary } from '../../aegis/library-scope';
import { LlmMetaAgent, untriedEditTypes } from '../../aegis/llm/llm-meta-agent';
import { withStableContext, PLANNER_SYSTEM } from '../../aegis/llm/prompts';
import type { TriedEdit } from '../../aegis/meta-agent';
import { RuleBasedMetaAgent } from '../../aegis/rule-based-agent';
import { RandomMetaAgent } from '../../aegis/baselines/random-evolver';
import { SingleAgentMetaAgent } from '../../aegis/baselines/single-agent';
import { StageFailure } from '../../aegis/meta-agent';
import { ScriptedModel } from '../helpers/processor-harness';
import { evolveInputSchema } from '../../aegis/run-input';
import { FAILURE_CATEGORIES, type Digest, type FailureCategory } from '../../aegis/types';
import { libraryFlag } from '../../cli/options';
import type { Edit } from '../../harness/builder';
import { harnessId, type HarnessConfig } from '../../harness/config';
import { PROCESSOR_LIBRARY } from '../../harness/processors';
import { seedHarness } from '../../harness/seed';

/** Failing tasks in every failure category, so every catalogue remedy and every exploration option is in play. */
function digestOf(round: number, config: HarnessConfig): Digest {
  const categories = FAILURE_CATEGORIES.filter((c) => c !== 'harness_error') as FailureCategory[];
  return {
    round,
    harnessId: harnessId(config),
    actionability: 1,
    traceTokens: 1,
    digestTokens: 1,
    tasks: [
      ...categories.map((category, i) => ({ taskId: `t${i}`, passed: false, successes: 0, attempts: 2, category, categoryCounts: { [category]: 2 }, implicated: [], evidence: [`attempt 0: ${category}`], history: [] })),
      { taskId: 'ok', passed: true, successes: 2, attempts: 2, category: null, categoryCounts: {}, implicated: [], evidence: [], history: [] },
    ],
  };
}

/** The processor types (and bundles, as "bundle:<name>") an edit brings in. */
const broughtIn = (e: Edit): string[] => (e.op === 'insert' || e.op === 'replace' ? [e.processor.type] : e.op === 'bundle' ? [`bundle:${e.name}`] : []);

/**
 * A rules-agent run without rollouts: each round the agent plans and drafts on the incumbent; every option of
 * the landscape (catalogue and exploration) is recorded as proposed and as tried; the first draft becomes the
 * next incumbent (as if it shipped), so later rounds explore from harnesses that already grew.
 */
async function proposedByRules(library: 'full' | 'core', rounds = 12): Promise<Set<string>> {
  const agent = new RuleBasedMetaAgent('scope-test', library);
  let config = seedHarness();
  const tried: TriedEdit[] = [];
  const proposed = new Set<string>();
  for (let round = 1; round <= rounds; round++) {
    const digest = digestOf(round, config);
    const landscape = await agent.plan({ digest, tried, config });
    for (const o of landscape.options) for (const e of o.edits) broughtIn(e).forEach((t) => proposed.add(t));
    const drafts = await agent.evolve({ landscape, digest, config, maxCandidates: 50, round });
    for (const d of drafts) for (const e of d.manifest.changes) broughtIn(e).forEach((t) => proposed.add(t));
    for (const o of landscape.options) tried.push({ key: o.key, bucket: o.bucket, harnessId: digest.harnessId, outcome: 'rejected: seesaw: no gain' });
    if (!drafts.length) break;
    config = drafts[0].config;
  }
  return proposed;
}

const NEW_TYPES = Object.keys(PROCESSOR_LIBRARY).filter((t) => !CORE_PROCESSOR_TYPES.includes(t));

describe('the processor library switch (run input processorLibrary)', () => {
  test('the core library is the 15 types before #30 plus code; the full library adds the rest', () => {
    expect(CORE_PROCESSOR_TYPES).toHaveLength(16);
    for (const t of CORE_PROCESSOR_TYPES) expect(PROCESSOR_LIBRARY[t]).toBeDefined();
    expect(NEW_TYPES.length).toBeGreaterThanOrEqual(18);
    expect(NEW_TYPES).toContain('context_compaction');
    expect(typeInLibrary('context_compaction', 'core')).toBe(false);
    expect(typeInLibrary('context_compaction', 'full')).toBe(true);
    expect(typeInLibrary('code', 'core')).toBe(true);
    expect(bundlesInLibrary('core')).toBe(false);
  });

  test("with 'core' a rules-agent run never proposes a new-library processor or a bundle", async () => {
    const proposed = await proposedByRules('core');
    expect(proposed.size).toBeGreaterThan(3); // it did propose: core processors
    const outside = [...proposed].filter((t) => t.startsWith('bundle:') || !CORE_PROCESSOR_TYPES.includes(t));
    expect(outside).toEqual([]);
  });

  test("with 'full' (the default) the same run proposes new-library processors", async () => {
    const proposed = await proposedByRules('full');
    expect([...proposed].filter((t) => NEW_TYPES.includes(t)).length).toBeGreaterThan(0);
    // The default is 'full'.
    const byDefault = new RuleBasedMetaAgent('scope-test');
    const config = seedHarness();
    const landscape = await byDefault.plan({ digest: digestOf(1, config), tried: [], config });
    expect(landscape.options.some((o) => o.edits.some((e) => broughtIn(e).some((t) => NEW_TYPES.includes(t))))).toBe(true);
  });

  test("the random baseline draws only core edits with 'core'", async () => {
    const config = seedHarness();
    const digest = digestOf(1, config);
    const types = async (library: 'full' | 'core') => {
      const out = new Set<string>();
      for (let round = 1; round <= 6; round++) for (const d of await new RandomMetaAgent('r', library).evolve({ digest: { ...digest, round }, config, maxCandidates: 16, round })) d.manifest.changes.flatMap(broughtIn).forEach((t) => out.add(t));
      return out;
    };
    expect([...(await types('core'))].filter((t) => !CORE_PROCESSOR_TYPES.includes(t))).toEqual([]);
    expect([...(await types('full'))].some((t) => NEW_TYPES.includes(t))).toBe(true);
  });

  test("the LLM meta-agent's catalogue and untried edits follow the library", () => {
    const full = withStableContext(PLANNER_SYSTEM, { catalogue: true });
    const core = withStableContext(PLANNER_SYSTEM, { catalogue: true, library: 'core' });
    expect(full).toContain('"type":"context_compaction"');
    expect(full).toContain('Bundles (');
    expect(core).not.toContain('"type":"context_compaction"');
    expect(core).not.toContain('Bundles (');
    expect(core).toContain('"type":"loop_detection"');
    expect(core).toMatch(/processor library is "core"/);
    const untriedCore = untriedEditTypes(seedHarness(), [], 'core');
    expect(untriedCore.some((k) => k.startsWith('bundle:'))).toBe(false);
    expect(untriedCore.filter((k) => k.startsWith('insert:')).map((k) => k.slice(7).split('@')[0]).filter((t) => !CORE_PROCESSOR_TYPES.includes(t))).toEqual([]);
    expect(untriedEditTypes(seedHarness(), []).some((k) => k.startsWith('insert:context_compaction@'))).toBe(true);
  });

  test("with 'core' the LLM Evolver's reply is refused when it reaches outside the library, however it tries", () => {
    const config = seedHarness();
    const reply = (changes: Edit[]) => ({ candidates: [{ bucket: 'processor' as const, rationale: 'r', changes, evidence: ['e'], predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] } }], modules: [] });
    const coreInsert: Edit = { op: 'insert', hook: 'before_model', processor: { id: 'loops', type: 'loop_detection', params: {} } };
    const newInsert: Edit = { op: 'insert', hook: 'step_start', processor: { id: 'cc', type: 'context_compaction', params: {} } };
    const bundle: Edit = { op: 'bundle', name: 'reliability' };
    // Accepts a core change; the full library accepts the new type.
    expect(LlmMetaAgent.replyProblems(config, reply([coreInsert]) as never, 4, 'core')).toEqual([]);
    expect(LlmMetaAgent.replyProblems(config, reply([newInsert]) as never, 4, 'full')).toEqual([]);
    // Rejects a new type and a bundle, naming the change and the library.
    expect(LlmMetaAgent.replyProblems(config, reply([coreInsert, newInsert]) as never, 4, 'core')).toEqual([expect.stringMatching(/^candidates\.0\.changes\.1: library: processor type "context_compaction" is not in this run's processor library "core"/)]);
    expect(LlmMetaAgent.replyProblems(config, reply([bundle]) as never, 4, 'core')[0]).toMatch(/bundle "reliability": .*"core", which has no bundles/);
    // An attempt to slip a new type in through a singleton-group replace is refused too.
    expect(editOutsideLibrary({ op: 'replace', processor: { type: 'tool_call_correction' } }, 'core')).toMatch(/tool_call_correction/);
    // Removing or configuring what the harness already has stays allowed.
    expect(editOutsideLibrary({ op: 'remove' }, 'core')).toBeNull();
  });

  test("the LLM meta-agent with 'core': its stages see the narrow catalogue, and a reply reaching outside is sent back to repair", async () => {
    const config = seedHarness();
    const digest = digestOf(1, config);
    const proposal = (type: string, hook: string) => ({ bucket: 'processor', rationale: 'r', changes: [{ op: 'insert', hook, processor: { id: type, type, params: {} } }], evidence: ['e'], predictedImpact: { tasksWillUnlock: ['t0'], stabilize: [], atRisk: [] } });
    const model = new ScriptedModel([
      JSON.stringify({ options: [{ category: 'loop', bucket: 'processor', direction: 'detect loops', editTypes: ['insert:loop_detection@before_model'] }], untriedEditTypes: [] }),
      JSON.stringify({ candidates: [proposal('repeated_action', 'before_model')] }),
      JSON.stringify({ candidates: [proposal('loop_detection', 'before_model')] }),
    ]);
    const agent = new LlmMetaAgent(model, { library: 'core' });
    const landscape = await agent.plan({ digest, tried: [], config });
    const drafts = await agent.evolve({ landscape, digest, config, maxCandidates: 2, round: 1 });
    model.assertConsumed();
    expect(drafts.map((d) => d.editKey)).toEqual(['insert:loop_detection@before_model']);
    const systems = model.requests.map((r) => r.messages.filter((m) => m.role === 'system').map((m) => String(m.content)).join(''));
    for (const system of systems) {
      expect(system).not.toContain('"type":"repeated_action"');
      expect(system).not.toContain('Bundles (');
    }
    const planData = JSON.parse(String(model.requests[0].messages.filter((m) => m.role === 'user').at(-1)!.content));
    expect(JSON.stringify(planData.untriedEditTypes)).not.toMatch(/repeated_action|bundle:/);
    // The repair request names the change and the library.
    expect(JSON.stringify(model.requests[2].messages)).toMatch(/candidates\.0\.changes\.0: library: processor type \\"repeated_action\\" is not in this run's processor library \\"core\\"/);
  });

  test("the single-agent baseline's model is held to the library too", async () => {
    const config = seedHarness();
    const digest = digestOf(1, config);
    const traces = [{ taskId: 't0', harnessId: 'hx', model: 'sim:small', seed: 's', attempt: 0, systemPrompt: '', instruction: 'do it', records: [], success: false, endReason: 'step_budget_exhausted', steps: 3, usage: { inputTokens: 1, outputTokens: 1 } }] as never;
    const reply = JSON.stringify({ candidates: [{ bucket: 'processor', rationale: 'compact', changes: [{ op: 'insert', hook: 'step_start', processor: { id: 'cc', type: 'context_compaction', params: {} } }], evidence: ['long'], predictedImpact: { tasksWillUnlock: ['t0'], stabilize: [], atRisk: [] } }] });
    const run = (library: 'full' | 'core') => new SingleAgentMetaAgent(new ScriptedModel([reply, reply]), library).evolve({ landscape: { editsTried: [] } as never, digest, config, maxCandidates: 1, round: 1, traces });
    expect((await run('full'))[0].editKey).toBe('insert:context_compaction@step_start');
    const refused = await run('core').catch((e) => e);
    expect(refused).toBeInstanceOf(StageFailure);
    expect(String(refused.message)).toMatch(/library: processor type "context_compaction" is not in this run's processor library "core"/);
  });

  test('run input: absent means full (old histories), core is accepted, anything else is refused by name', () => {
    const base = { benchmark: 'blocksworld' };
    expect(evolveInputSchema().parse(base).processorLibrary).toBe('full');
    expect(evolveInputSchema().parse({ ...base, processorLibrary: 'core' }).processorLibrary).toBe('core');
    const bad = evolveInputSchema().safeParse({ ...base, processorLibrary: 'wide' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('processorLibrary');
    expect(libraryFlag(undefined)).toBeUndefined();
    expect(libraryFlag('core')).toBe('core');
    expect(() => libraryFlag('wide')).toThrow(/--library must be one of full, core .*got "wide"/);
  });
});

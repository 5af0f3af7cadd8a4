import { SingleAgentMetaAgent } from '../../aegis/baselines/single-agent';
import { CORE_PROCESSOR_TYPES, editOutsideLibrary } from '../../aegis/library-scope';
import type { TriedEdit } from '../../aegis/meta-agent';
import { isWiderRemedy, remediesFor, widerRemediesFor } from '../../aegis/remedies';
import { buildLandscape, draftCandidates, rankCandidates } from '../../aegis/rule-based-agent';
import { FAILURE_CATEGORIES } from '../../aegis/types';
import type { Candidate, Digest, FailureCategory, Remedy } from '../../aegis/types';
import { applyEdits, Edit } from '../../harness/builder';
import { harnessId, HarnessConfig } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { categoryDigest } from '../helpers/category-digest';
import type { EpisodeTrace } from '../../harness/trace';

/**
 * The rules meta-agent reaches the wider processor library (#30): with the full library each failure
 * category's catalogue offers new processors and bundles after its core remedies; with the core library it
 * offers exactly what it did before the library grew; the Planner, Critic and single-agent baseline put
 * every core remedy before any wider one.
 */

const seed = seedHarness();
const seedId = harnessId(seed);
const keys = (rs: Remedy[]) => rs.map((r) => r.key);
const apply = (config: HarnessConfig, edits: Edit[]) => {
  const r = applyEdits(config, edits);
  if (!r.ok) throw new Error(`${r.error.rule}: ${r.error.message}`);
  return r.config;
};

/** What the catalogue offered before #30, per category, on the seed harness (aegis/remedies.ts at 6a5f56c). */
const BEFORE: Record<FailureCategory, string[]> = {
  format_error: ['insert:format_repair@after_model', 'insert:arg_validation@before_tool', expect.stringMatching(/^configure:system_prompt:/) as unknown as string, 'insert:tool_docs@task_start', 'insert:few_shot@task_start'],
  invalid_action: ['insert:admissible_actions@before_model', 'insert:observation_format@after_tool', 'insert:few_shot@task_start'],
  loop: ['insert:loop_detection@before_model', 'insert:notes@before_model'],
  no_progress: ['insert:plan_then_act@before_model', expect.stringMatching(/^configure:step_budget:/) as unknown as string, 'insert:notes@before_model'],
  transient_tool_error: ['insert:tool_retry@after_tool'],
  long_context: ['insert:episode_summary@step_start'],
  wrong_outcome: ['insert:plan_then_act@before_model', 'insert:tool_docs@task_start', 'insert:few_shot@task_start'],
  harness_error: [],
};

/** What the full library adds after them on the seed harness. */
const WIDER: Record<FailureCategory, string[]> = {
  format_error: ['insert:parse_retry@after_model', 'insert:tool_call_correction@before_tool', 'bundle:reliability@1'],
  invalid_action: ['insert:tool_failure_guard@after_tool'],
  loop: ['insert:repeated_action@before_model', 'bundle:control@1'],
  no_progress: ['insert:todo_tracking@before_model', 'bundle:control@1'],
  transient_tool_error: [],
  long_context: ['insert:context_compaction@step_start', 'bundle:context@1'],
  wrong_outcome: ['insert:self_verify@after_model', 'insert:episodic_memory@task_start+insert:episodic_memory@task_end', 'bundle:coding@1', 'bundle:contrarian@1'],
  harness_error: [],
};

describe('rules catalogue: the wider library after the core remedies', () => {
  test.each(FAILURE_CATEGORIES)('%s: core keeps the old catalogue; full appends the new processors and bundles after it', (category) => {
    const core = remediesFor(category, seed, 'core');
    const full = remediesFor(category, seed, 'full');
    expect(keys(core)).toEqual(BEFORE[category]);
    expect(keys(full)).toEqual([...BEFORE[category], ...WIDER[category]]);
    // The split is exactly core-then-wider: no wider remedy before a core one.
    expect(full.map(isWiderRemedy)).toEqual([...BEFORE[category].map(() => false), ...WIDER[category].map(() => true)]);
    // With core nothing reaches outside it: no new type, no bundle.
    for (const r of core) for (const e of r.edits) expect(editOutsideLibrary(e, 'core')).toBeNull();
    expect(widerRemediesFor(category, seed, 'core')).toEqual([]);
    // Every offered remedy applies to the harness it is offered for.
    for (const r of full) expect(applyEdits(seed, r.edits).ok).toBe(true);
  });

  test('the catalogue with the full library reaches new types across its categories, each a real library type', () => {
    const newTypes = new Set(
      FAILURE_CATEGORIES.flatMap((c) => widerRemediesFor(c, seed)).flatMap((r) => r.edits.flatMap((e) => (e.op === 'insert' || e.op === 'replace' ? [e.processor.type] : []))),
    );
    expect([...newTypes].sort()).toEqual(['context_compaction', 'episodic_memory', 'parse_retry', 'repeated_action', 'self_verify', 'todo_tracking', 'tool_call_correction', 'tool_failure_guard']);
    for (const t of newTypes) expect(CORE_PROCESSOR_TYPES).not.toContain(t);
  });

  test('a type in a singleton group the harness holds is swapped in by replace, and the core insert it would block is not offered', () => {
    const withCore = apply(seed, [
      { op: 'insert', hook: 'before_tool', processor: { id: 'arg_validation', type: 'arg_validation', params: {} } },
      { op: 'insert', hook: 'step_start', processor: { id: 'episode_summary', type: 'episode_summary', params: {} } },
    ]);
    expect(keys(remediesFor('format_error', withCore))).toContain('replace:arg_validation->tool_call_correction@before_tool');
    expect(keys(remediesFor('long_context', withCore))).toEqual(['replace:history_window->context_compaction@step_start', 'bundle:context@1']);
    for (const c of ['format_error', 'long_context'] as const) for (const r of remediesFor(c, withCore)) expect(applyEdits(withCore, r.edits).ok).toBe(true);
    // Once tool_call_correction holds the arg_validation group, inserting arg_validation cannot apply: not offered.
    const corrected = apply(withCore, remediesFor('format_error', withCore).find((r) => r.key.includes('tool_call_correction'))!.edits);
    expect(keys(remediesFor('format_error', corrected))).not.toContain('insert:arg_validation@before_tool');
    for (const r of remediesFor('format_error', corrected)) expect(applyEdits(corrected, r.edits).ok).toBe(true);
  });

  test('a remedy whose type is present, or a bundle whose members all are, is not offered again', () => {
    const all = apply(seed, [{ op: 'bundle', name: 'control' }]);
    expect(keys(remediesFor('loop', all))).toEqual(['insert:notes@before_model']);
    const verified = apply(seed, [{ op: 'insert', hook: 'after_model', processor: { id: 'sv', type: 'self_verify', params: {} } }]);
    expect(keys(remediesFor('wrong_outcome', verified))).not.toContain('insert:self_verify@after_model');
  });
});

/** A digest of failing tasks, each with one category (plus one passing task). */
const digestOf = (failing: Array<[string, FailureCategory]>, round = 3): Digest => categoryDigest(seedId, round, failing);
const digest = digestOf([['f1', 'format_error'], ['f2', 'format_error'], ['l1', 'loop'], ['w1', 'wrong_outcome']]);
const categories: FailureCategory[] = ['format_error', 'loop', 'wrong_outcome'];
const triedAll = (library: 'core' | 'full', wider: boolean): TriedEdit[] =>
  categories.flatMap((c) => remediesFor(c, seed, library)).filter((r) => wider || !isWiderRemedy(r)).map((r) => ({ key: r.key, bucket: r.bucket, harnessId: seedId, outcome: 'rejected: no gain' }));
const asCandidates = (drafts: ReturnType<typeof draftCandidates>): Candidate[] => drafts.map(({ config, ...c }) => ({ ...c, harnessId: harnessId(config) }));

describe('rules Planner and Critic: every core remedy before any wider one', () => {
  test('a fresh round: the full landscape starts with the core landscape\'s catalogue options, in the same order; the wider ones follow', () => {
    const core = buildLandscape(digest, [], seed, seedId, 'w', 'core').options;
    const full = buildLandscape(digest, [], seed, seedId, 'w', 'full').options;
    const coreCatalogue = core.filter((o) => !o.exploration);
    expect(keys(full.slice(0, coreCatalogue.length))).toEqual(keys(coreCatalogue));
    // Interleaving alone would have put loop's repeated_action (depth 2) before format_error's later core remedies.
    const widerAt = full.findIndex((o) => isWiderRemedy(o) && !o.exploration);
    expect(widerAt).toBe(coreCatalogue.length);
    expect(keys(full.slice(widerAt, widerAt + 3))).toEqual(['insert:parse_retry@after_model', 'insert:repeated_action@before_model', 'insert:self_verify@after_model']);
    // The drafted candidates of a round with four slots are the same with either library.
    expect(draftCandidates({ ...buildLandscape(digest, [], seed, seedId, 'w', 'full') }, seed, 4, 3, digest).map((d) => d.editKey)).toEqual(
      draftCandidates(buildLandscape(digest, [], seed, seedId, 'w', 'core'), seed, 4, 3, digest).map((d) => d.editKey),
    );
    // Core never offers a new type or bundle, exploration included.
    for (const o of core) for (const e of o.edits) expect(editOutsideLibrary(e, 'core')).toBeNull();
  });

  test('core remedies exhausted: full offers the wider remedies before exploring; core goes straight to exploration', () => {
    const tried = triedAll('core', false);
    const full = buildLandscape(digest, tried, seed, seedId, 'w', 'full').options;
    const core = buildLandscape(digest, tried, seed, seedId, 'w', 'core').options;
    expect(core.every((o) => o.exploration)).toBe(true);
    const catalogue = full.filter((o) => !o.exploration);
    expect(catalogue.length).toBeGreaterThan(0);
    expect(catalogue.every(isWiderRemedy)).toBe(true);
    expect(full.findIndex((o) => o.exploration)).toBe(catalogue.length);
    expect(keys(catalogue)).toEqual(['insert:parse_retry@after_model', 'insert:repeated_action@before_model', 'insert:self_verify@after_model', 'insert:tool_call_correction@before_tool', 'bundle:control@1', 'insert:episodic_memory@task_start+insert:episodic_memory@task_end', 'bundle:reliability@1', 'bundle:coding@1', 'bundle:contrarian@1']);
    // A wider remedy already tried on the incumbent is not proposed again; trying them all leaves exploration.
    const afterWider = buildLandscape(digest, triedAll('full', true), seed, seedId, 'w', 'full').options;
    expect(afterWider.every((o) => o.exploration)).toBe(true);
  });

  test('the Critic gates a core remedy before a wider one even when the wider one claims more tasks', () => {
    const full = buildLandscape(digest, triedAll('core', false).filter((t) => t.key !== 'insert:notes@before_model'), seed, seedId, 'w', 'full');
    // Options: notes (loop, one task) and the wider ones; put the wider format_error remedy (two tasks) first to try to fool the ranking.
    const notes = full.options.find((o) => o.key === 'insert:notes@before_model')!;
    const parse = full.options.find((o) => o.key === 'insert:parse_retry@after_model')!;
    const drafts = draftCandidates({ ...full, options: [parse, notes] }, seed, 2, 3, digest);
    const candidates = asCandidates(drafts);
    expect(candidates.map((c) => c.editKey)).toEqual(['insert:parse_retry@after_model', 'insert:notes@before_model']);
    expect(candidates[0].manifest.predictedImpact.tasksWillUnlock).toEqual(['f1', 'f2']);
    const critique = rankCandidates(candidates, digest, {});
    expect(critique.decision === 'ship_ranking' && critique.ranking).toEqual([candidates[1].candidateId, candidates[0].candidateId]);
    // Between two wider remedies the score still decides (two tasks over one).
    const loopWider = full.options.find((o) => o.key === 'insert:repeated_action@before_model')!;
    const two = asCandidates(draftCandidates({ ...full, options: [loopWider, parse] }, seed, 2, 3, digest));
    const ranked = rankCandidates(two, digest, {});
    expect(ranked.decision === 'ship_ranking' && ranked.ranking).toEqual([two[1].candidateId, two[0].candidateId]);
  });
});

describe('single-agent baseline without a model: core remedies of every category, then the wider ones', () => {
  /** Failed traces whose signals are format errors (bad arguments) and, fewer, loops. */
  const traces = [
    {
      taskId: 'f1',
      attempt: 0,
      success: false,
      endReason: 'step_budget_exhausted',
      instruction: 'x',
      steps: 2,
      records: [
        { kind: 'tool_call', step: 1, call: { id: 'a', name: 'stack', args: {} }, result: { ok: false, output: 'bad', errorKind: 'bad_arguments' } },
        { kind: 'tool_call', step: 2, call: { id: 'b', name: 'stack', args: {} }, result: { ok: false, output: 'bad', errorKind: 'bad_arguments' } },
      ],
    },
  ] as unknown as EpisodeTrace[];
  const pick = async (library: 'core' | 'full', tried: string[]) => {
    const agent = new SingleAgentMetaAgent(null, library);
    const landscape = { ...(await agent.plan({ digest, tried: [], config: seed })), editsTried: tried.map((key) => ({ key, outcome: 'rejected: no gain' })) };
    return (await agent.evolve({ landscape, digest, config: seed, maxCandidates: 1, round: 3, traces })).map((d) => d.editKey);
  };
  const coreKeys = [...keys(remediesFor('format_error', seed, 'core')), ...keys(remediesFor('no_progress', seed, 'core'))];

  test('first choice is the same with either library; with core remedies tried, full picks a wider one and core none', async () => {
    expect(await pick('full', [])).toEqual(await pick('core', []));
    expect(await pick('full', [])).toEqual(['insert:format_repair@after_model']);
    // format_error's core remedies tried: the next category's core remedy, not format_error's wider one.
    expect(await pick('full', keys(remediesFor('format_error', seed, 'core')))).toEqual(['insert:plan_then_act@before_model']);
    expect(await pick('full', coreKeys)).toEqual(['insert:parse_retry@after_model']);
    expect(await pick('core', coreKeys)).toEqual([]);
  });
});

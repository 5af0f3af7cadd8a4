import { digestTraces, episodeSignals } from '../../aegis/digester';
import { digestNoOpReason } from '../../aegis/round-decisions';
import { checkCanonicalForm, checkManifest, seesaw } from '../../aegis/gate';
import type { TaskOutcome } from '../../aegis/rollout';
import { buildLandscape, draftCandidates, rankCandidates } from '../../aegis/rule-based-agent';
import { seededSample } from '../../aegis/sampling';
import { anyOf, maxRounds, patience, stopRequested, tokenBudget, usdBudget } from '../../aegis/stop';
import type { Candidate } from '../../aegis/types';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace, TraceRecord } from '../../harness/trace';

const seed = seedHarness();
const seedId = harnessId(seed);

function trace(taskId: string, success: boolean, records: TraceRecord[], endReason: EpisodeTrace['endReason'] = success ? 'goal_reached' : 'step_budget_exhausted'): EpisodeTrace {
  return { taskId, harnessId: seedId, model: 'sim:small', seed: 's', attempt: 0, systemPrompt: '', instruction: '', records, steps: 5, endReason, success, reward: success ? 1 : 0, usage: { inputTokens: 10, outputTokens: 2 }, durationMs: 1 };
}
const tool = (step: number, errorKind: 'precondition' | 'bad_arguments' | 'transient' | undefined, output = 'x'): TraceRecord => ({
  kind: 'tool_call', step, call: { id: `${step}`, name: 'pick_up', args: { block: 'red' } }, approved: true, result: { ok: !errorKind, output, errorKind },
});
const outcome = (taskId: string, passed: boolean): TaskOutcome => ({ taskId, passed, successes: passed ? 1 : 0, attempts: 1 });

describe('digester', () => {
  it('classifies failures from trace signals and links history across rounds', () => {
    expect(episodeSignals(trace('a', false, [tool(1, 'precondition'), tool(2, 'precondition'), tool(3, 'bad_arguments')])).counts).toEqual({ invalid_action: 2, format_error: 1, no_progress: 1 });
    const loopy = [tool(1, undefined, 'ok\nCurrent state: A'), tool(2, undefined, 'ok\nCurrent state: B'), tool(3, undefined, 'ok\nCurrent state: A')];
    expect(episodeSignals(trace('b', false, loopy)).counts.loop).toBe(1);

    const traces = [trace('a', false, [tool(1, 'precondition'), tool(2, 'precondition')]), trace('b', true, [tool(1, undefined)]), trace('c', false, [tool(1, 'bad_arguments')])];
    const outcomes = [outcome('a', false), outcome('b', true), outcome('c', false)];
    const r1 = digestTraces({ round: 1, harnessId: seedId, config: seed, traces, outcomes, previous: null });
    expect(r1.tasks.map((t) => [t.taskId, t.category])).toEqual([['a', 'invalid_action'], ['b', null], ['c', 'format_error']]);
    expect(r1.tasks[0].implicated).toContain('missing:admissible_actions');
    expect(r1.tasks[0].evidence[0]).toMatch(/attempt 0: step 1: pick_up/);
    expect(r1.actionability).toBeCloseTo(2 / 3);
    const r2 = digestTraces({ round: 2, harnessId: seedId, config: seed, traces, outcomes, previous: r1 });
    expect(r2.tasks[0].history).toEqual([{ round: 1, passed: false, category: 'invalid_action' }, { round: 2, passed: false, category: 'invalid_action' }]);
    expect(r1.traceTokens).toBeGreaterThan(0);
  });
});

describe('failures the trace signals do not explain', () => {
  // A real model on a user suite: it answers cleanly, the verifier says the answer is wrong. No tool error, no budget.
  const clean = (taskId: string, success: boolean) => trace(taskId, success, [tool(1, undefined, 'ok')], 'goal_reached');

  it('are failures: category wrong_outcome, counted as failing, so the round is not a no-op', () => {
    expect(episodeSignals(clean('a', false)).counts).toEqual({ wrong_outcome: 1 });
    expect(episodeSignals(clean('a', false)).evidence[0]).toMatch(/verifier failed it \(a wrong final answer or state\)/);
    // A passing episode is not a failure, and a failure with another signal is not called wrong_outcome.
    expect(episodeSignals(clean('a', true)).counts).toEqual({});
    expect(episodeSignals(trace('a', false, [tool(1, 'precondition')], 'goal_reached')).counts).toEqual({ invalid_action: 1 });

    const digest = digestTraces({ round: 1, harnessId: seedId, config: seed, traces: [clean('a', false), clean('b', true)], outcomes: [outcome('a', false), outcome('b', true)], previous: null });
    expect(digest.tasks.map((t) => [t.taskId, t.category])).toEqual([['a', 'wrong_outcome'], ['b', null]]);
    expect(digest.actionability).toBeCloseTo(1 / 2);
    expect(digestNoOpReason({ failing: digest.tasks.filter((t) => t.category !== null).length, actionability: digest.actionability }, 0.3)).toBeNull();
    // Remedies exist for it, so the rule-based planner has options.
    expect(buildLandscape(digest, [], seed, seedId).categories.map((c) => c.category)).toEqual(['wrong_outcome']);
    expect(buildLandscape(digest, [], seed, seedId).options.length).toBeGreaterThan(0);
  });

  it('a failed task with no traces to read is still a failure', () => {
    const digest = digestTraces({ round: 1, harnessId: seedId, config: seed, traces: [], outcomes: [outcome('a', false)], previous: null });
    expect(digest.tasks[0].category).toBe('wrong_outcome');
  });
});

describe('planner, evolver and critic (rule-based)', () => {
  const traces = [trace('a', false, [tool(1, 'precondition'), tool(2, 'precondition')]), trace('c', false, [tool(1, 'bad_arguments')]), trace('d', false, [tool(1, 'bad_arguments')])];
  const digest = digestTraces({ round: 1, harnessId: seedId, config: seed, traces, outcomes: [outcome('a', false), outcome('c', false), outcome('d', false)], previous: null });

  it('builds a landscape of untried remedies, interleaved across categories', () => {
    const landscape = buildLandscape(digest, [], seed, seedId);
    expect(landscape.categories.map((c) => c.category)).toEqual(['format_error', 'invalid_action', 'no_progress']);
    expect(landscape.options.slice(0, 3).map((o) => o.key)).toEqual(['insert:format_repair@after_model', 'insert:admissible_actions@before_model', 'insert:plan_then_act@before_model']);
    expect(landscape.untriedBuckets).toEqual(['prompt', 'tools', 'config', 'processor']);
    const tried = buildLandscape(digest, [{ key: 'insert:format_repair@after_model', bucket: 'processor', harnessId: seedId, outcome: 'rejected' }], seed, seedId);
    expect(tried.options.map((o) => o.key)).not.toContain('insert:format_repair@after_model');
    expect(tried.untriedBuckets).toEqual(['prompt', 'tools', 'config']);
    // A rejection on another incumbent does not block the edit here.
    expect(buildLandscape(digest, [{ key: 'insert:format_repair@after_model', bucket: 'processor', harnessId: 'hx-0000000000000000', outcome: 'rejected' }], seed, seedId).options[0].key).toBe('insert:format_repair@after_model');
  });

  it('drafts candidates with complete manifests and ranks them by supported evidence', () => {
    const landscape = buildLandscape(digest, [], seed, seedId);
    const drafts = draftCandidates(landscape, seed, 3, 1, digest);
    expect(drafts).toHaveLength(3);
    const candidates: Candidate[] = drafts.map(({ config, ...c }) => ({ ...c, harnessId: harnessId(config) }));
    for (const c of candidates) expect(checkManifest(c).passed).toBe(true);
    expect(candidates[0].manifest.predictedImpact.tasksWillUnlock).toEqual(['c', 'd']);
    const critique = rankCandidates(candidates, digest, {});
    expect(critique).toEqual(expect.objectContaining({ decision: 'ship_ranking' }));
    // plan_then_act (r1-c3) claims all three failing tasks (each also ran out of steps): the most supported.
    if (critique.decision === 'ship_ranking') expect(critique.ranking).toEqual(['r1-c3', 'r1-c1', 'r1-c2']);
    const unsupported = candidates.map((c) => ({ ...c, manifest: { ...c.manifest, predictedImpact: { tasksWillUnlock: ['zzz'], stabilize: [], atRisk: [] } } }));
    expect(rankCandidates(unsupported, digest, {}).decision).toBe('no_op');
  });
});

describe('deterministic gate', () => {
  const landscape = buildLandscape(digestTraces({ round: 1, harnessId: seedId, config: seed, traces: [trace('c', false, [tool(1, 'bad_arguments')])], outcomes: [outcome('c', false)], previous: null }), [], seed, seedId);
  const [draft] = draftCandidates(landscape, seed, 1, 1);
  const candidate: Candidate = { ...(({ config: _c, ...rest }) => rest)(draft), harnessId: harnessId(draft.config) };

  it('checks manifest completeness', () => {
    expect(checkManifest(candidate).passed).toBe(true);
    expect(checkManifest({ ...candidate, manifest: { ...candidate.manifest, capabilityEvidence: [] } })).toEqual(expect.objectContaining({ passed: false, detail: expect.stringContaining('capabilityEvidence') }));
    expect(checkManifest({ ...candidate, candidateId: 'other' }).passed).toBe(false);
  });

  it('checks that the manifest changes produce exactly the candidate config', () => {
    expect(checkCanonicalForm(seed, candidate, draft.config).passed).toBe(true);
    expect(checkCanonicalForm(seed, { ...candidate, harnessId: 'hx-0000000000000000' }, draft.config).detail).toMatch(/recorded as/);
    const sneaky = { ...draft.config, hooks: { ...draft.config.hooks, step_end: [] } };
    expect(checkCanonicalForm(seed, { ...candidate, harnessId: harnessId(sneaky) }, sneaky).detail).toMatch(/differs from the manifest/);
    expect(checkCanonicalForm(seed, { ...candidate, manifest: { ...candidate.manifest, changes: [{ op: 'remove', processorId: 'ghost' }] } }, draft.config).detail).toMatch(/no_such_processor/);
  });

  it('seesaw: rejects regressions, requires a gain, and clears regressions that confirmation attempts solve', () => {
    const inc = [outcome('a', true), outcome('b', false), outcome('c', false)];
    expect(seesaw(inc, [outcome('a', true), outcome('b', true), outcome('c', false)], 1)).toEqual(expect.objectContaining({ passed: true, unlocked: ['b'] }));
    expect(seesaw(inc, [outcome('a', false), outcome('b', true), outcome('c', true)], 1)).toEqual(expect.objectContaining({ passed: false, regressions: ['a'] }));
    expect(seesaw(inc, [outcome('a', true), outcome('b', false), outcome('c', false)], 1)).toEqual(expect.objectContaining({ passed: false, detail: expect.stringMatching(/no gain/) }));
    expect(seesaw(inc, [outcome('a', false), outcome('b', true), outcome('c', true)], 1, [outcome('a', true)])).toEqual(expect.objectContaining({ passed: true, regressions: [] }));
  });
});

describe('stop conditions and sampling', () => {
  it('compose and report the first reason', () => {
    const stop = anyOf(stopRequested, maxRounds(5), patience(2));
    expect(stop({ round: 1, roundsWithoutShip: 0, stopRequested: false })).toBeNull();
    expect(stop({ round: 5, roundsWithoutShip: 0, stopRequested: false })).toMatch(/5 rounds/);
    expect(stop({ round: 2, roundsWithoutShip: 2, stopRequested: false })).toMatch(/patience/);
    expect(stop({ round: 2, roundsWithoutShip: 2, stopRequested: true })).toBe('stop requested');
  });
  it('samples deterministically per key', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `t${i}`);
    expect(seededSample(ids, 10, 'k|1')).toEqual(seededSample(ids, 10, 'k|1'));
    expect(seededSample(ids, 10, 'k|1')).not.toEqual(seededSample(ids, 10, 'k|2'));
    expect(new Set(seededSample(ids, 10, 'k|1')).size).toBe(10);
  });
});

describe('budget stop conditions', () => {
  it('stop on tokens or USD, and never on unpriced spend', () => {
    const p = { round: 1, roundsWithoutShip: 0, stopRequested: false };
    expect(tokenBudget(100)({ ...p, tokens: 99 })).toBeNull();
    expect(tokenBudget(100)({ ...p, tokens: 100 })).toBe('budget exhausted: 100 of 100 tokens');
    expect(tokenBudget(undefined)({ ...p, tokens: 1e9 })).toBeNull();
    expect(usdBudget(2)({ ...p, costUsd: 2.5 })).toBe('budget exhausted: $2.5000 of $2');
    expect(usdBudget(2)({ ...p, costUsd: null })).toBeNull();
  });
});

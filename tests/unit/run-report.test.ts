import { buildLineage } from '../../aegis/lineage';
import type { Candidate, Digest, TaskDigest } from '../../aegis/types';
import { parseHarnessConfig } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { buildReport } from '../../report/build-report';
import { classifyOutcome, editDiff, failureOf, lineageScores, readableTaskName, roundTimes, shippedEffects, taskRows, textDiff } from '../../report/run-details';
import { syntheticAudit } from '../helpers/synthetic-audit';

const task = (taskId: string, passed: boolean, extra: Partial<TaskDigest> = {}): TaskDigest => ({
  taskId,
  passed,
  successes: passed ? 2 : 0,
  attempts: 2,
  category: passed ? null : 'loop',
  categoryCounts: {},
  implicated: [],
  evidence: passed ? [] : ['attempt 0: step 3: click[Buy Now] returned to an earlier state', 'attempt 1: step 5: search → no results'],
  history: [],
  ...extra,
});
const digest = (round: number, tasks: TaskDigest[]): Digest => ({ round, harnessId: `hx-${round}`, tasks, actionability: 1, traceTokens: 0, digestTokens: 0 });

const prompted = (template: string) => {
  const h = seedHarness();
  return parseHarnessConfig({ ...h, hooks: { ...h.hooks, task_start: [{ id: 'system_prompt', type: 'system_prompt', params: { template } }] } });
};

const candidate: Candidate = {
  candidateId: 'r1-c2',
  harnessId: 'hx-r1',
  editKey: 'tools:retry-search',
  bucket: 'prompt',
  manifest: {
    candidateId: 'r1-c2',
    bucket: 'prompt',
    capabilityEvidence: ['webshop/a: attempt 0: step 2: search → no results'],
    changes: [{ op: 'configure', id: 'system_prompt', params: { template: 'x' } } as never],
    predictedImpact: { tasksWillUnlock: ['webshop/a', 'webshop/c'], stabilize: [], atRisk: [] },
    attributionSignature: 'no_progress→system_prompt|few_shot: retry the search with fewer words',
  },
};

describe('the run report: shipped edits', () => {
  it("measures each ship's effect: gate counts, train batch this round → next, validation and test previous end → this end", () => {
    const [e] = shippedEffects(syntheticAudit(), new Map([[candidate.candidateId, candidate]]));
    expect(e).toMatchObject({ round: 1, candidateId: 'r1-c2', editKey: 'tools:retry-search', to: 'hx-r1', shared: false });
    expect(e.gate).toEqual({ incumbentPassed: 9, candidatePassed: 13, gateTasks: 30, unlocked: ['webshop/a', 'webshop/b'] });
    expect(e.train).toEqual({ before: 0.4, after: 0.55 });
    // Round 1 has no earlier round end: test before is the seed harness's, validation before is unknown.
    expect(e.test).toEqual({ before: 0.4, after: 0.45 });
    expect(e.validation).toEqual({ before: null, after: 0.5 });
    expect(e.rationale).toBe('retry the search with fewer words (against no_progress failures)');
    // Any other signature (an LLM meta-agent's) is shown as written.
    const llm = { ...candidate, manifest: { ...candidate.manifest, attributionSignature: 'The agent gives up after one empty search; a retry rule fixes it.' } };
    expect(shippedEffects(syntheticAudit(), new Map([[llm.candidateId, llm]]))[0].rationale).toBe('The agent gives up after one empty search; a retry rule fixes it.');
    expect(e.predictedUnlocks).toEqual(['webshop/a', 'webshop/c']);
  });

  it('says when another ship or a rollback shares the round, and has no rationale without a manifest', () => {
    const audit = syntheticAudit();
    const ship = audit.find((r) => r.stage === 'ship')!;
    audit.splice(audit.indexOf(ship) + 1, 0, { ...ship, key: 'second', candidateId: 'r1-c3', harnessId: 'hx-r1b', payload: { ...ship.payload, from: 'hx-r1', editKey: 'config:steps' } });
    const effects = shippedEffects(audit);
    expect(effects.map((e) => e.shared)).toEqual([true, true]);
    expect(effects[0].rationale).toBeNull();
  });

  it('diffs a prompt edit word by word, as the diff command lists it', () => {
    const d = editDiff(prompted('You are a shopper. Search, then buy.'), prompted('You are a careful shopper. Search with few words, then buy.'));
    expect(d.lines).toContain('~ task_start: system_prompt.template:');
    expect(d.texts).toHaveLength(1);
    expect(d.texts[0].where).toBe('task_start: system_prompt.template');
    const added = d.texts[0].parts.filter((p) => p.op === 'add').map((p) => p.text);
    const removed = d.texts[0].parts.filter((p) => p.op === 'del').map((p) => p.text);
    // Words carry their punctuation: "Search," and "Search" differ.
    expect(added.join('|')).toBe('careful |Search with few words, ');
    expect(removed.join('|')).toBe('Search, ');
    // Joining the kept and added parts gives the new text back; kept and removed, the old one.
    expect(d.texts[0].parts.filter((p) => p.op !== 'del').map((p) => p.text).join('')).toBe('You are a careful shopper. Search with few words, then buy.');
    expect(d.texts[0].parts.filter((p) => p.op !== 'add').map((p) => p.text).join('')).toBe('You are a shopper. Search, then buy.');
    // A processor edit has no text to diff.
    expect(editDiff(seedHarness(), seedHarness()).texts).toEqual([]);
  });

  it('diffs multi-line prompts by line', () => {
    const parts = textDiff('rules:\nbe brief\nbuy once\n', 'rules:\nbe thorough\nbuy once\n');
    expect(parts).toEqual([
      { op: 'same', text: 'rules:\n' },
      { op: 'del', text: 'be brief\n' },
      { op: 'add', text: 'be thorough\n' },
      { op: 'same', text: 'buy once\n' },
    ]);
  });

  it('renders each shipped edit with its measured effect, its reason and its prompt diff', () => {
    const audit = syntheticAudit();
    const ship = audit.find((r) => r.stage === 'ship')!;
    ship.payload.from = 'hx-seed';
    const html = buildReport({
      runId: 'evolve-webshop-demo',
      audit,
      digests: new Map(),
      shippedCandidates: new Map([[candidate.candidateId, candidate]]),
      harnesses: new Map([
        ['hx-seed', prompted('Buy the item.')],
        ['hx-r1', prompted('Buy the cheapest matching item.')],
      ]),
    });
    expect(html).toContain('9 → 13 of 30 gate tasks');
    expect(html).toContain('40.0% → 55.0% <span class="up">(+15.0 pts)</span>');
    expect(html).toContain('40.0% → 45.0% <span class="up">(+5.0 pts)</span>');
    expect(html).toContain('retry the search with fewer words (against no_progress failures)');
    expect(html).toContain('<ins>cheapest matching </ins>');
    expect(html).toContain('Predicted unlocks 2, actual 2, both 1.');
  });
});

describe('the run report: tasks', () => {
  it('classifies a task by its rounds in order', () => {
    expect(classifyOutcome([false, true])).toBe('unlocked');
    expect(classifyOutcome([false, false, true, true])).toBe('unlocked');
    expect(classifyOutcome([true, false])).toBe('regressed');
    expect(classifyOutcome([true, false, true])).toBe('flaky');
    expect(classifyOutcome([false, true, false])).toBe('flaky');
    expect(classifyOutcome([true])).toBe('always solved');
    expect(classifyOutcome([false, false])).toBe('never solved');
  });

  it('names a task by its goal, not its hash; by its id when there is no goal', () => {
    expect(readableTaskName('webshop/1075968781-8abd4a61', 'i need a long sleeve shirt in navy, price lower than 40.00 dollars')).toBe('I need a long sleeve shirt in navy, price lower than 40.00 dollars');
    expect(readableTaskName('blocksworld/instance-152', 'As initial conditions I have that, the hand is empty.\nMy goal is to have that the orange block is on top of the blue block.\n\nAct one step at a time.')).toBe('The orange block is on top of the blue block.');
    expect(readableTaskName('blocksworld/instance-152')).toBe('instance-152');
    expect(readableTaskName('webshop/1075968781-8abd4a61')).toBe('webshop/1075968781-8abd4a61');
    expect(readableTaskName('x/1', 'a'.repeat(200))).toHaveLength(80);
  });

  it('finds the step an attempt failed at in the evidence', () => {
    expect(failureOf(['attempt 0: step 3: click[Buy Now] returned to an earlier state'])).toEqual({ step: 3, text: 'click[Buy Now] returned to an earlier state' });
    expect(failureOf(['model reply had no tool call'])).toEqual({ step: null, text: 'model reply had no tool call' });
    expect(failureOf([])).toBeNull();
  });

  it('sorts tasks by outcome (unlocked, regressed, flaky, never, always solved), then by name', () => {
    const rows = taskRows(
      new Map([
        [1, digest(1, [task('t/always', true, { goal: 'Zebra task' }), task('t/unlock', false, { goal: 'Unlock me' }), task('t/regress', true, { goal: 'Regress me' }), task('t/never-b', false, { goal: 'B never' }), task('t/never-a', false, { goal: 'A never' })])],
        [2, digest(2, [task('t/unlock', true), task('t/regress', false)])],
      ]),
    );
    expect(rows.map((r) => [r.taskId, r.outcome])).toEqual([
      ['t/unlock', 'unlocked'],
      ['t/regress', 'regressed'],
      ['t/never-a', 'never solved'],
      ['t/never-b', 'never solved'],
      ['t/always', 'always solved'],
    ]);
    expect(rows[1].cells[1].failure).toEqual({ step: 3, text: 'click[Buy Now] returned to an earlier state' });
    expect(rows[1].cells[0].failure).toBeNull();
  });

  it('renders the heat map with readable names, outcome groups and the failing step on hover', () => {
    const html = buildReport({
      runId: 'evolve-webshop-demo',
      audit: syntheticAudit(),
      digests: new Map([
        [1, digest(1, [task('webshop/1075968781-8abd4a61', false, { goal: 'i need a navy shirt' })])],
        [2, digest(2, [task('webshop/1075968781-8abd4a61', true)])],
      ]),
      shippedCandidates: new Map(),
    });
    expect(html).toContain('<summary>unlocked (1)</summary>');
    expect(html).toMatch(/title="webshop\/1075968781-8abd4a61\ni need a navy shirt">I need a navy shirt<\/td>/);
    expect(html).toContain('title="round 1: failed (0/2 attempts) · loop · failed at step 3: click[Buy Now] returned to an earlier state"');
    expect(html).not.toMatch(/>webshop\/1075968781-8abd4a61</);
  });
});

describe('the run report: lineage and timing', () => {
  it("scores each version: the seed's test, a ship's gate counts with its round's validation and test", () => {
    const audit = syntheticAudit();
    const scores = lineageScores(audit, buildLineage(audit));
    expect(scores.get('hx-seed')).toEqual({ gate: null, validation: null, test: 0.4 });
    expect(scores.get('hx-r1')).toEqual({ gate: { incumbentPassed: 9, candidatePassed: 13, gateTasks: 30 }, validation: 0.5, test: 0.45 });
    const html = buildReport({ runId: 'evolve-webshop-demo', audit, digests: new Map(), shippedCandidates: new Map() });
    expect(html).toContain('<span class="score">gate 9 → 13 of 30 · validation 50.0% · test 45.0%</span>');
  });

  it('times each round from its records, leaving out stamps that do not parse', () => {
    const audit = syntheticAudit();
    audit[2].ts = 'not a time';
    const times = roundTimes(audit);
    expect(times.map((t) => t.round)).toEqual([1, 2]);
    // Round 1: rollout at +14 s … round end at +49 s (records 7 s apart; the digest's stamp left out).
    expect(times[0]).toEqual({ round: 1, start: '2026-12-07T02:00:14.000Z', end: '2026-12-07T02:00:49.000Z', seconds: 35 });
  });
});

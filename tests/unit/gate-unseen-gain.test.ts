import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../activities';
import { seesaw, statisticalUnseenGain, withUnseenGain } from '../../aegis/gate';
import { evolveInputSchema } from '../../aegis/run-input';
import { gateTermsFor, unseenGainRequired } from '../../aegis/round-decisions';
import { gateMechanics } from '../../aegis/llm/prompts';
import type { TaskOutcome } from '../../aegis/rollout';
import type { Candidate } from '../../aegis/types';
import { getBenchmark } from '../../benchmarks/registry';
import { applyEdits, Edit } from '../../harness/builder';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';

/**
 * Issue 28: the gate decides on tasks the candidate's author never saw. A candidate built from the round's
 * batch (train) traces ships only if it unlocks validation tasks too; a per-task lookup table memorising the
 * batch's answers gains on the batch alone and is rejected, whatever its margin there.
 */
jest.setTimeout(120_000);

const o = (taskId: string, passed: boolean): TaskOutcome => ({ taskId, passed, successes: passed ? 1 : 0, attempts: 1 });

describe('withUnseenGain (pure)', () => {
  const incumbent = [o('t1', false), o('t2', false), o('t3', true), o('v1', false), o('v2', true)];
  const unseen = ['v1', 'v2'];

  test('a gain that includes an unseen task ships; a gain on seen tasks alone does not, whatever its size', () => {
    const generalises = withUnseenGain(seesaw(incumbent, [o('t1', true), o('t2', false), o('t3', true), o('v1', true), o('v2', true)], 1), unseen, 1);
    expect(generalises).toMatchObject({ passed: true, unseenGain: 1, detail: expect.stringContaining('; 1 of the unlocked on 2 validation task(s) its author never saw') });
    const memorises = withUnseenGain(seesaw(incumbent, [o('t1', true), o('t2', true), o('t3', true), o('v1', false), o('v2', true)], 1), unseen, 1);
    expect(memorises).toMatchObject({ passed: false, unseenGain: 0 });
    expect(memorises.detail).toBe(
      'no gain on unseen tasks: 0 of the unlocked on 2 validation task(s) its author never saw (needs ≥ 1); a gain only on the tasks it was built from does not show that it generalises (the comparison alone: 2 → 4 of 5; unlocks 2, no regression)',
    );
  });

  test('a comparison that already failed stays failed with its own reason; without the rule (older gates, 0) the verdict is unchanged', () => {
    const regresses = seesaw(incumbent, [o('t1', true), o('t2', false), o('t3', false), o('v1', true), o('v2', true)], 1);
    expect(withUnseenGain(regresses, unseen, 1)).toMatchObject({ passed: false, detail: regresses.detail });
    const memorises = seesaw(incumbent, [o('t1', true), o('t2', true), o('t3', true), o('v1', false), o('v2', true)], 1);
    expect(withUnseenGain(memorises, undefined, 1)).toEqual(memorises);
    expect(withUnseenGain(memorises, unseen, 0)).toEqual(memorises);
  });

  test('statistical gating: the mean gain over the paired repeats on the unseen tasks', () => {
    const inc = [[o('t1', false), o('v1', false), o('v2', true)], [o('t1', false), o('v1', false), o('v2', false)], [o('t1', false), o('v1', true), o('v2', true)]];
    const seenOnly = inc.map((run) => run.map((x) => (x.taskId === 't1' ? o('t1', true) : x)));
    expect(statisticalUnseenGain(inc, seenOnly, unseen)).toBe(0);
    const both = inc.map((run) => run.map((x) => o(x.taskId, true)));
    // Unseen solved per repeat: incumbent 1, 0, 2; candidate 2, 2, 2: gains 1, 2, 0.
    expect(statisticalUnseenGain(inc, both, unseen)).toBe(1);
    expect(statisticalUnseenGain(inc, both, undefined)).toBeUndefined();
    const passed = { passed: true, detail: 'significant: gain 1.00', unlocked: [] as string[] };
    expect(withUnseenGain(passed, unseen, 1, 0)).toMatchObject({ passed: false, detail: expect.stringMatching(/^no gain on unseen tasks: a mean gain of 0\.00 on the 2 validation task\(s\) .*\(the comparison alone: significant: gain 1\.00\)$/) });
    expect(withUnseenGain(passed, unseen, 1, 1)).toMatchObject({ passed: true, detail: 'significant: gain 1.00; a mean gain of 1.00 on the 2 validation task(s) its author never saw' });
  });

  test('the requirement: gating.minUnseenGain (default 1), at most minGain', () => {
    const input = evolveInputSchema().parse({ benchmark: 'gsm8k' });
    expect(input.gating.minUnseenGain).toBe(1);
    expect(unseenGainRequired(input)).toBe(1);
    expect(unseenGainRequired({ minGain: 3, gating: { minUnseenGain: 2 } })).toBe(2);
    expect(unseenGainRequired({ minGain: 1, gating: { minUnseenGain: 5 } })).toBe(1);
    expect(unseenGainRequired({ minGain: 2, gating: {} })).toBe(1);
    expect(unseenGainRequired({ minGain: 2, gating: { minUnseenGain: 0 } })).toBe(0);
  });
});

test('the Evolver and the Critic are told the rule, in numbers, when it applies', () => {
  const input = evolveInputSchema().parse({ benchmark: 'gsm8k', minGain: 2, gating: { minUnseenGain: 2 } });
  const told = gateMechanics(gateTermsFor(input, ['t1', 't2', 'v1', 'v2'], ['v1', 'v2']));
  expect(told).toContain('at least 2 of the task(s) the candidate gains must be validation tasks');
  const off = gateMechanics(gateTermsFor({ ...input, gating: { ...input.gating, minUnseenGain: 0 } }, ['t1', 'v1'], ['v1']));
  expect(off).not.toContain('validation tasks, so an edit');
});

describe('the gate activity against a memorising processor (GSM8K, sim:small)', () => {
  const gsm8k = getBenchmark('gsm8k');
  /** The FNV-1a hash of a string, as the issue's memorising processor keyed its table. */
  const fnv = (text: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (h >>> 0).toString(16).padStart(8, '0');
  };
  const answerOf = (id: string) => String(gsm8k.referenceSolution(id).at(-1)!.args.answer);

  /** A before_tool processor that replaces the submitted answer by its table's, keyed by the instruction's hash. */
  const memoriser = (taskIds: string[]) => `import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
const TABLE: { [key: string]: string } = { ${taskIds.map((id) => `'${fnv(gsm8k.tasks().find((t) => t.id === id)!.instruction)}': '${answerOf(id)}'`).join(', ')} };
function fnv(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult {
  if (event.hook !== 'before_tool' || !event.call || event.call.name !== 'submit_answer') return null;
  const known = TABLE[fnv(ctx.instruction)];
  return known === undefined ? null : { ...event, call: { ...event.call, args: { answer: known } } };
}
`;

  const lookupEdit = (taskIds: string[]): Edit =>
    ({ op: 'insert', hook: 'before_tool', processor: { id: 'lookup', type: 'code', params: { source: memoriser(taskIds), smokeTests: [{ name: 'n', event: { hook: 'before_tool' }, expect: 'unchanged' }] } } }) as Edit;

  test('it unlocks the batch tasks it memorised and nothing else: rejected by the rule on unseen tasks (it passes without it)', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-unseen-')));
    const activities = createActivities({ store });
    const seed = seedHarness();
    const incumbentId = await store.putHarness(seed);
    const train = gsm8k.tasks().filter((t) => t.split === 'train').slice(0, 40).map((t) => t.id);
    const validation = gsm8k.tasks().filter((t) => t.split === 'validation').slice(0, 12).map((t) => t.id);
    const common = { benchmark: 'gsm8k', k: 1, seed: 'unseen' };
    const before = await activities.rollout({ ...common, harnessId: incumbentId, taskIds: train });
    const outcomes = await store.get<TaskOutcome[]>(before.outcomesRef);
    // The batch: 8 tasks the incumbent fails (fewer than the reward-hacking check's 12, so that check passes).
    const batch = outcomes.filter((x) => !x.passed).slice(0, 8).map((x) => x.taskId);
    expect(batch).toHaveLength(8);

    const edit = lookupEdit(batch);
    const built = applyEdits(seed, [edit]);
    if (!built.ok) throw new Error(built.error.message);
    const candidate: Candidate = {
      candidateId: 'r1-c1',
      harnessId: await store.putHarness(built.config),
      editKey: 'insert:lookup@before_tool',
      bucket: 'processor',
      manifest: { candidateId: 'r1-c1', bucket: 'processor', capabilityEvidence: ['wrong final answers in the batch'], changes: [edit], predictedImpact: { tasksWillUnlock: batch, stabilize: [], atRisk: [] }, attributionSignature: 'answer lookup' },
    };
    const candidatesRef = await store.put([candidate]);
    const gate = (extra: Record<string, unknown>) =>
      activities.gate({ ...common, candidatesRef, candidateId: 'r1-c1', incumbentId, gateTaskIds: [...batch, ...validation], minGain: 1, ...extra });

    const without = await gate({});
    // The hole the rule closes: the memoriser passes every other check and gains on the batch.
    expect(without.checks.find((c) => c.check === 'reward_hacking')).toMatchObject({ passed: true });
    expect(without.passed).toBe(true);
    expect(without.unlocked.length).toBeGreaterThanOrEqual(4);
    expect(without.unlocked.every((id) => batch.includes(id))).toBe(true);

    const withRule = await gate({ unseenTaskIds: validation, minUnseenGain: 1 });
    expect(withRule.passed).toBe(false);
    expect(withRule.reason).toMatch(/^seesaw: no gain on unseen tasks: 0 of the unlocked on 12 validation task\(s\) its author never saw \(needs ≥ 1\).*\(the comparison alone: \d+ → \d+ of 20; unlocks [4-8], no regression\)$/);
    // Sequential gating (the default under the global strategy) decides the same.
    const sequential = await gate({ unseenTaskIds: validation, minUnseenGain: 1, sequential: { firstTaskIds: validation, firstChunk: 8 } });
    expect(sequential.passed).toBe(false);
    expect(sequential.reason).toMatch(/no gain on unseen tasks/);

    // The accepting side, at the same gate: a candidate whose gain shows on unseen tasks ships. (Here the
    // table also holds four validation answers, which an author that never saw those tasks cannot know; once
    // a table reaches 12 answers the reward-hacking check rejects it before any rollout.)
    const knowingEdit = lookupEdit([...batch.slice(0, 6), ...validation.slice(0, 4)]);
    const knowing = applyEdits(seed, [knowingEdit]);
    if (!knowing.ok) throw new Error(knowing.error.message);
    const second: Candidate = { ...candidate, candidateId: 'r1-c2', harnessId: await store.putHarness(knowing.config), manifest: { ...candidate.manifest, candidateId: 'r1-c2', changes: [knowingEdit] } };
    const secondRef = await store.put([second]);
    const shows = await activities.gate({ ...common, candidatesRef: secondRef, candidateId: 'r1-c2', incumbentId, gateTaskIds: [...batch, ...validation], minGain: 1, unseenTaskIds: validation, minUnseenGain: 1 });
    const unlockedUnseen = shows.unlocked.filter((id) => validation.includes(id));
    expect(shows.checks.find((c) => c.check === 'seesaw')!.detail).toContain(`; ${unlockedUnseen.length} of the unlocked on 12 validation task(s) its author never saw`);
    expect(unlockedUnseen.length).toBeGreaterThanOrEqual(1);
    expect(shows.passed).toBe(true);
  });
});

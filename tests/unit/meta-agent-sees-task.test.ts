import { LlmMetaAgent, untriedByBucket, untriedEditTypes } from '../../aegis/llm/llm-meta-agent';
import { contextPartsByStep } from '../../aegis/llm/prompts';
import { digestTraces, sharedPreamble } from '../../aegis/digester';
import { earlyStopExplanation } from '../../aegis/sequential-gate';
import type { Candidate } from '../../aegis/types';
import { applyEdits } from '../../harness/builder';
import { seedHarness } from '../../harness/seed';
import type { EpisodeTrace } from '../../harness/trace';
import { HOOKS, type ModelRequest } from '../../harness/types';
import { ScriptedModel } from '../helpers/processor-harness';

/** A benchmark-like instruction: a long shared rules preamble, then the task's own 3,000-character goal. */
const PREAMBLE = `${'Rules every task shares: act one step at a time, follow the policy, never invent data. '.repeat(40)}\n\n`;
const goalOf = (id: string) => `[${id}] ${`The customer ${id} wants order #${id.length}0 returned and the refund sent to the original card; `.repeat(40)}`.slice(0, 3000) + ` END-OF-GOAL-${id}`;

function traceFor(taskId: string): EpisodeTrace {
  const instruction = `${PREAMBLE}${goalOf(taskId)}`;
  return {
    taskId, harnessId: 'hx-1', model: 'sim:small', seed: 's', attempt: 0, systemPrompt: '', instruction,
    records: [
      { kind: 'model_call', step: 1, purpose: 'act', request: { messageCount: 1, newMessages: [{ role: 'user', content: instruction }], parts: [{ kind: 'notes', text: `Notes: ${'x'.repeat(600)} LAST-NOTE` }] }, response: { text: '', toolCalls: [{ id: 'c1', name: 'pick_up', args: { block: 'red' } }], stopReason: 'tool_use' }, usage: { inputTokens: 1, outputTokens: 1 }, latencyMs: 0, model: 'm' },
      { kind: 'tool_call', step: 1, call: { id: 'c1', name: 'pick_up', args: { block: 'red' } }, approved: true, result: { ok: false, output: 'The red block is not clear.', errorKind: 'precondition' } },
    ],
    steps: 1, endReason: 'step_budget_exhausted', success: false, reward: 0, usage: { inputTokens: 1, outputTokens: 1 }, durationMs: 0,
  };
}

const userText = (r: ModelRequest) => r.messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');

describe('the meta-agent sees the task it improves', () => {
  const ids = ['t1', 't2', 't3'];
  const traces = ids.map(traceFor);
  const digest = digestTraces({ round: 1, harnessId: 'hx-1', config: seedHarness(), traces, outcomes: ids.map((taskId) => ({ taskId, passed: false, successes: 0, attempts: 1 })), previous: null });

  test('the shared preamble is found once and cut off each goal, which is kept whole', () => {
    expect(sharedPreamble(traces.map((t) => t.instruction))).toBe(PREAMBLE);
    expect(digest.sharedPreamble).toBe(PREAMBLE);
    expect(digest.tasks.map((t) => t.goal)).toEqual(ids.map(goalOf));
    // One task alone has no "shared" part: its text is all its own.
    expect(sharedPreamble([traces[0].instruction])).toBe('');
  });

  test('a 3,000-character goal appears in full in every stage’s request (digest, plan, evolve, critique, revise), on a small prompt budget too', async () => {
    for (const promptChars of [120_000, 16_000]) {
      const change = { op: 'configure', processorId: 'step_budget', params: { maxSteps: 20 } };
      const proposal = { bucket: 'config', rationale: 'r', changes: [change], evidence: ['e'], predictedImpact: { tasksWillUnlock: ['t1'], stabilize: [], atRisk: [] } };
      const model = new ScriptedModel([
        JSON.stringify({ tasks: ids.map((taskId) => ({ taskId, summary: 's', category: 'invalid_action', evidence: ['step 1'], implicated: [] })) }),
        JSON.stringify({ options: [{ category: 'invalid_action', bucket: 'config', direction: 'more steps', editTypes: ['configure:step_budget'] }], untriedEditTypes: [] }),
        JSON.stringify({ candidates: [proposal] }),
        JSON.stringify({ decision: 'revise', candidateId: 'r1-c1', request: 'say more' }),
        JSON.stringify({ candidates: [proposal] }),
        JSON.stringify({ decision: 'ship_ranking', ranking: ['r1-c1'], notes: [] }),
      ]);
      const agent = new LlmMetaAgent(model, { promptChars });
      const digested = await agent.digest({ digest, traces, config: seedHarness() });
      const landscape = await agent.plan({ digest: digested, tried: [], config: seedHarness(), gate: { minGain: 1, k: 1, batchTasks: 3, validationTasks: 2 } });
      const drafts = await agent.evolve({ landscape, digest: digested, config: seedHarness(), maxCandidates: 2, round: 1 });
      const candidates: Candidate[] = drafts.map(({ config: _c, ...d }) => ({ ...d, harnessId: 'hx-2' }));
      await agent.critique({ candidates, digest: digested, reputation: {}, config: seedHarness(), round: 1 });
      model.assertConsumed();
      expect(model.requests.map((r) => agent.stageCalls()[model.requests.indexOf(r)].stage)).toEqual(['digest', 'plan', 'evolve', 'critique', 'revise', 'critique']);
      for (const request of model.requests) {
        const sent = JSON.parse(userText(request));
        const text = JSON.stringify(sent);
        for (const id of ids.slice(0, 1)) expect(text).toContain(JSON.stringify(goalOf(id)).slice(1, -1));
        // The preamble is shown once per request, never once per task.
        expect(text.split('Rules every task shares').length - 1).toBeLessThanOrEqual(40);
        expect(sent.sharedPreamble).toBeDefined();
      }
    }
  });

  test('context parts in an excerpt are shown in full up to a budget, newest step first', () => {
    const many: EpisodeTrace = { ...traces[0], records: [1, 2, 3].map((step) => ({ kind: 'model_call' as const, step, purpose: 'act' as const, request: { messageCount: step, newMessages: [], parts: [{ kind: 'plan', text: `${'p'.repeat(500)} step-${step}` }] }, response: { text: '', toolCalls: [], stopReason: 'end_turn' as const }, usage: { inputTokens: 1, outputTokens: 1 }, latencyMs: 0, model: 'm' })) };
    const shown = contextPartsByStep(many, 12, 1100);
    expect(shown.map((s) => s.step)).toEqual([3, 2, 1]);
    expect(shown[0].parts[0]).toContain('step-3');
    expect(shown[0].parts[0].length).toBeGreaterThan(500);
    expect(shown[1].parts[0]).toContain('step-2');
    expect(shown[2].parts[0]).toMatch(/not shown: the excerpt's budget is spent/);
  });

  test('untriedEditTypes spans every edit kind: insert, replace, remove, configure', () => {
    const built = applyEdits(seedHarness(), [{ op: 'insert', hook: 'before_tool', processor: { id: 'args', type: 'arg_validation', params: {} } }]);
    if (!built.ok) throw new Error(built.error.message);
    const untried = untriedEditTypes(built.config, []);
    expect(untried).toContain('replace:arg_validation->tool_call_correction@before_tool');
    for (const kind of ['insert:', 'replace:', 'remove:', 'configure:']) expect(untried.some((k) => k.startsWith(kind))).toBe(true);
    const tried = untriedEditTypes(seedHarness(), [{ key: 'configure:step_budget:{"maxSteps":20}', bucket: 'config', harnessId: 'hx', outcome: 'rejected: seesaw: no gain' }]);
    expect(tried).not.toContain('configure:step_budget');
  });

  test('untriedEditTypes lists moves (any position counts as tried) and bundles', () => {
    const built = applyEdits(seedHarness(), [
      { op: 'insert', hook: 'before_model', processor: { id: 'loops', type: 'loop_detection', params: {} } },
      { op: 'insert', hook: 'before_model', processor: { id: 'plan', type: 'plan_then_act', params: {} } },
    ]);
    if (!built.ok) throw new Error(built.error.message);
    const config = built.config;
    const shared = HOOKS.find((h) => config.hooks[h].length >= 2)!;
    const [first, second] = config.hooks[shared];
    const untried = untriedEditTypes(config, []);
    expect(untried).toContain(`move:${first.id}`);
    expect(untried).toContain(`move:${second.id}`);
    // A processor alone on its hook has nothing to move around.
    const alone = HOOKS.filter((h) => config.hooks[h].length === 1).map((h) => config.hooks[h][0].id);
    for (const id of alone) expect(untried).not.toContain(`move:${id}`);
    expect(untried).toContain('bundle:reliability@1');
    // The ledger names a move with its position; any position marks the processor's move as tried.
    const afterMove = untriedEditTypes(config, [{ key: `move:${second.id}(before:${first.id})`, bucket: 'config', harnessId: 'hx', outcome: 'rejected: seesaw: no gain' }]);
    expect(afterMove).not.toContain(`move:${second.id}`);
    expect(afterMove).toContain(`move:${first.id}`);
    // A move that failed on a mistake never ran: still untried.
    const mistaken = untriedEditTypes(config, [{ key: `move:${second.id}(before:${first.id})`, bucket: 'config', harnessId: 'hx', outcome: 'rejected: smoke_test: crashed' }]);
    expect(mistaken).toContain(`move:${second.id}`);
    // By bucket, a move is a config change of a non-prompt processor.
    const byBucket = untriedByBucket(config, []);
    const moveBuckets = Object.entries(byBucket).filter(([, keys]) => keys.some((k) => k.startsWith('move:'))).map(([b]) => b);
    expect(moveBuckets.length).toBeGreaterThan(0);
    expect(Object.values(byBucket).flat().sort()).toEqual([...untried].sort());
  });

  test('an early stop of the sequential gate is explained in numbers', () => {
    const text = earlyStopExplanation({ solvedTotal: 30, solvedChecked: 8, suspects: 0, confirmedRegressions: 0, unsolvedTotal: 12, unsolvedChecked: 12, unlocked: 0 }, 1, 20, 42);
    expect(text).toBe('decided after 20 of 42 gate tasks: the candidate needed 1 unlock(s) (minGain 1 + 0 suspected regression(s)) but had 0, and only 0 task(s) the incumbent fails were left to run, so the gain was out of reach');
    expect(earlyStopExplanation({ solvedTotal: 30, solvedChecked: 3, suspects: 1, confirmedRegressions: 1, unsolvedTotal: 12, unsolvedChecked: 0, unlocked: 0 }, 1, 3, 42)).toMatch(/1 task\(s\) the incumbent passes failed .* whatever the other 39 task\(s\) show/);
  });
});

import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { attempt, GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';
import { digestAll, scriptedMetaAgent, systemText } from '../helpers/scripted-meta-agent';
import { startWireServer } from '../helpers/wire-server';
import { useWorkerFixture } from './temporal-env';

jest.setTimeout(240_000);

const TASK_QUEUE = 'it-llm-meta';
const fixture = useWorkerFixture(TASK_QUEUE);
const store = new ArtifactStore(fixture.dataDir);

const codeInsert = (id: string, source: string) => ({ op: 'insert', hook: 'before_model', processor: { id, type: 'code', params: { source, smokeTests: GUARD_SMOKE_TESTS } } });

/**
 * The offline proof of the LLM path: sim task model, and a scripted meta-agent served over HTTP in the
 * Anthropic wire protocol, driven through the real SDK. Prompt → SDK → HTTP → parse → validate → gate,
 * for two rounds; a code-level processor edit ships after passing the sandbox and its smoke tests.
 */
it('runs AEGIS with an LLM meta-agent over the Anthropic protocol and ships a sandboxed code processor', async () => {
  const failingIds: string[] = [];
  const roundOneCandidates = () => [
    { bucket: 'processor', rationale: 'warn on repeated states', changes: [codeInsert('state_guard', REPEATED_STATE_GUARD)], evidence: ['returned to an earlier state'], predictedImpact: { tasksWillUnlock: failingIds.slice(0, 6), stabilize: [], atRisk: [] } },
    { bucket: 'processor', rationale: 'spin until the model behaves', changes: [codeInsert('spinner', attempt('while (true) {}'))], evidence: ['returned to an earlier state'], predictedImpact: { tasksWillUnlock: failingIds.slice(0, 2), stabilize: [], atRisk: [] } },
  ];
  const script = scriptedMetaAgent([
    // Round 1. The first Digester reply leaves a task out: one repair attempt fixes it.
    { stage: 'digest', reply: (u) => ({ tasks: digestAll(u).tasks.slice(1) }) },
    { stage: 'digest', repeat: true, reply: (u) => (failingIds.push(...(u.tasks as Array<{ taskId: string }>).map((t) => t.taskId)), digestAll(u)) },
    {
      stage: 'plan',
      reply: (u) => ({
        options: [{ category: 'loop', bucket: 'processor', direction: 'Write a before_model code processor that warns the model when the current state repeats an earlier one.', editTypes: ['insert:code@before_model'], targetTasks: failingIds.slice(0, 5) }],
        // The Planner is shown the untried edits grouped by bucket (a flat list only in its most compact retry).
        untriedEditTypes: (Array.isArray(u.untriedEditTypes) ? (u.untriedEditTypes as string[]) : Object.values(u.untriedEditTypes as Record<string, string[]>).flat()).slice(0, 5),
        notes: 'loops dominate',
      }),
    },
    { stage: 'evolve', reply: () => ({ candidates: roundOneCandidates() }) },
    // The spinner fails the pre-gate (sandbox work limit): it goes back to the Evolver once, which insists on it.
    { stage: 'evolve', reply: (_u, req) => (expect(JSON.stringify(req.body.messages)).toMatch(/candidates\.1 \(r1-c2\): code_sandbox: spinner: smoke_test: .*work limit/), { candidates: roundOneCandidates() }) },
    { stage: 'critique', reply: (u) => (expect(u.revisionAllowed).toBe(true), { decision: 'revise', candidateId: 'r1-c1', request: 'Name the processor repeat_guard so the ledger reads clearly.' }) },
    { stage: 'revise', reply: () => ({ candidates: [{ bucket: 'processor', rationale: 'warn on repeated states (renamed)', changes: [codeInsert('repeat_guard', REPEATED_STATE_GUARD)], evidence: ['returned to an earlier state'], predictedImpact: { tasksWillUnlock: failingIds.slice(0, 6), stabilize: [], atRisk: [] } }] }) },
    { stage: 'critique', reply: (u) => (expect(u.revisionAllowed).toBe(false), { decision: 'ship_ranking', ranking: ['r1-c2', 'r1-c1-rev'], notes: ['the spinner is suspicious; the gate will tell'] }) },
    // Round 2: the Planner's reply stays invalid after its repair attempt; the round no-ops and the run goes on.
    { stage: 'digest', repeat: true, reply: (u) => digestAll(u) },
    { stage: 'plan', reply: () => 'I think we should add more memory.' },
    { stage: 'plan', reply: () => ({ options: [{ category: 'not-a-category' }] }) },
  ]);
  const server = await startWireServer(script.respond);
  const saved = { key: process.env.ANTHROPIC_API_KEY, url: process.env.ANTHROPIC_BASE_URL };
  process.env.ANTHROPIC_API_KEY = 'sk-ant-scripted-offline';
  process.env.ANTHROPIC_BASE_URL = server.url;
  try {
    const handle = await fixture.start(
      { benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'anthropic:claude-opus-4-6', rounds: 2, patience: 5, batchSize: 16, validationSize: 8, candidatesPerRound: 2, seed: 'it-llm', evaluateTest: false, trackHeldOut: false },
      'it-llm-meta',
    );
    const summary = (await handle.result()) as RunSummary;
    script.assertConsumed();
    expect(summary.rounds).toBe(2);
    expect(summary.shipped).toBe(1);

    const audit = await store.readAudit('it-llm-meta');
    const ship = audit.find((r) => r.stage === 'ship')!;
    expect(ship).toMatchObject({ candidateId: 'r1-c1-rev', payload: expect.objectContaining({ editKey: expect.stringMatching(/^insert:code@before_model#[0-9a-f]{10}$/) }) });
    const shipGate = audit.find((r) => r.key === '1:gate:r1-c1-rev')!;
    const checks = shipGate.payload.checks as Array<{ check: string; passed: boolean; detail: string }>;
    expect(checks.map((c) => c.check)).toEqual(['manifest_complete', 'canonical_form', 'reward_hacking', 'code_sandbox', 'smoke_test', 'seesaw']);
    expect(checks.find((c) => c.check === 'code_sandbox')!.detail).toMatch(/repeat_guard: type-checked; 2 smoke test\(s\) passed/);
    // The looping candidate, still in the pool after the repair turn, is rejected by the sandbox, with the reason in the audit log.
    expect(audit.find((r) => r.key === '1:gate:r1-c2')).toMatchObject({ kind: 'rollback', payload: expect.objectContaining({ reason: expect.stringMatching(/^code_sandbox: spinner: smoke_test: .*work limit/) }) });
    // Round 2's planner failure is a recorded stage failure and a no-op.
    expect(audit.find((r) => r.key === '2:noop')!.payload.noop).toMatch(/^stage failed: plan: invalid output after one repair attempt: options\.0\.category/);
    // Compression ratio per round, from the Digester's own output tokens.
    const digests = audit.filter((r) => r.stage === 'digest');
    expect(digests).toHaveLength(2);
    for (const d of digests) expect(d.payload.compression).toBeGreaterThan(1);

    // The evolved harness carries the code; meta-agent tokens count in the run's spend.
    const evolved = await store.getHarness(summary.harnessId);
    expect(evolved.hooks.before_model.find((p) => p.id === 'repeat_guard')).toMatchObject({ type: 'code', params: expect.objectContaining({ source: REPEATED_STATE_GUARD }) });
    expect(summary.tokens).toBeGreaterThan(0);
    // Every call went through the real SDK: the repair turns quote the problem back to the model.
    const repairs = server.requests.filter((r) => (r.body.messages as unknown[]).length === 3);
    expect(repairs.map((r) => systemText(r.body).split(' ')[3])).toEqual(['Digester', 'Evolver', 'Planner']);
    // Every stage asked for its schema natively (a forced tool), with the stable system prompt cached.
    expect(server.requests.every((r) => (r.body.tool_choice as { type: string }).type === 'tool' && (r.body.system as Array<{ cache_control?: unknown }>)[0].cache_control)).toBe(true);
    expect(JSON.stringify(repairs[0].body.messages)).toMatch(/no entry for task/);
    expect(server.requests.every((r) => r.headers['x-api-key'] === 'sk-ant-scripted-offline' || String(r.headers.authorization).includes('sk-ant-scripted-offline'))).toBe(true);
  } finally {
    process.env.ANTHROPIC_API_KEY = saved.key;
    process.env.ANTHROPIC_BASE_URL = saved.url;
    if (saved.key === undefined) delete process.env.ANTHROPIC_API_KEY;
    if (saved.url === undefined) delete process.env.ANTHROPIC_BASE_URL;
    await server.close();
  }
});

/** Runs one scripted LLM run with the Anthropic env pointed at a local wire server. */
async function withScriptedRun(script: ReturnType<typeof scriptedMetaAgent>, input: Record<string, unknown>, id: string) {
  const server = await startWireServer(script.respond);
  const saved = { key: process.env.ANTHROPIC_API_KEY, url: process.env.ANTHROPIC_BASE_URL };
  process.env.ANTHROPIC_API_KEY = 'sk-ant-scripted-offline';
  process.env.ANTHROPIC_BASE_URL = server.url;
  try {
    const summary = (await (await fixture.start(input, id)).result()) as RunSummary;
    script.assertConsumed();
    return summary;
  } finally {
    if (saved.key === undefined) delete process.env.ANTHROPIC_API_KEY;
    else process.env.ANTHROPIC_API_KEY = saved.key;
    if (saved.url === undefined) delete process.env.ANTHROPIC_BASE_URL;
    else process.env.ANTHROPIC_BASE_URL = saved.url;
    await server.close();
  }
}

it('the cumulative-regression guard rolls back an edit that slipped past a gate set it could not hurt', async () => {
  // The batch holds only tasks the seed harness fails, and minGain is 0, so a step budget of 2 passes the
  // per-edit seesaw (nothing solved to regress). On the fixed regression suite it loses tasks: rollback.
  const script = scriptedMetaAgent([
    { stage: 'digest', repeat: true, reply: (u) => digestAll(u, 'no_progress') },
    { stage: 'plan', reply: () => ({ options: [{ category: 'no_progress', bucket: 'config', direction: 'Shorten the step budget.', editTypes: ['configure:step_budget'] }], untriedEditTypes: [] }) },
    { stage: 'evolve', reply: () => ({ candidates: [{ bucket: 'config', rationale: 'fewer steps', changes: [{ op: 'configure', processorId: 'step_budget', params: { maxSteps: 2 } }], evidence: ['ended by step_budget_exhausted'], predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] } }] }) },
    { stage: 'critique', reply: () => ({ decision: 'ship_ranking', ranking: ['r1-c1'], notes: [] }) },
  ]);
  const summary = await withScriptedRun(
    script,
    { benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'anthropic:claude-opus-4-6', rounds: 1, batchSize: 4, validationSize: 0, minGain: 0, seed: 'drift-b', evaluateTest: false, trackHeldOut: false, regressionGuard: { every: 1, trainSample: 30, tolerance: 1 } },
    'it-llm-drift',
  );
  const audit = await store.readAudit('it-llm-drift');
  const ship = audit.find((r) => r.stage === 'ship')!;
  const guard = audit.find((r) => r.stage === 'regression')!;
  expect(guard).toMatchObject({ kind: 'rollback', payload: expect.objectContaining({ from: ship.harnessId, to: summary.seedHarnessId, suite: 30 }) });
  expect((guard.payload.bestSolved as number) - (guard.payload.solved as number)).toBeGreaterThan(1);
  // The run ends on the best harness, not on the drifted one.
  expect(summary.harnessId).toBe(summary.seedHarnessId);
});

/** Helps tasks with short goals (loop warnings), gives up on goals of three facts: a split-personality edit. */
const SHORT_GOALS_ONLY = `import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';

export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult {
  if (event.hook !== 'before_model' || event.request.purpose !== 'act') return null;
  const goal = (ctx.instruction.split('My goal is to have that ')[1] ?? '').split('.')[0];
  if (goal.split(/, | and /).length >= 3) return { interrupt: true, reason: 'long goals are out of scope' };
  return { ...event, request: { ...event.request, parts: [...event.request.parts, { kind: 'loop_warning', text: 'Do not return to states you have already been in.' }] } };
}
`;

it('under the ensemble strategy an edit that helps some tasks and regresses others forks a variant', async () => {
  const event = { hook: 'before_model', step: 1, request: { purpose: 'act', messages: [{ role: 'user', content: 'go' }], parts: [], tools: [] } };
  const smokeTests = [
    { name: 'short goal gets a warning', event, instruction: 'My goal is to have that the red block is on top of the blue block.', expect: 'changed', outputIncludes: 'loop_warning' },
    { name: 'long goal is dropped', event, instruction: 'My goal is to have that a, b and c.', expect: 'interrupt' },
  ];
  const script = scriptedMetaAgent([
    { stage: 'digest', repeat: true, reply: (u) => digestAll(u) },
    { stage: 'plan', reply: () => ({ options: [{ category: 'loop', bucket: 'processor', direction: 'Warn about loops on short goals.', editTypes: ['insert:code@before_model'] }], untriedEditTypes: [] }) },
    { stage: 'evolve', reply: () => ({ candidates: [{ bucket: 'processor', rationale: 'short goals only', changes: [{ op: 'insert', hook: 'before_model', processor: { id: 'short_goals', type: 'code', params: { source: SHORT_GOALS_ONLY, smokeTests } } }], evidence: ['loops'], predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] } }] }) },
    { stage: 'critique', reply: () => ({ decision: 'ship_ranking', ranking: ['r1-c1'], notes: [] }) },
  ]);
  const summary = await withScriptedRun(
    script,
    { benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'anthropic:claude-opus-4-6', strategy: 'ensemble', maxVariants: 3, rounds: 1, batchSize: 40, validationSize: 30, seed: 'it-ensemble', evaluateTest: false, trackHeldOut: false, regressionGuard: { every: 0 } },
    'it-llm-ensemble',
  );
  const audit = await store.readAudit('it-llm-ensemble');
  const gate = audit.find((r) => r.key === '1:gate:r1-c1')!;
  expect(gate).toMatchObject({ kind: 'rollback', payload: expect.objectContaining({ reason: expect.stringMatching(/^seesaw: regresses/) }) });
  const fork = audit.find((r) => r.key === '1:ship')!;
  expect(fork.payload).toMatchObject({ fork: true, variant: 'v1', parentVariant: 'v0', retired: null });
  expect((fork.payload.gate as { unlocked: string[] }).unlocked.length).toBeGreaterThan(0);
  expect(summary).toMatchObject({ strategy: 'ensemble', variants: [expect.objectContaining({ id: 'v0', harnessId: summary.seedHarnessId }), expect.objectContaining({ id: 'v1', parentId: 'v0', born: 1 })] });
  // The routed pool does at least as well as the seed alone on the train tasks.
  expect(summary.evolvedPassRate).toBeGreaterThanOrEqual(summary.seedPassRate);
});

it('a smoke-test mistake goes back to the Evolver inside the stage, the corrected code ships, and the ledger names every change', async () => {
  // The report's mistake: a smoke test that sends an event of another hook. Widest sandbox limit: the gate must not flip on machine load.
  const wrongHook = [{ name: 'warns on a repeated state', event: { hook: 'after_model', step: 1, response: { text: '', toolCalls: [], usage: { inputTokens: 0, outputTokens: 0 }, stopReason: 'end_turn', model: 'm' } }, expect: 'changed' }];
  const guard = (smokeTests: unknown[]) => ({ op: 'insert', hook: 'before_model', processor: { id: 'repeat_guard', type: 'code', params: { source: REPEATED_STATE_GUARD, smokeTests, timeoutMs: 1000 } } });
  const withBudget = (changes: unknown[]) => [...changes, { op: 'configure', processorId: 'step_budget', params: { maxSteps: 16 } }];
  const proposal = (changes: unknown[]) => ({ bucket: 'config', rationale: 'warn on repeated states', changes, evidence: ['returned to an earlier state'], predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] } });
  let ledgerSeen: unknown = null;
  const script = scriptedMetaAgent([
    { stage: 'digest', repeat: true, reply: (u) => digestAll(u) },
    {
      stage: 'plan',
      // The provider served most of this prompt from its cache: the plan's audit record shows it.
      usage: { input_tokens: 300, output_tokens: 100, cache_read_input_tokens: 1500, cache_creation_input_tokens: 200 },
      reply: () => ({ options: [{ category: 'loop', bucket: 'processor', direction: 'Warn on repeated states in code, and give a little more room.', editTypes: ['insert:code@before_model', 'configure:step_budget'] }], untriedEditTypes: [] }),
    },
    { stage: 'evolve', reply: (u) => (expect(u.gateRules).toMatch(/FIRST candidate that passes ships/), { candidates: [proposal(withBudget([guard(wrongHook)]))] }) },
    { stage: 'evolve', reply: (_u, req) => (expect(JSON.stringify(req.body.messages)).toContain('sends a after_model event to a processor on before_model'), { candidates: [proposal(withBudget([guard(GUARD_SMOKE_TESTS)]))] }) },
    { stage: 'critique', reply: (u) => (expect(u.gateRules).toMatch(/minGain|more task/), { decision: 'ship_ranking', ranking: ['r1-c1'], notes: [] }) },
    // Round 2: the Planner is shown the ledger; it has nothing more to propose.
    { stage: 'digest', repeat: true, reply: (u) => digestAll(u) },
    { stage: 'plan', reply: (u) => ((ledgerSeen = u.editsTried), { options: [], untriedEditTypes: [] }) },
  ]);
  const summary = await withScriptedRun(
    script,
    { benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'anthropic:claude-opus-4-6', rounds: 2, patience: 5, batchSize: 16, validationSize: 8, minGain: 0, seed: 'it-pregate', evaluateTest: false, trackHeldOut: false, regressionGuard: { every: 0 } },
    'it-llm-pregate',
  );
  expect(script.log.map((l) => `${l.stage}${l.repair ? '(repair)' : ''}`).filter((s) => !s.startsWith('digest'))).toEqual(['plan', 'evolve', 'evolve(repair)', 'critique', 'plan']);
  const audit = await store.readAudit('it-llm-pregate');
  const ship = audit.find((r) => r.stage === 'ship')!;
  // Keyed by all its changes, filed under the bucket its changes make it (the model said "config").
  expect(ship.payload).toMatchObject({ editKey: expect.stringMatching(/^insert:code@before_model#[0-9a-f]{10}\+configure:step_budget:\{"maxSteps":16\}$/), bucket: 'processor' });
  expect(summary.shipped).toBe(1);
  // The gate passed the corrected candidate at once (no mistake left for it), and the ledger keys it by all its changes.
  expect(audit.find((r) => r.key === '1:gate:r1-c1')).toMatchObject({ kind: 'info' });
  expect(ledgerSeen).toEqual([{ key: ship.payload.editKey, bucket: 'processor', onHarness: summary.seedHarnessId, outcome: expect.stringMatching(/^shipped: \d+ → \d+ of \d+ gate tasks passed \(\+\d+\)/) }]);
  expect(audit.find((r) => r.key === '2:noop')!.payload.noop).toBe('empty landscape');
  // Each meta-agent stage's audit record carries its spend, cached tokens included where the provider cached.
  expect(audit.find((r) => r.key === '1:plan')!.payload.metaSpend).toMatchObject({ inputTokens: 2000, outputTokens: 100, tokens: 2100, cacheReadTokens: 1500, cacheWriteTokens: 200 });
  // The Evolver's stage made two calls (the first reply and its repair), 1000 in and 200 out each, nothing cached.
  const evolveSpend = audit.find((r) => r.key === '1:evolve')!.payload.metaSpend as Record<string, unknown>;
  expect(evolveSpend).toMatchObject({ inputTokens: 2000, outputTokens: 400, tokens: 2400 });
  expect(evolveSpend.cacheReadTokens).toBeUndefined();
});

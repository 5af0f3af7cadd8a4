import { CandidateDraft, triedEditFromGate } from '../../aegis/meta-agent';
import { makePreGateChecker, PRE_GATE_CHECKS, preGateChecks } from '../../aegis/pre-gate';
import { editKey } from '../../aegis/remedies';
import type { Manifest } from '../../aegis/types';
import { getBenchmark } from '../../benchmarks/registry';
import { applyEdits, Edit } from '../../harness/builder';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';

jest.setTimeout(60_000);

const bench = getBenchmark('blocksworld');
const seed = seedHarness();
const check = makePreGateChecker(seed, bench, { seed: 'pre' });

function draft(changes: Edit[], manifest: Partial<Manifest> = {}): CandidateDraft {
  const built = applyEdits(seed, changes);
  if (!built.ok) throw new Error(built.error.message);
  return {
    candidateId: 'c1',
    editKey: editKey(changes),
    bucket: 'processor',
    config: built.config,
    manifest: { candidateId: 'c1', bucket: 'processor', capabilityEvidence: ['e'], changes, predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] }, attributionSignature: 's', ...manifest },
  };
}
const code = (source: string, smokeTests: unknown[] = GUARD_SMOKE_TESTS): Edit => ({ op: 'insert', hook: 'before_model', processor: { id: 'guard', type: 'code', params: { source, smokeTests, timeoutMs: 1000 } } });

describe('pre-gate checks: the gate without rollouts, as one function', () => {
  test('a sound candidate passes every rollout-free check, in the gate’s order', async () => {
    const verdict = await check(draft([{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }]));
    expect(verdict).toMatchObject({ passed: true, reason: null });
    expect(verdict.checks.map((c) => c.check)).toEqual([...PRE_GATE_CHECKS]);
  });

  test('each check rejects its own mistake, with the gate’s wording, and stops there', async () => {
    const incomplete = await check(draft([{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }], { capabilityEvidence: [] }));
    expect(incomplete).toMatchObject({ passed: false, reason: 'manifest_complete: capabilityEvidence: at least one piece of trace evidence' });
    expect(incomplete.checks).toHaveLength(1);

    const d = draft([{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }]);
    const lying = await check({ ...d, manifest: { ...d.manifest, changes: [{ op: 'insert', hook: 'before_model', processor: { id: 'notes', type: 'notes', params: {} } }] } });
    expect(lying.reason).toBe('canonical_form: the candidate config differs from the manifest changes applied to the incumbent');

    const taskId = bench.tasks().find((t) => t.split === 'train')!.id;
    const leak = await check(draft([{ op: 'configure', processorId: 'system_prompt', params: { template: `If the task is ${taskId}, stack red on blue.` } }]));
    expect(leak.reason).toMatch(/^reward_hacking: /);

    const wrongHook = await check(draft([code(REPEATED_STATE_GUARD, [{ name: 'w', event: { hook: 'after_model' }, expect: 'unchanged' }])]));
    expect(wrongHook.reason).toBe('code_sandbox: guard: smoke_test: smoke test "w" sends a after_model event to a processor on before_model');
    const typeError = await check(draft([code(REPEATED_STATE_GUARD.replace('return null;', 'return 42;'))]));
    expect(typeError.reason).toMatch(/^code_sandbox: guard: compile: typecheck: /);

    // Passes its own smoke tests, crashes on a real episode: the smoke episode catches it.
    const crashes = `import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult {
  if (event.hook === 'before_model' && event.step > 0) throw new Error('crash on real events');
  return null;
}
`;
    const crash = await check(draft([code(crashes, [{ name: 'fine at step 0', event: { hook: 'before_model', step: 0, request: { purpose: 'act', messages: [], parts: [], tools: [] } }, expect: 'unchanged' }])]));
    expect(crash).toMatchObject({ passed: false, reason: expect.stringMatching(/^smoke_test: .*crash on real events/) });
    expect(triedEditFromGate(draft([code(crashes)]), 'hx', crash).rejectedFor).toBe('mistake');
  });

  test('same inputs, same verdict; the checker is preGateChecks on the draft’s own harness id', async () => {
    const d = draft([code(REPEATED_STATE_GUARD)]);
    const { config, ...rest } = d;
    const direct = await preGateChecks(seed, { ...rest, harnessId: harnessId(config) }, config, bench, { seed: 'pre' });
    const viaChecker = await check(d);
    // Timings in the sandbox's detail aside (wall-clock, reported only), the verdicts are equal.
    const verdictOf = (v: typeof direct) => ({ passed: v.passed, reason: v.reason, checks: v.checks.map((c) => [c.check, c.passed, c.detail.replace(/\(\d+ ms\)/, '')]) });
    expect(verdictOf(viaChecker)).toEqual(verdictOf(direct));
    expect(direct.passed).toBe(true);
  });
});

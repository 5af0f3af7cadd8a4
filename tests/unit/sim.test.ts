import { passRate, rolloutTasks } from '../../aegis/rollout';
import { getBenchmark } from '../../benchmarks/registry';
import { applyEdits } from '../../harness/builder';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { createModel } from '../../models/registry';

const bench = getBenchmark('blocksworld');
const ids = bench.tasks().filter((t) => t.split === 'train').map((t) => t.id).slice(0, 40);

async function evaluate(model: string, edits: Parameters<typeof applyEdits>[1] = [], seed = 'sim-test') {
  const built = applyEdits(seedHarness(model), edits);
  if (!built.ok) throw new Error(built.error.message);
  const { traces, outcomes } = await rolloutTasks({ benchmark: bench, config: built.config, harnessId: harnessId(built.config), taskIds: ids, k: 1, seed });
  const invalid = traces.flatMap((t) => t.records).filter((r) => r.kind === 'tool_call' && r.result.errorKind === 'precondition').length;
  return { passRate: passRate(outcomes), invalid, traces };
}

describe('the simulator (sim:small / sim:large)', () => {
  it('is deterministic for a seed and varies across seeds', async () => {
    const a = await evaluate('sim:small');
    const b = await evaluate('sim:small');
    expect(b.traces.map((t) => t.records.filter((r) => r.kind === 'tool_call'))).toEqual(a.traces.map((t) => t.records.filter((r) => r.kind === 'tool_call')));
    const c = await evaluate('sim:small', [], 'another-seed');
    expect(JSON.stringify(c.traces.map((t) => t.steps))).not.toBe(JSON.stringify(a.traces.map((t) => t.steps)));
  });

  it('makes fewer invalid actions when the harness lists admissible actions', async () => {
    const bare = await evaluate('sim:small');
    const listed = await evaluate('sim:small', [{ op: 'insert', hook: 'before_model', processor: { id: 'adm', type: 'admissible_actions', params: {} } }]);
    expect(listed.invalid).toBeLessThan(bare.invalid / 2);
  });

  it('benefits from a better harness, the small model more than the large one', async () => {
    const better = [
      { op: 'insert', hook: 'after_model', processor: { id: 'repair', type: 'format_repair', params: {} } },
      { op: 'insert', hook: 'before_model', processor: { id: 'adm', type: 'admissible_actions', params: {} } },
      { op: 'insert', hook: 'before_model', processor: { id: 'loop', type: 'loop_detection', params: {} } },
      { op: 'insert', hook: 'before_model', processor: { id: 'plan', type: 'plan_then_act', params: {} } },
    ] as const;
    const small = [await evaluate('sim:small'), await evaluate('sim:small', [...better])];
    const large = [await evaluate('sim:large'), await evaluate('sim:large', [...better])];
    expect(large[0].passRate).toBeGreaterThan(small[0].passRate);
    expect(small[1].passRate - small[0].passRate).toBeGreaterThan(large[1].passRate - large[0].passRate);
    expect(small[1].passRate).toBeGreaterThan(0.7);
  });

  it('reads only the request: without the task statement in view it cannot act', async () => {
    const model = createModel('sim:large', { seed: 's' });
    const env = bench.createEnvironment(ids[0], { seed: 's' });
    const withTask = await model.generate({ purpose: 'act', messages: [{ role: 'user', content: env.instruction() }], parts: [], tools: env.tools() });
    expect(withTask.toolCalls.length + withTask.text.length).toBeGreaterThan(0);
    const without = await model.generate({ purpose: 'act', messages: [{ role: 'user', content: 'Current state: the red block is clear.' }], parts: [], tools: env.tools() });
    expect(without.toolCalls).toEqual([]);
  });

  it('rejects unknown sizes with a clear error', () => {
    expect(() => createModel('sim:huge', { seed: 's' })).toThrow(/unknown simulator size "huge"/);
    expect(() => createModel('nope', { seed: 's' })).toThrow(/provider:name/);
  });
});

import { rolloutTasks } from '../aegis/rollout';
import { getBenchmark } from '../benchmarks/registry';
import { applyEdits } from '../harness/builder';
import { harnessId } from '../harness/config';
import { seedHarness } from '../harness/seed';
const benchmark = getBenchmark('blocksworld');
const built = applyEdits(seedHarness(), [
  { op: 'insert', hook: 'after_model', processor: { id: 'format_repair', type: 'format_repair', params: {} } },
  { op: 'insert', hook: 'before_tool', processor: { id: 'arg_validation', type: 'arg_validation', params: {} } },
  { op: 'insert', hook: 'before_model', processor: { id: 'admissible_actions', type: 'admissible_actions', params: {} } },
  { op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } },
  { op: 'insert', hook: 'before_model', processor: { id: 'notes', type: 'notes', params: {} } },
  { op: 'insert', hook: 'before_model', processor: { id: 'plan_then_act', type: 'plan_then_act', params: {} } },
]);
if (!built.ok) throw new Error('x');
const config = built.config;
const ids = benchmark.tasks().map((t) => t.id);
(async () => {
  for (let r = 0; r < 4; r++) await Promise.all([0, 1, 2, 3, 4].map((c) => rolloutTasks({ benchmark, config, harnessId: harnessId(config), taskIds: ids.slice(c * 60, c * 60 + 60), k: 2, seed: `p${r}`, keepTraces: false, ...(process.env.CONC ? { concurrency: Number(process.env.CONC) } : {}), ...(process.env.NOLIM ? { limiters: null } : {}) })));
})();

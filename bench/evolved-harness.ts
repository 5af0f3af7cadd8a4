import { applyEdits } from '../harness/builder';
import type { HarnessConfig } from '../harness/config';
import { seedHarness } from '../harness/seed';

/** A harness as evolution typically leaves it (six processors over the seed): what the benches roll out. */
export function evolvedHarness(): HarnessConfig {
  const built = applyEdits(seedHarness(), [
    { op: 'insert', hook: 'after_model', processor: { id: 'format_repair', type: 'format_repair', params: {} } },
    { op: 'insert', hook: 'before_tool', processor: { id: 'arg_validation', type: 'arg_validation', params: {} } },
    { op: 'insert', hook: 'before_model', processor: { id: 'admissible_actions', type: 'admissible_actions', params: {} } },
    { op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } },
    { op: 'insert', hook: 'before_model', processor: { id: 'notes', type: 'notes', params: {} } },
    { op: 'insert', hook: 'before_model', processor: { id: 'plan_then_act', type: 'plan_then_act', params: {} } },
  ]);
  if (!built.ok) throw new Error(built.error.message);
  return built.config;
}

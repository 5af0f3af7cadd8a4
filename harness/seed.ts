import { HarnessConfig, parseHarnessConfig } from './config';

/** The default starting point for evolution: a bare prompt, a step budget and the tracer. */
export function seedHarness(model = 'sim:small'): HarnessConfig {
  return parseHarnessConfig({
    name: 'seed',
    model: { main: { model } },
    hooks: {
      task_start: [{ id: 'system_prompt', type: 'system_prompt', params: {} }],
      step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 14 } }],
      step_end: [{ id: 'tracer', type: 'tracer', params: {} }],
    },
  });
}

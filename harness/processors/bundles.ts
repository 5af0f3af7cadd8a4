import type { HookName } from '../types';

/**
 * Bundles: named, versioned processor sets with params (the report's seven), applied as one edit
 * (`{"op":"bundle","name":"reliability"}`). Applying a bundle, each member in order: a processor of the
 * same type already in the harness is configured with the member's params; one holding the member's
 * singleton group on that hook is replaced; otherwise the member is inserted under its id.
 */
export interface BundleMember {
  hook: HookName;
  id: string;
  type: string;
  params: Record<string, unknown>;
}
export interface Bundle {
  name: string;
  version: number;
  description: string;
  members: BundleMember[];
}

const m = (hook: HookName, type: string, params: Record<string, unknown> = {}, id = type): BundleMember => ({ hook, id, type, params });

export const BUNDLES: readonly Bundle[] = [
  {
    name: 'reliability',
    version: 1,
    description: 'Recover from malformed replies and failing tools: parse retry, tool-call correction, transient-fault retry, the tool-failure guard and repeated-action detection.',
    members: [m('after_model', 'parse_retry'), m('before_tool', 'tool_call_correction'), m('after_tool', 'tool_retry'), m('after_tool', 'tool_failure_guard'), m('before_model', 'repeated_action')],
  },
  {
    name: 'context',
    version: 1,
    description: 'Keep long episodes inside the context: compaction with the summariser model, a notes scratchpad and the suite\'s skills.',
    members: [m('step_start', 'context_compaction'), m('before_model', 'notes'), m('task_start', 'skill_loader')],
  },
  {
    name: 'control',
    version: 1,
    description: 'Steer toward the goal and stop waste: sub-goal tracking, loop and repeated-action detection, a token budget.',
    members: [m('before_model', 'todo_tracking'), m('before_model', 'loop_detection'), m('before_model', 'repeated_action'), m('after_model', 'token_budget')],
  },
  {
    name: 'contrarian',
    version: 1,
    description: 'Hold to the policy and the facts in dialogue: sycophancy detection and a self-check of final answers by the judge model.',
    members: [m('before_model', 'sycophancy_guard'), m('after_model', 'self_verify')],
  },
  {
    name: 'execution',
    version: 1,
    description: 'Run within means and measure it: a model router, a cost guard, episode checkpoints and process-reward scoring.',
    members: [m('before_model', 'model_router'), m('after_model', 'cost_guard'), m('step_end', 'episode_metrics'), m('step_end', 'process_reward')],
  },
  {
    name: 'tools',
    version: 1,
    description: 'Use tools well: documented tools, argument correction against the schema, transient-fault retry and the tool-failure guard.',
    members: [m('task_start', 'tool_docs'), m('before_tool', 'tool_call_correction'), m('after_tool', 'tool_retry'), m('after_tool', 'tool_failure_guard')],
  },
  {
    name: 'coding',
    version: 1,
    description: 'For code and answer tasks: parse retry, a self-check before the final answer, sub-goal tracking and the tool-failure guard.',
    members: [m('after_model', 'parse_retry'), m('after_model', 'self_verify'), m('before_model', 'todo_tracking'), m('after_tool', 'tool_failure_guard')],
  },
];

export function getBundle(name: string): Bundle | undefined {
  return BUNDLES.find((b) => b.name === name);
}

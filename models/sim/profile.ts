import type { ModelRequest } from '../../harness/types';

/**
 * Base error rates of a simulated model size, per decision. A better harness lowers the effective rates
 * (see contextSignals), and helps the small model more because its base rates are higher.
 */
export interface SimProfile {
  invalid: number;
  loop: number;
  subgoal: number;
  format: number;
  planError: number;
}

export const SIM_PROFILES: Record<string, SimProfile> = {
  small: { invalid: 0.25, loop: 0.22, subgoal: 0.25, format: 0.25, planError: 0.4 },
  large: { invalid: 0.08, loop: 0.07, subgoal: 0.1, format: 0.06, planError: 0.1 },
};

export interface ContextSignals {
  formatInstructions: boolean;
  examples: boolean;
  admissibleListed: boolean;
  structuredObservation: boolean;
  visitedStates: boolean;
  loopWarning: boolean;
  notes: boolean;
  /** A sub-goal checklist (todo_tracking) and a repeated-call warning (repeated_action): a real model uses both. */
  todo?: boolean;
  repeatWarning?: boolean;
  plan: { steps: Array<{ name: string; args: Record<string, unknown> }>; next: number } | null;
  /** Non-system messages in view; long contexts degrade every rate ("context rot"). */
  contextLength: number;
}

/** What the harness put into the request, as the simulator perceives it. Reads the request only. */
export function contextSignals(request: ModelRequest): ContextSignals {
  const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
  const kinds = new Set(request.parts.map((p) => p.kind));
  const planPart = request.parts.find((p) => p.kind === 'plan')?.data as ContextSignals['plan'] | undefined;
  const lastState = [...request.messages].reverse().find((m) => /Current state:/.test(m.content));
  return {
    formatInstructions: /exactly one tool call|call exactly one/i.test(system),
    examples: /Example \d/.test(system),
    admissibleListed: kinds.has('admissible_actions'),
    structuredObservation: !!lastState && /Current state:\s*\n\s*(-|\d+\.)\s/.test(lastState.content),
    visitedStates: kinds.has('visited_states'),
    loopWarning: kinds.has('loop_warning'),
    notes: kinds.has('notes'),
    todo: kinds.has('todo'),
    repeatWarning: kinds.has('repeated_action'),
    plan: planPart && Array.isArray(planPart.steps) ? planPart : null,
    contextLength: request.messages.filter((m) => m.role !== 'system').length,
  };
}

/** Effective per-decision error rates given a profile and what the context offers. */
export function effectiveRates(profile: SimProfile, s: ContextSignals): SimProfile {
  const rot = Math.min(3, 1 + 0.04 * Math.max(0, s.contextLength - 14));
  const format = profile.format * (s.formatInstructions ? 0.3 : 1) * (s.examples ? 0.5 : 1);
  const invalid = profile.invalid * (s.admissibleListed ? 0.1 : 1) * (s.structuredObservation ? 0.7 : 1) * (s.examples ? 0.8 : 1);
  const loop = profile.loop * (s.visitedStates ? 0.35 : 1) * (s.loopWarning ? 0.2 : 1) * (s.notes ? 0.7 : 1) * (s.plan ? 0.5 : 1) * (s.repeatWarning ? 0.5 : 1);
  const subgoal = profile.subgoal * (s.notes ? 0.6 : 1) * (s.plan ? 0.4 : 1) * (s.todo ? 0.6 : 1);
  const cap = (x: number) => Math.min(0.95, x * rot);
  return { format: cap(format), invalid: cap(invalid), loop: cap(loop), subgoal: cap(subgoal), planError: profile.planError };
}

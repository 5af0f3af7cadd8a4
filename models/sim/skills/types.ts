import type { ToolCall } from '../../../harness/types';

/** What a simulator skill decides for one turn: a tool call, prose, a plan, or that it is lost. */
export type SkillDecision = { kind: 'call'; call: Omit<ToolCall, 'id'> } | { kind: 'prose'; text: string } | { kind: 'plan'; lines: string[] } | { kind: 'lost'; text: string };

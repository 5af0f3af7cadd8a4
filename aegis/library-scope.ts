/**
 * Which part of the processor library a run's meta-agent may propose from (run input `processorLibrary`):
 * 'full' — every processor type and every bundle; 'core' — only the 15 types the library had before it grew
 * to the report's breadth (#30), plus `code`, and no bundles. 'core' exists so `compare` can measure whether
 * the wider space helps at equal budget. Pure (no imports): the workflow bundle validates run input with it.
 */
export const PROCESSOR_LIBRARIES = ['full', 'core'] as const;
export type ProcessorLibraryName = (typeof PROCESSOR_LIBRARIES)[number];
export const DEFAULT_PROCESSOR_LIBRARY: ProcessorLibraryName = 'full';

/** The library before #30 grew it (git show c195e35^:harness/processors/index.ts), plus `code`. */
export const CORE_PROCESSOR_TYPES: readonly string[] = [
  'system_prompt', 'observation_format', 'admissible_actions', 'few_shot',
  'sliding_window', 'episode_summary', 'notes',
  'tool_docs', 'arg_validation', 'tool_retry',
  'step_budget', 'loop_detection', 'format_repair', 'plan_then_act',
  'tracer',
  'code',
];
const CORE = new Set(CORE_PROCESSOR_TYPES);

/** True when a run with this library may propose (insert or replace to) a processor of this type. */
export function typeInLibrary(type: string, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): boolean {
  return library === 'full' || CORE.has(type);
}

/** True when a run with this library may apply bundles. */
export function bundlesInLibrary(library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): boolean {
  return library === 'full';
}

/**
 * Why an edit is outside the run's library, or null when it is inside: inserts and replaces must name a
 * type of the library, and bundles need the full library. Removing, configuring or moving a processor the
 * harness already has is always allowed (the seed harness may carry any type).
 */
export function editOutsideLibrary(edit: { op: string; processor?: { type: string }; name?: string }, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): string | null {
  if (library === 'full') return null;
  if (edit.op === 'bundle') return `bundle "${edit.name}": this run's processor library is "core", which has no bundles`;
  if ((edit.op === 'insert' || edit.op === 'replace') && edit.processor && !CORE.has(edit.processor.type))
    return `processor type "${edit.processor.type}" is not in this run's processor library "core" (${CORE_PROCESSOR_TYPES.join(', ')})`;
  return null;
}

import { applyEdits, Edit } from '../harness/builder';
import type { HarnessConfig } from '../harness/config';
import { PROCESSOR_LIBRARY } from '../harness/processors';
import { HOOKS } from '../harness/types';
import { DEFAULT_PROCESSOR_LIBRARY, ProcessorLibraryName, typeInLibrary } from './library-scope';
import type { Bucket } from './types';

/**
 * The space of single builder edits on a harness: what the random baseline draws from and what the rules
 * Planner explores once its catalogue is exhausted. Its own module so neither evolver imports the other.
 */

/** The bucket an inserted library processor is filed under, by its dimension. */
const BUCKET_OF: Record<string, Bucket> = { context: 'prompt', memory: 'processor', tools: 'tools', control: 'processor', observability: 'processor' };

/**
 * Every valid single builder edit on a config: inserts of library types at their hooks, removals, budget
 * changes. `library`: the run's processor library ('core' inserts only the pre-#30 types).
 */
export function validSingleEdits(config: HarnessConfig, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Array<{ edit: Edit; bucket: Bucket }> {
  const out: Array<{ edit: Edit; bucket: Bucket }> = [];
  for (const def of Object.values(PROCESSOR_LIBRARY)) {
    if (def.type === 'code' || !typeInLibrary(def.type, library)) continue; // code needs a source: random search does not write programs
    for (const hook of def.hooks) out.push({ edit: { op: 'insert', hook, processor: { id: def.type, type: def.type, params: {} } }, bucket: BUCKET_OF[def.dimension] });
  }
  for (const hook of HOOKS)
    for (const p of config.hooks[hook]) {
      if (p.type !== 'system_prompt') out.push({ edit: { op: 'remove', processorId: p.id }, bucket: 'processor' });
      if (p.type === 'step_budget') for (const maxSteps of [8, 20, 30, 45]) out.push({ edit: { op: 'configure', processorId: p.id, params: { maxSteps } }, bucket: 'config' });
    }
  return out.filter(({ edit }) => applyEdits(config, [edit]).ok);
}


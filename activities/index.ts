import { atActivityBoundary } from './boundary';
import { createBookkeepingActivities } from './bookkeeping';
import { createCoevolutionActivities } from './coevolution';
import { createGateActivities } from './gate';
import { createLiveActivities } from './live';
import { createMetaStageActivities } from './meta-stages';
import { createRolloutActivities } from './rollouts';
import { ActivityDeps, checkSuiteKnown, checkTaskIds, createActivityServices, TASK_ID_FIELDS } from './services';

export { providerFailure } from './boundary';
export { OUTCOME_CACHE_VERSION } from './outcome-cache';
export type { OutcomesResult, RolloutResult } from './rollouts';
export type { StageSpec } from './meta-stages';
export type { ActivityDeps } from './services';
export { totalSpend } from './spend';
export type { Spend } from './spend';

/**
 * Activities: thin adapters that give the pure parts I/O (store, benchmarks, models), one group per file,
 * all built from one set of services and all behind one boundary (task-id checks, heartbeats, provider-error
 * classification, failure messages free of host paths).
 * Built by a factory so tests inject their own store and meta-agent. Workflows import this module as types
 * only, and schedule activities by name: a name, its arguments and its result shape are fixed by the
 * recorded histories (tests/replay-histories).
 */
export function createActivities(deps: ActivityDeps) {
  const services = createActivityServices(deps);
  const all = {
    ...createBookkeepingActivities(services),
    ...createRolloutActivities(services),
    ...createMetaStageActivities(services),
    ...createGateActivities(services),
    ...createCoevolutionActivities(services.store),
    ...createLiveActivities(services),
  };
  // Every activity that names a suite checks it first (prepareRun, the first activity of a run, among them).
  const inputCheck = (name: string) => (TASK_ID_FIELDS[name] ? (input: unknown) => checkTaskIds(input, TASK_ID_FIELDS[name]) : checkSuiteKnown);
  return Object.fromEntries(Object.entries(all).map(([name, fn]) => [name, atActivityBoundary(fn as (...a: unknown[]) => Promise<unknown>, inputCheck(name))])) as typeof all;
}

export type Activities = ReturnType<typeof createActivities>;

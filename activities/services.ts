import { ApplicationFailure } from '@temporalio/activity';
import { CodeProcessorsVerdict, verifyCodeProcessors } from '../aegis/gate';
import type { MetaAgent } from '../aegis/meta-agent';
import { getBenchmark, knownBenchmarkNames } from '../benchmarks/registry';
import type { HarnessConfig } from '../harness/config';
import { capProblems, taskIdProblem } from '../harness/sandbox/input-bounds';
import type { Model } from '../harness/processor';
import type { ModelResponse } from '../harness/types';
import { ResponseCache, withResponseCache } from '../models/cached-model';
import { outageBudgetMs } from '../store/outage';
import type { Store } from '../store/store';
import { createOutcomeCache, OutcomeCache } from './outcome-cache';
import { activityOutagePolicy } from './store-outage';

/** What a worker gives its activities: tests inject their own store and meta-agent. */
export interface ActivityDeps {
  store: Store;
  metaAgent?: MetaAgent;
  /**
   * Tests and the bench only, never reachable from workflow input: replaces each task model a rollout
   * creates (under the endpoint limiter), e.g. the simulator over the wire to a server with latency.
   */
  substituteRolloutModel?: (model: Model, sample: string) => Model;
}

/**
 * What every group of activities is built from, once per createActivities: the store, the caches that make
 * retried and resumed activities free, and the wrappers every model an activity calls goes through.
 */
export interface ActivityServices {
  store: Store;
  /** Model responses cached in the store: a retried or resumed call never pays twice. */
  responseCache: ResponseCache;
  /** Wraps a rollout's task model; `sample` tells repeated attempts of one task apart in the response cache. */
  wrapRolloutModel: (model: Model, sample: string) => Model;
  /** Wraps a meta-agent's model (digest, plan, evolve, critique). */
  wrapMetaModel: (model: Model) => Model;
  outcomeCache: OutcomeCache;
  /** A meta-agent that replaces the one a run asks for (tests). */
  metaAgent?: MetaAgent;
  /** See ActivityDeps.substituteRolloutModel (tests and the bench). */
  substituteRolloutModel?: (model: Model, sample: string) => Model;
}

export function createActivityServices(deps: ActivityDeps): ActivityServices {
  // The one place activities get their store: a store reached over a network waits out its outages here
  // (HARNESSX_STORE_OUTAGE_MINUTES, store/outage.ts) instead of failing the activity, and with it the run.
  const store = deps.store.withOutagePolicy ? deps.store.withOutagePolicy(activityOutagePolicy(outageBudgetMs())) : deps.store;
  const responseCache: ResponseCache = {
    get: (key) => store.cacheGet<ModelResponse>('responses', key),
    set: (key, response) => store.cacheSet('responses', key, response),
  };
  // Rollouts cache paid providers' responses (HARNESSX_RESPONSE_CACHE=off disables); the simulator is free.
  const wrapRolloutModel = (model: Model, sample: string): Model =>
    process.env.HARNESSX_RESPONSE_CACHE === 'off' || model.id.startsWith('sim:') ? model : withResponseCache(model, responseCache, sample);
  // The meta-agent's calls are always response-cached (HARNESSX_META_RESPONSE_CACHE=off disables), so a
  // retried or resumed stage never pays twice.
  const wrapMetaModel = (model: Model): Model => (process.env.HARNESSX_META_RESPONSE_CACHE === 'off' ? model : withResponseCache(model, responseCache, 'meta'));
  return { store, responseCache, wrapRolloutModel, wrapMetaModel, outcomeCache: createOutcomeCache(store), metaAgent: deps.metaAgent, substituteRolloutModel: deps.substituteRolloutModel };
}

/**
 * Task ids in activity input, checked once at the activity boundary (see createActivities): which input
 * fields of which activities name tasks of `input.benchmark`.
 */
export const TASK_ID_FIELDS: Readonly<Record<string, readonly string[]>> = {
  rollout: ['taskIds'],
  rolloutOutcomes: ['taskIds'],
  evaluate: ['taskIds'],
  gate: ['gateTaskIds'],
  ensembleRollout: ['taskIds', 'validationIds'],
  ensembleEvaluate: ['taskIds'],
};

const knownTaskIds = new Map<string, Set<string>>();
function taskIdsOf(benchmark: string): Set<string> {
  let ids = knownTaskIds.get(benchmark);
  if (!ids) knownTaskIds.set(benchmark, (ids = new Set(getBenchmark(benchmark).tasks().map((t) => t.id))));
  return ids;
}

/**
 * Refuses an activity input naming a suite (its `benchmark` field) this worker does not know. Workflows
 * check only the name's shape (they cannot see the workers' configs), so the run's first activity is where
 * an unknown suite is caught: non-retryably, since every attempt on this worker fails the same way, and
 * listing what the worker knows (its built-in benchmarks and the suites its config declares).
 */
export function checkSuiteKnown(input: unknown): void {
  const benchmark = (input as { benchmark?: unknown } | null)?.benchmark;
  if (typeof benchmark !== 'string') return;
  const known = knownBenchmarkNames();
  if (!known.includes(benchmark)) throw ApplicationFailure.nonRetryable(`unknown suite ${JSON.stringify(benchmark.slice(0, 80))}; this worker knows: ${known.join(', ')}`, 'InvalidInput');
}

/**
 * Refuses an activity input whose benchmark is unknown or whose task ids (in `fields`) are malformed or
 * not the benchmark's: the same input fails the same way on every attempt, so it fails at once,
 * non-retryably, naming the first ids (capped).
 */
export function checkTaskIds(input: unknown, fields: readonly string[]): void {
  const record = (input ?? {}) as Record<string, unknown>;
  const benchmark = record.benchmark;
  if (typeof benchmark !== 'string') throw ApplicationFailure.nonRetryable(`unknown suite ${JSON.stringify(String(benchmark).slice(0, 80))}; this worker knows: ${knownBenchmarkNames().join(', ')}`, 'InvalidInput');
  checkSuiteKnown(input);
  const known = taskIdsOf(benchmark);
  const problems: string[] = [];
  for (const field of fields) {
    const ids = record[field];
    if (ids === undefined) continue;
    if (!Array.isArray(ids)) {
      problems.push(`${field}: expected a list of task ids`);
      continue;
    }
    for (const id of ids) {
      const malformed = taskIdProblem(id);
      if (malformed) problems.push(`${field}: ${malformed}`);
      else if (!known.has(id as string)) problems.push(`${field}: ${benchmark} has no task ${JSON.stringify(id)}`);
    }
  }
  if (problems.length) {
    const shown = capProblems(problems);
    throw ApplicationFailure.nonRetryable(`invalid task ids:\n${shown.map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput', { problems: shown });
  }
}

/** Verdicts per (benchmark, harness id): harness ids are content hashes, so a verdict holds for the process. */
const harnessVerdicts = new Map<string, Promise<CodeProcessorsVerdict>>();
const MAX_HARNESS_VERDICTS = 1000;

/**
 * A stored harness, once its code processors pass what the gate asks of evolved code (verifyCodeProcessors,
 * once per harness id): a harness that reached the store without the gate (written by hand, by an older
 * version) fails the activity at once, naming its processors, instead of failing every episode.
 */
export async function loadVerifiedHarness(store: Store, harnessId: string, benchmark: string): Promise<HarnessConfig> {
  const config = await store.getHarness(harnessId);
  const key = `${benchmark}|${harnessId}`;
  let verdict = harnessVerdicts.get(key);
  if (!verdict) {
    verdict = verifyCodeProcessors(config, getBenchmark(benchmark));
    if (harnessVerdicts.size >= MAX_HARNESS_VERDICTS) harnessVerdicts.clear();
    harnessVerdicts.set(key, verdict);
  }
  const checked = await verdict;
  if (!checked.passed) throw ApplicationFailure.nonRetryable(`harness ${harnessId} has code processors that fail verification: ${checked.detail}`, 'InvalidInput');
  return config;
}

import type { MetaAgent } from '../aegis/meta-agent';
import type { Model } from '../harness/processor';
import type { ModelResponse } from '../harness/types';
import { ResponseCache, withResponseCache } from '../models/cached-model';
import type { ArtifactStore } from '../store/artifact-store';
import { createOutcomeCache, OutcomeCache } from './outcome-cache';

/** What a worker gives its activities: tests inject their own store and meta-agent. */
export interface ActivityDeps {
  store: ArtifactStore;
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
  store: ArtifactStore;
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
  const { store } = deps;
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

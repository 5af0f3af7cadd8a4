import { ApplicationFailure, Context } from '@temporalio/activity';
import { digestTraces } from '../aegis/digester';
import { checkCanonicalForm, checkCodeProcessors, checkManifest, checkRewardHacking, seesaw, statisticalSeesaw, suspectedRegressions } from '../aegis/gate';
import { CandidateDraft, MetaAgent, StageFailure, TriedEdit } from '../aegis/meta-agent';
import { LlmMetaAgent } from '../aegis/llm/llm-meta-agent';
import { RandomMetaAgent } from '../aegis/baselines/random-evolver';
import { PromptPoolEntry, PromptPoolStore, ReflectivePromptMetaAgent } from '../aegis/baselines/reflective-prompt';
import { SingleAgentMetaAgent } from '../aegis/baselines/single-agent';
import { passRate, rolloutTasks, runOneEpisode, TaskOutcome } from '../aegis/rollout';
import { forkVariant, recordOutcomes, routeTasks, Variant } from '../aegis/variants';
import { RuleBasedMetaAgent } from '../aegis/rule-based-agent';
import { GATE_CHECKS } from '../aegis/types';
import type { AuditRecord, Candidate, Critique, Digest, GateCheckResult, GateResult, Landscape } from '../aegis/types';
import { getBenchmark } from '../benchmarks/registry';
import { sampleIds } from '../benchmarks/split';
import { HarnessConfigError, parseHarnessConfig } from '../harness/config';
import { seedHarness } from '../harness/seed';
import type { EpisodeTrace } from '../harness/trace';
import type { Model } from '../harness/processor';
import type { ModelResponse } from '../harness/types';
import { ResponseCache, withResponseCache } from '../models/cached-model';
import { ProviderError } from '../models/errors';
import { costUsd, priceOf, priceTable } from '../models/prices';
import { checkModelString, createModel } from '../models/registry';
import type { ArtifactStore } from '../store/artifact-store';
import { heartbeat, progressPacer } from './activity-context';
import { createCoevolutionActivities } from './coevolution';

/**
 * Part of every cached outcome's key. Outcomes depend on code as well as data (the simulator, benchmark
 * environments, the run loop): bump this when any of them changes behaviour, so a store that outlives an
 * upgrade never serves stale results. The package version is part of the key too.
 */
export const OUTCOME_CACHE_VERSION = `2-${require('../package.json').version}`;

function outcomeKey(input: { benchmark: string; harnessId: string; k: number; seed: string }, taskId: string) {
  return { v: OUTCOME_CACHE_VERSION, b: input.benchmark, h: input.harnessId, t: taskId, k: input.k, s: input.seed };
}

/** Which meta-agent runs a stage: the run's evolver (aegis or a baseline) and its model ('rules' or a model string). */
export interface StageSpec {
  metaAgent?: string;
  evolver?: 'aegis' | 'single-agent' | 'random' | 'reflective-prompt';
  seed?: string;
}

export interface ActivityDeps {
  store: ArtifactStore;
  metaAgent?: MetaAgent;
}

function workflowIdOrNull(): string | null {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? null;
  } catch {
    return null;
  }
}

/**
 * Fault injection for durability tests: HARNESSX_FAULT_DELAY="<stage>:<ms>" holds that stage open (leaving a
 * marker in the run's folder once it has started) so a test can kill the worker inside it. Unset: no-op.
 */
async function faultPoint(store: ArtifactStore, stage: string): Promise<void> {
  const [name, ms] = (process.env.HARNESSX_FAULT_DELAY ?? '').split(':');
  const runId = workflowIdOrNull();
  if (name !== stage || !runId) return;
  store.writeRunFile(runId, `fault-${stage}`, new Date().toISOString());
  const until = Date.now() + Number(ms || 0);
  while (Date.now() < until) {
    heartbeat({ fault: stage });
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The activity boundary: every activity heartbeats at least every 5 s while it waits (a dead worker is
 * noticed quickly), and provider errors are classified here, once: retryable ones carry the server's
 * retry-after as the next retry delay, the others fail the activity for good with provider, model and cause.
 */
function atActivityBoundary<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const timer = setInterval(() => heartbeat(), 5000);
    try {
      return await fn(...args);
    } catch (e) {
      if (e instanceof ProviderError) throw providerFailure(e);
      throw e;
    } finally {
      clearInterval(timer);
    }
  };
}

export function providerFailure(e: ProviderError): ApplicationFailure {
  const type = { rate_limited: 'ProviderRateLimited', unavailable: 'ProviderUnavailable', rejected: 'ProviderRejected', malformed_response: 'ProviderMalformedResponse' }[e.kind];
  return ApplicationFailure.create({
    message: e.message,
    type,
    nonRetryable: !e.retryable,
    nextRetryDelay: e.retryAfterMs ?? undefined,
    details: [{ provider: e.provider, model: e.model, status: e.status }],
  });
}

export interface Spend {
  inputTokens: number;
  outputTokens: number;
  tokens: number;
  /** USD from the price table; null when the model is unpriced. */
  costUsd: number | null;
}

/** Adds up spends; cost stays null if any part is unpriced. */
export function totalSpend(parts: Spend[]): Spend {
  return parts.reduce<Spend>(
    (a, b) => ({ inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, tokens: a.tokens + b.tokens, costUsd: a.costUsd === null || b.costUsd === null ? null : a.costUsd + b.costUsd }),
    { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 },
  );
}

/** A rollout's outcomes and spend (evaluation needs no traces). */
export interface OutcomesResult {
  outcomesRef: string;
  passRate: number;
  passed: number;
  tasks: number;
  episodes: number;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  /** USD from the price table; null when the model is unpriced. */
  costUsd: number | null;
}

/** A rollout's outcomes, spend and traces (what the Digester reads). */
export interface RolloutResult extends OutcomesResult {
  tracesRef: string;
}

/**
 * Activities: thin adapters that give the pure parts I/O (store, benchmarks, models). Built by a factory
 * so tests inject their own store and meta-agent. Workflows import this module as types only.
 */
export function createActivities(deps: ActivityDeps) {
  const { store } = deps;
  const rules = new RuleBasedMetaAgent();

  // Model responses cached in the store: a retried or resumed call never pays twice.
  const responseCache: ResponseCache = {
    get: (key) => store.cacheGet<ModelResponse>('responses', key),
    set: (key, response) => store.cacheSet('responses', key, response),
  };
  // Rollouts cache paid providers' responses (HARNESSX_RESPONSE_CACHE=off disables); the simulator is free.
  const wrapModel = (model: Model, sample: string): Model =>
    process.env.HARNESSX_RESPONSE_CACHE === 'off' || model.id.startsWith('sim:') ? model : withResponseCache(model, responseCache, sample);

  /**
   * The meta-agent a run asked for: 'rules' (deterministic) or a model string for the LLM meta-agent, whose
   * calls are always response-cached (HARNESSX_META_RESPONSE_CACHE=off disables), so a retried or resumed
   * stage never pays twice. One LLM agent per activity call: its usage is that call's spend.
   */
  const agentFor = (spec: StageSpec): MetaAgent => {
    if (deps.metaAgent) return deps.metaAgent;
    const name = spec.metaAgent ?? 'rules';
    const created = name === 'rules' ? null : createModel(name, { seed: 'meta' });
    const model = created && (process.env.HARNESSX_META_RESPONSE_CACHE === 'off' ? created : withResponseCache(created, responseCache, 'meta'));
    switch (spec.evolver ?? 'aegis') {
      case 'random':
        return new RandomMetaAgent(spec.seed ?? 'harnessx');
      case 'single-agent':
        return new SingleAgentMetaAgent(model);
      case 'reflective-prompt': {
        const runId = workflowIdOrNull() ?? 'local';
        const pool: PromptPoolStore = {
          load: () => store.readRunFile<PromptPoolEntry[]>(runId, 'prompt-pool.json') ?? [],
          save: (entries) => void store.writeRunFile(runId, 'prompt-pool.json', JSON.stringify(entries)),
        };
        return new ReflectivePromptMetaAgent(model, pool, spec.seed ?? 'harnessx');
      }
      default:
        return model ? new LlmMetaAgent(model) : rules;
    }
  };
  const metaSpend = (agent: MetaAgent, name: string | undefined): Spend => {
    const u = agent.usage?.();
    if (!u || u.calls === 0) return { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 };
    return { ...u.usage, tokens: u.usage.inputTokens + u.usage.outputTokens, costUsd: costUsd(name ?? '', u.usage) };
  };
  /** Runs a meta-agent stage: a StageFailure becomes a recorded failure (the round no-ops), never a retry. */
  async function stage<R extends object>(spec: StageSpec, fn: (agent: MetaAgent) => Promise<R>): Promise<(R & { failed?: undefined; spend: Spend }) | { failed: string; spend: Spend }> {
    const agent = agentFor(spec);
    try {
      const r = await fn(agent);
      return { ...r, spend: metaSpend(agent, spec.metaAgent) };
    } catch (e) {
      if (e instanceof StageFailure) return { failed: e.message, spend: metaSpend(agent, spec.metaAgent) };
      throw e;
    }
  }

  /**
   * Rolls a harness out on tasks. With `writeTraces`, every trace is written to the store as its episode
   * ends (tracesRef); otherwise traces are not needed (gates and evaluations use outcomes) and are dropped.
   */
  async function rolloutInternal(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string; recordPolicy?: boolean }, writeTraces = false): Promise<{ outcomes: TaskOutcome[]; episodes: number; spend: Spend; tracesRef?: string }> {
    const config = store.getHarness(input.harnessId);
    const pace = progressPacer();
    const traces = writeTraces ? store.arrayWriter() : null;
    const result = await rolloutTasks({
      wrapModel,
      benchmark: getBenchmark(input.benchmark),
      config,
      harnessId: input.harnessId,
      taskIds: input.taskIds,
      k: input.k,
      seed: input.seed,
      recordPolicy: input.recordPolicy,
      keepTraces: false,
      ...(traces ? { onTrace: (trace: EpisodeTrace) => traces.add(trace) } : {}),
      onEpisode: (done, total) => pace({ done, total }),
    });
    const { inputTokens, outputTokens } = result.usage;
    const spend: Spend = { inputTokens, outputTokens, tokens: inputTokens + outputTokens, costUsd: costUsd(config.model.main.model, result.usage) };
    return { outcomes: result.outcomes, episodes: result.episodes, spend, ...(traces ? { tracesRef: await traces.finish() } : {}) };
  }

  /** A rollout whose per-task outcomes are cached (gates and evaluations reuse them) and stored. */
  async function rolloutAndRecord(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string; recordPolicy?: boolean }, writeTraces: boolean): Promise<OutcomesResult & { tracesRef?: string }> {
    const { outcomes, episodes, spend: used, tracesRef } = await rolloutInternal(input, writeTraces);
    store.cacheSetMany('outcomes', outcomes.map((o) => [outcomeKey(input, o.taskId), o]));
    return {
      outcomesRef: store.put(outcomes),
      ...(tracesRef ? { tracesRef } : {}),
      passRate: passRate(outcomes),
      passed: outcomes.filter((o) => o.passed).length,
      tasks: outcomes.length,
      episodes,
      ...used,
    };
  }

  /** Outcomes for (harness, tasks, k, seed), reusing cached per-task outcomes: re-evaluation is free. */
  async function outcomesFor(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string }, spent?: Spend[]): Promise<TaskOutcome[]> {
    const key = (taskId: string) => outcomeKey(input, taskId);
    const cached = new Map<string, TaskOutcome>();
    for (const id of input.taskIds) {
      const hit = store.cacheGet<TaskOutcome>('outcomes', key(id));
      if (hit) cached.set(id, hit);
    }
    const missing = input.taskIds.filter((id) => !cached.has(id));
    if (missing.length) {
      const { outcomes, spend: used } = await rolloutInternal({ ...input, taskIds: missing });
      spent?.push(used);
      store.cacheSetMany('outcomes', outcomes.map((o) => [key(o.taskId), o]));
      for (const o of outcomes) cached.set(o.taskId, o);
    }
    return input.taskIds.map((id) => cached.get(id)!);
  }

  const clusterFn = (benchmark: string) => {
    const b = getBenchmark(benchmark);
    return (taskId: string) => b.cluster?.(taskId) ?? 'all';
  };

  function storeCandidates(existing: Candidate[], drafts: CandidateDraft[]) {
    const candidates: Candidate[] = [...existing, ...drafts.map(({ config, ...rest }) => ({ ...rest, harnessId: store.putHarness(config) }))];
    return {
      candidatesRef: store.put(candidates),
      candidates: candidates.map((c) => ({ candidateId: c.candidateId, harnessId: c.harnessId, editKey: c.editKey, bucket: c.bucket })),
    };
  }

  const activities = {
    /** Validates what the workflow's schema cannot (harness config, model), stores the seed harness, splits tasks. */
    async prepareRun(input: { benchmark: string; model: string; metaAgent?: string; seedHarness?: Record<string, unknown>; validationSize: number; seed: string; maxUsd?: number }) {
      const problems: string[] = [];
      const modelProblem = checkModelString(input.model);
      if (modelProblem) problems.push(`model: ${modelProblem}`);
      const metaProblem = input.metaAgent && input.metaAgent !== 'rules' ? checkModelString(input.metaAgent) : null;
      if (metaProblem) problems.push(`metaAgent: ${metaProblem}`);
      if (input.maxUsd !== undefined && !priceOf(input.model, priceTable()))
        problems.push(`maxUsd: "${input.model}" has no price; add it to HARNESSX_PRICES on the workers, or budget in maxTokens`);
      let config = seedHarness(input.model);
      if (input.seedHarness) {
        try {
          config = parseHarnessConfig({ ...input.seedHarness, model: input.seedHarness.model ?? { main: { model: input.model } } });
        } catch (e) {
          if (e instanceof HarnessConfigError) problems.push(...e.issues.map((i) => `seedHarness.${i}`));
          else throw e;
        }
      }
      if (problems.length) throw ApplicationFailure.nonRetryable(`invalid evolveHarness input:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput', { problems });
      const benchmark = getBenchmark(input.benchmark);
      const tasks = benchmark.tasks();
      const ids = (split: string) => tasks.filter((t) => t.split === split).map((t) => t.id);
      return {
        seedHarnessId: store.putHarness(config),
        trainIds: ids('train'),
        validationIds: sampleIds(ids('validation'), input.validationSize, input.seed, 'validation'),
        testIds: ids('test'),
      };
    },

    async rollout(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string; recordPolicy?: boolean }): Promise<RolloutResult> {
      await faultPoint(store, 'rollout');
      const { tracesRef, ...result } = await rolloutAndRecord(input, true);
      return { ...result, tracesRef: tracesRef! };
    },

    /** `rollout` without traces: for evaluations, whose traces nothing reads (writing them cost ~10% of simulator throughput). */
    async rolloutOutcomes(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string }): Promise<OutcomesResult> {
      await faultPoint(store, 'rollout');
      return rolloutAndRecord(input, false);
    },

    /** The deterministic digest, refined by the LLM Digester when the run has an LLM meta-agent. */
    async digest(input: { round: number; harnessId: string; tracesRef: string; outcomesRef: string; previousDigestRef: string | null } & StageSpec) {
      const traces = store.get<EpisodeTrace[]>(input.tracesRef);
      const base = digestTraces({
        round: input.round,
        harnessId: input.harnessId,
        config: store.getHarness(input.harnessId),
        traces,
        outcomes: store.get<TaskOutcome[]>(input.outcomesRef),
        previous: input.previousDigestRef ? store.get<Digest>(input.previousDigestRef) : null,
      });
      return stage(input, async (agent) => {
        const digest = agent.digest ? await agent.digest({ digest: base, traces }) : base;
        const failing = digest.tasks.filter((t) => t.category !== null).length;
        return { digestRef: store.put(digest), actionability: digest.actionability, failing, traceTokens: digest.traceTokens, digestTokens: digest.digestTokens };
      });
    },

    async plan(input: { digestRef: string; harnessId: string; tried: TriedEdit[] } & StageSpec) {
      return stage(input, async (agent) => {
        const landscape = await agent.plan({ digest: store.get<Digest>(input.digestRef), tried: input.tried, config: store.getHarness(input.harnessId) });
        return { landscapeRef: store.put(landscape), options: landscape.options.length, categories: landscape.categories.map((c) => `${c.category}:${c.tasks.length}`) };
      });
    },

    async evolve(input: { landscapeRef: string; digestRef: string; harnessId: string; maxCandidates: number; round: number; tracesRef?: string } & StageSpec) {
      await faultPoint(store, 'evolve');
      return stage(input, async (agent) => {
        const drafts = await agent.evolve({
          landscape: store.get<Landscape>(input.landscapeRef),
          digest: store.get<Digest>(input.digestRef),
          config: store.getHarness(input.harnessId),
          maxCandidates: input.maxCandidates,
          round: input.round,
          traces: input.tracesRef ? store.get<EpisodeTrace[]>(input.tracesRef) : undefined,
        });
        return storeCandidates([], drafts);
      });
    },

    /** The critic's decision; candidates it had revised are stored beside the originals (a new candidatesRef). */
    async critique(input: { candidatesRef: string; digestRef: string; reputation: Record<string, number>; harnessId?: string; round?: number } & StageSpec) {
      const candidates = store.get<Candidate[]>(input.candidatesRef);
      const incumbent = input.harnessId ? store.getHarness(input.harnessId) : null;
      return stage(input, async (agent): Promise<Critique & Partial<ReturnType<typeof storeCandidates>>> => {
        const { revised, ...critique } = await agent.critique({ candidates, digest: store.get<Digest>(input.digestRef), reputation: input.reputation, config: incumbent ?? store.getHarness(candidates[0].harnessId), round: input.round ?? 0 });
        return revised?.length ? { ...(critique as Critique), ...storeCandidates(candidates, revised) } : (critique as Critique);
      });
    },

    /** The deterministic gate, in order; the first failing check stops it. */
    async gate(input: { benchmark: string; candidatesRef: string; candidateId: string; incumbentId: string; gateTaskIds: string[]; k: number; seed: string; minGain: number; gating?: { mode: 'seesaw' | 'statistical'; repeats: number; tCritical: number } }): Promise<GateResult & { spend: Spend }> {
      const candidate = store.get<Candidate[]>(input.candidatesRef).find((c) => c.candidateId === input.candidateId);
      if (!candidate) throw ApplicationFailure.nonRetryable(`candidate ${input.candidateId} is not in ${input.candidatesRef}`, 'InvalidInput');
      const checks: GateCheckResult[] = [];
      const spent: Spend[] = [];
      const result = (extra: Partial<GateResult> = {}): GateResult & { spend: Spend } => {
        const failed = checks.find((c) => !c.passed);
        return { candidateId: candidate.candidateId, passed: !failed && checks.length === GATE_CHECKS.length, checks, reason: failed ? `${failed.check}: ${failed.detail}` : null, incumbentPassed: 0, candidatePassed: 0, gateTasks: input.gateTaskIds.length, regressions: [], unlocked: [], ...extra, spend: totalSpend(spent) };
      };
      checks.push(checkManifest(candidate));
      if (!checks.at(-1)!.passed) return result();
      const incumbent = store.getHarness(input.incumbentId);
      const config = store.getHarness(candidate.harnessId);
      checks.push(checkCanonicalForm(incumbent, candidate, config));
      if (!checks.at(-1)!.passed) return result();
      const benchmark = getBenchmark(input.benchmark);
      checks.push(checkRewardHacking(benchmark, incumbent, config));
      if (!checks.at(-1)!.passed) return result();
      checks.push(await checkCodeProcessors(incumbent, config));
      if (!checks.at(-1)!.passed) return result();
      // Smoke test: the candidate harness runs a synthetic task end to end with the simulator (no paid calls).
      const smoke = await runOneEpisode({ benchmark, config: { ...config, model: { main: { model: 'sim:large' } } }, harnessId: candidate.harnessId, seed: `${input.seed}|smoke` }, benchmark.smokeTaskId(), 0);
      const harnessError = smoke.records.find((r) => r.kind === 'error' && r.processorId);
      checks.push(
        smoke.endReason === 'harness_error'
          ? { check: 'smoke_test', passed: false, detail: harnessError?.kind === 'error' ? harnessError.message : 'harness error' }
          : { check: 'smoke_test', passed: true, detail: `ran ${smoke.steps} step(s), ended ${smoke.endReason}` },
      );
      if (!checks.at(-1)!.passed) return result();
      heartbeat({ stage: 'seesaw' });
      if (input.gating?.mode === 'statistical') {
        // Paired repeats: the same R seeds for both harnesses; the first repeat reuses the round's seed.
        const seeds = Array.from({ length: input.gating.repeats }, (_, r) => (r === 0 ? input.seed : `${input.seed}|repeat-${r}`));
        const runs = async (harnessId: string) => {
          const out: TaskOutcome[][] = [];
          for (const seed of seeds) out.push(await outcomesFor({ benchmark: input.benchmark, taskIds: input.gateTaskIds, k: input.k, seed, harnessId }, spent));
          return out;
        };
        const s = statisticalSeesaw(await runs(input.incumbentId), await runs(candidate.harnessId), { minGain: input.minGain, tCritical: input.gating.tCritical });
        checks.push({ check: s.check, passed: s.passed, detail: s.detail });
        return result({ incumbentPassed: s.incumbentPassed, candidatePassed: s.candidatePassed, regressions: s.regressions, unlocked: s.unlocked });
      }
      const rollout = { benchmark: input.benchmark, taskIds: input.gateTaskIds, k: input.k, seed: input.seed };
      const before = await outcomesFor({ ...rollout, harnessId: input.incumbentId }, spent);
      const after = await outcomesFor({ ...rollout, harnessId: candidate.harnessId }, spent);
      const suspects = suspectedRegressions(before, after);
      // Confirmation attempts (fresh seeds, 2k of them) for suspected regressions only.
      const recheck = suspects.length
        ? await outcomesFor({ ...rollout, taskIds: suspects, k: 2 * input.k, seed: `${input.seed}|confirm`, harnessId: candidate.harnessId }, spent)
        : [];
      const s = seesaw(before, after, input.minGain, recheck);
      checks.push({ check: s.check, passed: s.passed, detail: s.detail });
      return result({ incumbentPassed: s.incumbentPassed, candidatePassed: s.candidatePassed, regressions: s.regressions, unlocked: s.unlocked });
    },

    /**
     * Variant isolation's rollout: routes the batch to variants by cluster, rolls each variant out on its
     * tasks, and returns the pool with updated statistics plus where validation tasks route now. Retries are
     * safe: the result depends only on the input pool.
     */
    async ensembleRollout(input: { benchmark: string; variants: Variant[]; taskIds: string[]; validationIds: string[]; k: number; seed: string }) {
      await faultPoint(store, 'rollout');
      const clusterOf = clusterFn(input.benchmark);
      const routes = routeTasks(input.variants, input.taskIds, clusterOf);
      const perVariant: Array<{ variantId: string; harnessId: string; taskIds: string[]; tasks: number; passed: number; tracesRef: string; outcomesRef: string }> = [];
      const outcomes: Record<string, TaskOutcome[]> = {};
      const spent: Spend[] = [];
      for (const v of input.variants) {
        const taskIds = routes[v.id];
        if (!taskIds.length) continue;
        const r = await rolloutInternal({ benchmark: input.benchmark, harnessId: v.harnessId, taskIds, k: input.k, seed: input.seed }, true);
        store.cacheSetMany('outcomes', r.outcomes.map((o) => [outcomeKey({ ...input, harnessId: v.harnessId }, o.taskId), o]));
        outcomes[v.id] = r.outcomes;
        spent.push(r.spend);
        perVariant.push({ variantId: v.id, harnessId: v.harnessId, taskIds, tasks: r.outcomes.length, passed: r.outcomes.filter((o) => o.passed).length, tracesRef: r.tracesRef!, outcomesRef: store.put(r.outcomes) });
      }
      const all = Object.values(outcomes).flat();
      const used = totalSpend(spent);
      return {
        perVariant,
        variants: recordOutcomes(input.variants, outcomes, clusterOf),
        validationRoutes: routeTasks(input.variants, input.validationIds, clusterOf),
        passRate: passRate(all),
        passed: all.filter((o) => o.passed).length,
        tasks: all.length,
        episodes: all.length * input.k,
        ...used,
      };
    },

    /** Forks a candidate into a new variant (retiring the worst when the pool is full). */
    async forkVariant(input: { benchmark: string; variants: Variant[]; parentId: string; harnessId: string; round: number; unlocked: string[]; regressions: string[]; maxVariants: number }) {
      return forkVariant(input.variants, input, clusterFn(input.benchmark), input.maxVariants);
    },

    /** The ensemble's pass rate: every task evaluated on the variant it routes to (cached per task). */
    async ensembleEvaluate(input: { benchmark: string; variants: Variant[]; taskIds: string[]; k: number; seed: string }) {
      const routes = routeTasks(input.variants, input.taskIds, clusterFn(input.benchmark));
      const spent: Spend[] = [];
      const all: TaskOutcome[] = [];
      for (const v of input.variants) if (routes[v.id].length) all.push(...(await outcomesFor({ ...input, taskIds: routes[v.id], harnessId: v.harnessId }, spent)));
      return { passRate: passRate(all), passed: all.filter((o) => o.passed).length, tasks: all.length, episodes: all.length * input.k, routes: Object.fromEntries(Object.entries(routes).map(([id, ids]) => [id, ids.length])), spend: totalSpend(spent) };
    },

    /** Pass rate of a harness on a fixed task list (cached per task). */
    async evaluate(input: { benchmark: string; harnessId: string; taskIds: string[]; k: number; seed: string }) {
      const spent: Spend[] = [];
      const outcomes = await outcomesFor(input, spent);
      return { passRate: passRate(outcomes), passed: outcomes.filter((o) => o.passed).length, tasks: outcomes.length, episodes: outcomes.length * input.k, spend: totalSpend(spent) };
    },

    async recordAudit(record: Omit<AuditRecord, 'ts'>): Promise<boolean> {
      if (record.stage === 'ship') await faultPoint(store, 'ship');
      return store.appendAudit({ ...record, ts: new Date().toISOString() });
    },

    async writeSummary(input: { runId: string; summary: Record<string, unknown> }) {
      return { path: store.writeRunFile(input.runId, 'summary.json', JSON.stringify(input.summary, null, 2) + '\n') };
    },
  };
  const all = { ...activities, ...createCoevolutionActivities(store) };
  return Object.fromEntries(Object.entries(all).map(([name, fn]) => [name, atActivityBoundary(fn as (...a: unknown[]) => Promise<unknown>)])) as typeof all;
}

export type Activities = ReturnType<typeof createActivities>;

import { digestTraces } from '../aegis/digester';
import { CandidateDraft, MetaAgent, StageFailure, TriedEdit } from '../aegis/meta-agent';
import { LlmMetaAgent } from '../aegis/llm/llm-meta-agent';
import { RandomMetaAgent } from '../aegis/baselines/random-evolver';
import { PromptPoolEntry, PromptPoolStore, ReflectivePromptMetaAgent } from '../aegis/baselines/reflective-prompt';
import { SingleAgentMetaAgent } from '../aegis/baselines/single-agent';
import type { TaskOutcome } from '../aegis/rollout';
import { makePreGateChecker } from '../aegis/pre-gate';
import { RuleBasedMetaAgent } from '../aegis/rule-based-agent';
import type { ProcessorLibraryName } from '../aegis/library-scope';
import type { Candidate, Critique, Digest, GateTerms, Landscape } from '../aegis/types';
import { getBenchmark } from '../benchmarks/registry';
import type { EpisodeTrace } from '../harness/trace';
import { costUsd } from '../models/prices';
import { ArtifactUnavailable } from '../store/verified-files';
import { createModel } from '../models/registry';
import { heartbeat, workflowIdOrNull } from './activity-context';
import { faultPoint } from './boundary';
import type { ActivityServices } from './services';
import type { Spend } from './spend';

/** Which meta-agent runs a stage: the run's evolver (aegis or a baseline) and its model ('rules' or a model string). */
export interface StageSpec {
  metaAgent?: string;
  evolver?: 'aegis' | 'single-agent' | 'random' | 'reflective-prompt';
  seed?: string;
  /** The processor library the agent proposes from (absent: 'full'); see aegis/library-scope.ts. */
  processorLibrary?: ProcessorLibraryName;
}

/** A stage's result and what its meta-agent spent, or, when the agent gave up (StageFailure), why. */
export type StageResult<R> = (R & { failed?: undefined; spend: Spend }) | { failed: string; spend: Spend };

/** The meta-agent stages of a round: digest → plan → evolve → critique. */
export function createMetaStageActivities(services: ActivityServices) {
  const { store } = services;

  /**
   * The meta-agent a run asked for: 'rules' (deterministic) or a model string for the LLM meta-agent, whose
   * model goes through the services' meta-model wrapper (the response cache). One LLM agent per activity
   * call: its usage is that call's spend.
   */
  const agentFor = (spec: StageSpec): MetaAgent => {
    if (services.metaAgent) return services.metaAgent;
    const name = spec.metaAgent ?? 'rules';
    const library = spec.processorLibrary ?? 'full';
    const model = name === 'rules' ? null : services.wrapMetaModel(createModel(name, { seed: 'meta' }));
    switch (spec.evolver ?? 'aegis') {
      case 'random':
        return new RandomMetaAgent(spec.seed ?? 'harnessx', library);
      case 'single-agent':
        return new SingleAgentMetaAgent(model, library);
      case 'reflective-prompt': {
        const runId = workflowIdOrNull() ?? 'local';
        const pool: PromptPoolStore = {
          load: async () => (await store.readRunFile<PromptPoolEntry[]>(runId, 'prompt-pool.json')) ?? [],
          save: async (entries) => void (await store.writeRunFile(runId, 'prompt-pool.json', JSON.stringify(entries))),
        };
        return new ReflectivePromptMetaAgent(model, pool, spec.seed ?? 'harnessx');
      }
      default:
        // The rules agent is seeded by the run: its exploration options break ties by a draw on the seed.
        return model ? new LlmMetaAgent(model, { library }) : new RuleBasedMetaAgent(spec.seed ?? 'harnessx', library);
    }
  };

  /** The agent's model spend in this activity; prompt-cache reads and writes (parts of inputTokens) when there were any. */
  const metaSpend = (agent: MetaAgent, name: string | undefined): Spend => {
    const u = agent.usage?.();
    if (!u || u.calls === 0) return { inputTokens: 0, outputTokens: 0, tokens: 0, costUsd: 0 };
    const { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens } = u.usage;
    return {
      inputTokens,
      outputTokens,
      tokens: inputTokens + outputTokens,
      ...(cacheReadTokens ? { cacheReadTokens } : {}),
      ...(cacheWriteTokens ? { cacheWriteTokens } : {}),
      costUsd: costUsd(name ?? '', u.usage),
    };
  };

  /** Runs a meta-agent stage: a StageFailure becomes a recorded failure (the round no-ops), never a retry. */
  async function stage<R extends object>(spec: StageSpec, fn: (agent: MetaAgent) => Promise<R>): Promise<StageResult<R>> {
    const agent = agentFor(spec);
    // A model meta-agent's calls so far, as heartbeat details: the CLI's progress line shows them (cli/progress.ts).
    const usage = (spec.metaAgent ?? 'rules') !== 'rules' && agent.usage ? () => agent.usage!().calls : null;
    const beat = usage ? setInterval(() => heartbeat({ meta: { calls: usage() } }), 1000) : null;
    if (usage) heartbeat({ meta: { calls: 0 } });
    try {
      const r = await fn(agent);
      return { ...r, spend: metaSpend(agent, spec.metaAgent) };
    } catch (e) {
      if (e instanceof StageFailure) return { failed: e.message, spend: metaSpend(agent, spec.metaAgent) };
      throw e;
    } finally {
      if (beat) clearInterval(beat);
    }
  }

  /**
   * The previous round's digest, or null when it is no longer in the store (or damaged): it only sharpens
   * this digest (what changed since), it was written by a round that is over, and no activity can write it again.
   */
  async function previousDigest(ref: string): Promise<Digest | null> {
    try {
      return await store.get<Digest>(ref);
    } catch (e) {
      if (!(e instanceof ArtifactUnavailable)) throw e;
      console.warn(`digest: the previous digest ${ref} is ${e.reason === 'missing' ? 'not in the store' : 'damaged'}; digesting without it`);
      return null;
    }
  }

  /** Stores each draft's harness and the candidate list (existing ones first); returns its ref and a summary per candidate. */
  async function storeCandidates(existing: Candidate[], drafts: CandidateDraft[]) {
    const stored: Candidate[] = [];
    for (const { config, ...rest } of drafts) stored.push({ ...rest, harnessId: await store.putHarness(config) });
    const candidates: Candidate[] = [...existing, ...stored];
    return {
      candidatesRef: await store.put(candidates),
      candidates: candidates.map((c) => ({ candidateId: c.candidateId, harnessId: c.harnessId, editKey: c.editKey, bucket: c.bucket })),
    };
  }

  return {
    /** The deterministic digest, refined by the LLM Digester when the run has an LLM meta-agent. */
    async digest(input: { round: number; harnessId: string; tracesRef: string; outcomesRef: string; previousDigestRef: string | null } & StageSpec) {
      const traces = await store.get<EpisodeTrace[]>(input.tracesRef);
      const config = await store.getHarness(input.harnessId);
      const base = digestTraces({
        round: input.round,
        harnessId: input.harnessId,
        config,
        traces,
        outcomes: await store.get<TaskOutcome[]>(input.outcomesRef),
        previous: input.previousDigestRef ? await previousDigest(input.previousDigestRef) : null,
      });
      return stage(input, async (agent) => {
        const digest = agent.digest ? await agent.digest({ digest: base, traces, config }) : base;
        const failing = digest.tasks.filter((t) => t.category !== null).length;
        return { digestRef: await store.put(digest), actionability: digest.actionability, failing, traceTokens: digest.traceTokens, digestTokens: digest.digestTokens };
      });
    },

    async plan(input: { digestRef: string; harnessId: string; tried: TriedEdit[]; gate?: GateTerms } & StageSpec) {
      return stage(input, async (agent) => {
        const landscape = await agent.plan({ digest: await store.get<Digest>(input.digestRef), tried: input.tried, config: await store.getHarness(input.harnessId), ...(input.gate ? { gate: input.gate } : {}) });
        return { landscapeRef: await store.put(landscape), options: landscape.options.length, categories: landscape.categories.map((c) => `${c.category}:${c.tasks.length}`) };
      });
    },

    /**
     * `benchmark` binds the gate's rollout-free checks (preGate) to this incumbent, benchmark and seed, as the
     * gate will run them; `gate`: the gate's terms in numbers. Both are optional (older workflow histories).
     */
    async evolve(input: { landscapeRef: string; digestRef: string; harnessId: string; maxCandidates: number; round: number; tracesRef?: string; benchmark?: string; gate?: GateTerms } & StageSpec) {
      await faultPoint(store, 'evolve');
      return stage(input, async (agent) => {
        const incumbent = await store.getHarness(input.harnessId);
        const drafts = await agent.evolve({
          ...(input.benchmark ? { preGate: makePreGateChecker(incumbent, getBenchmark(input.benchmark), { seed: input.seed ?? 'harnessx' }) } : {}),
          ...(input.gate ? { gate: input.gate } : {}),
          landscape: await store.get<Landscape>(input.landscapeRef),
          digest: await store.get<Digest>(input.digestRef),
          config: incumbent,
          maxCandidates: input.maxCandidates,
          round: input.round,
          traces: input.tracesRef ? await store.get<EpisodeTrace[]>(input.tracesRef) : undefined,
        });
        return storeCandidates([], drafts);
      });
    },

    /** The critic's decision; candidates it had revised are stored beside the originals (a new candidatesRef). */
    async critique(input: { candidatesRef: string; digestRef: string; reputation: Record<string, number>; harnessId?: string; round?: number; tried?: TriedEdit[]; gate?: GateTerms } & StageSpec) {
      const candidates = await store.get<Candidate[]>(input.candidatesRef);
      const incumbent = input.harnessId ? await store.getHarness(input.harnessId) : null;
      return stage(input, async (agent): Promise<Critique & Partial<Awaited<ReturnType<typeof storeCandidates>>>> => {
        const { revised, ...critique } = await agent.critique({ candidates, digest: await store.get<Digest>(input.digestRef), reputation: input.reputation, config: incumbent ?? (await store.getHarness(candidates[0].harnessId)), round: input.round ?? 0, tried: input.tried, gate: input.gate });
        return revised?.length ? { ...(critique as Critique), ...(await storeCandidates(candidates, revised)) } : (critique as Critique);
      });
    },
  };
}

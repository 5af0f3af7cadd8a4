import { z } from 'zod';
import type { Edit } from '../../harness/builder';
import type { HarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import type { EpisodeTrace } from '../../harness/trace';
import type { Usage } from '../../harness/types';
import { HOOKS } from '../../harness/types';
import { clip, traceExcerpt } from '../llm/prompts';
import { callStructured, StageCall, summarizeCalls } from '../llm/structured-output';
import { CandidateDraft, MetaAgent, StageFailure, TriedEdit } from '../meta-agent';
import { seededRandom } from '../sampling';
import type { Candidate, Digest, Landscape } from '../types';
import { draftFrom, gateAll, passThroughLandscape } from './common';

/** One prompt in the pool, with its per-task scores (success rate) from the rounds it was the incumbent. */
export interface PromptPoolEntry {
  harnessId: string;
  template: string;
  scores: Record<string, number>;
}

/** Where the pool lives between rounds (the activity keeps it in the run's folder). */
export interface PromptPoolStore {
  load(): PromptPoolEntry[] | Promise<PromptPoolEntry[]>;
  save(entries: PromptPoolEntry[]): void | Promise<void>;
}

const DEFAULT_TEMPLATE = 'You are an agent. Solve the task you are given by calling the tools.';

/** Generic prompt mutations for the rules variant (no task data, no benchmark specifics). */
export const PROMPT_MUTATIONS = [
  'Call exactly one tool per turn and write no prose.',
  "Before acting, check that the action's preconditions hold in the current state.",
  'Example 1: when the hand is empty and an object you need is free, take it with a single tool call.',
  'If an action fails, read the error and choose a different action; never repeat a failed action.',
  'Keep track of the states you have visited and avoid returning to them.',
  'Work towards the goal one sub-goal at a time.',
];

export function templateOf(config: HarnessConfig): string {
  for (const hook of HOOKS) for (const p of config.hooks[hook]) if (p.type === 'system_prompt') return String(p.params.template ?? DEFAULT_TEMPLATE);
  return DEFAULT_TEMPLATE;
}

function promptEdit(config: HarnessConfig, template: string): Edit {
  for (const hook of HOOKS) for (const p of config.hooks[hook]) if (p.type === 'system_prompt') return { op: 'configure', processorId: p.id, params: { template } };
  return { op: 'insert', hook: 'task_start', processor: { id: 'system_prompt', type: 'system_prompt', params: { template } } };
}

/**
 * GEPA's Pareto selection: a prompt is on the front when it has the best score on at least one task;
 * parents are drawn with probability proportional to the number of tasks they lead on.
 */
export function paretoParent(pool: PromptPoolEntry[], random: () => number): PromptPoolEntry | null {
  const tasks = new Set(pool.flatMap((e) => Object.keys(e.scores)));
  const leads = new Map<string, number>();
  for (const t of tasks) {
    const best = Math.max(...pool.map((e) => e.scores[t] ?? 0));
    if (best <= 0) continue;
    for (const e of pool) if ((e.scores[t] ?? 0) === best) leads.set(e.harnessId, (leads.get(e.harnessId) ?? 0) + 1);
  }
  const front = pool.filter((e) => leads.has(e.harnessId));
  if (!front.length) return null;
  const total = front.reduce((n, e) => n + leads.get(e.harnessId)!, 0);
  let x = random() * total;
  for (const e of front) if ((x -= leads.get(e.harnessId)!) < 0) return e;
  return front[front.length - 1];
}

const ReflectionSchema = z.object({ templates: z.array(z.string().min(20).max(6000)).min(1).max(8) });
const REFLECTION_SYSTEM = `You improve the system prompt of an LLM agent by reflection, as GEPA does. You get the current prompt and excerpts of episodes it failed. Diagnose what the agent misunderstood and write improved system prompts (complete replacements) that fix it. Keep them general: never mention specific tasks, task ids or answers.
Reply with one JSON object only: {"templates":["<new system prompt>", ...]}`;

/**
 * The reflective-prompt baseline (GEPA-style): evolves the system prompt text only. Keeps a Pareto pool of
 * prompts scored per task, picks a parent from the front, mutates it (an LLM reflection on failed traces,
 * or generic rule mutations without a model), and sends the children to the same gate.
 */
export class ReflectivePromptMetaAgent implements MetaAgent {
  readonly name: string;
  private readonly calls: StageCall[] = [];
  constructor(private readonly model: Model | null, private readonly pool: PromptPoolStore, private readonly seed: string) {
    this.name = model ? `reflective-prompt:${model.id}` : 'reflective-prompt:rules';
  }
  usage(): { usage: Usage; calls: number; repairs: number } {
    return summarizeCalls(this.calls);
  }
  async plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape> {
    return { ...passThroughLandscape(input.digest, 'reflective prompt mutation'), editsTried: input.tried.map((t) => ({ key: t.key, outcome: t.outcome })) };
  }

  /** Folds the incumbent's scores from this round's digest into the pool and saves it. */
  private async updatePool(digest: Digest, config: HarnessConfig): Promise<PromptPoolEntry[]> {
    const entries = await this.pool.load();
    let entry = entries.find((e) => e.harnessId === digest.harnessId);
    if (!entry) entries.push((entry = { harnessId: digest.harnessId, template: templateOf(config), scores: {} }));
    for (const t of digest.tasks) entry.scores[t.taskId] = t.attempts ? t.successes / t.attempts : 0;
    await this.pool.save(entries);
    return entries;
  }

  async evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number; traces?: EpisodeTrace[] }): Promise<CandidateDraft[]> {
    const random = seededRandom(`${this.seed}|reflective-prompt|${input.round}`);
    const pool = await this.updatePool(input.digest, input.config);
    const parent = paretoParent(pool, random)?.template ?? templateOf(input.config);
    let children: string[];
    if (this.model) {
      const failed = (input.traces ?? []).filter((t) => !t.success).slice(0, 12);
      const r = await callStructured({
        model: this.model,
        stage: 'reflect',
        system: REFLECTION_SYSTEM,
        user: JSON.stringify({ currentPrompt: parent, failedEpisodes: failed.map((t) => ({ instruction: clip(t.instruction, 500), excerpt: traceExcerpt(t) })), maxPrompts: input.maxCandidates }),
        schema: ReflectionSchema,
      });
      this.calls.push(...r.calls);
      if (!r.ok) throw new StageFailure('reflect', r.error);
      children = r.value.templates.slice(0, input.maxCandidates);
    } else {
      const fresh = PROMPT_MUTATIONS.filter((m) => !parent.includes(m));
      children = [];
      while (children.length < input.maxCandidates && fresh.length) children.push(`${parent} ${fresh.splice(Math.floor(random() * fresh.length), 1)[0]}`);
    }
    const drafts: CandidateDraft[] = [];
    for (const template of [...new Set(children)]) {
      const d = draftFrom(input.config, [promptEdit(input.config, template)], 'prompt', `r${input.round}-c${drafts.length + 1}`, 'reflective prompt mutation of a Pareto parent', input.digest);
      if (d && d.editKey && !input.landscape.editsTried.some((t) => t.key === d.editKey)) drafts.push(d);
    }
    return drafts;
  }
  async critique(input: { candidates: Candidate[] }) {
    return gateAll(input.candidates);
  }
}

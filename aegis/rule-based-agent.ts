import { applyEdits } from '../harness/builder';
import type { HarnessConfig } from '../harness/config';
import { CATEGORY_COMPONENTS } from './digester';
import type { CandidateDraft, MetaAgent, TriedEdit } from './meta-agent';
import { remediesFor } from './remedies';
import { BUCKETS, Candidate, Critique, Digest, FailureCategory, Landscape, Manifest, Remedy } from './types';

/** Planner: the adaptation landscape from a digest and the ledger of edits already tried. */
export function buildLandscape(digest: Digest, tried: TriedEdit[], config: HarnessConfig, harnessId: string): Landscape {
  const failing = digest.tasks.filter((t) => t.category !== null);
  // A task counts under every category its failed attempts show, so when the dominant category's remedies
  // are exhausted the secondary signals still yield options. Dominant categories rank first.
  const byCategory = new Map<FailureCategory, { tasks: string[]; dominant: number }>();
  for (const t of failing)
    for (const c of Object.keys(t.categoryCounts) as FailureCategory[]) {
      const entry = byCategory.get(c) ?? { tasks: [], dominant: 0 };
      entry.tasks.push(t.taskId);
      if (c === t.category) entry.dominant++;
      byCategory.set(c, entry);
    }
  const categories = [...byCategory]
    .sort(([ca, a], [cb, b]) => b.dominant - a.dominant || b.tasks.length - a.tasks.length || (ca < cb ? -1 : 1))
    .map(([category, { tasks }]) => ({ category, tasks }));
  // Every tried key is skipped here, mistakes included: the rules propose the identical edit again, and the
  // gate's rollout-free checks are deterministic, so a mistake would repeat. (The LLM Planner, whose retry
  // of a mistake is a corrected edit with another key, is told mistakes do not count against an idea.)
  const triedHere = new Set(tried.filter((t) => t.harnessId === harnessId).map((t) => t.key));
  const perCategory = categories.map((c) => remediesFor(c.category, config).filter((r) => !triedHere.has(r.key)));
  // Interleave: each category's best untried remedy first, so one dominant category cannot crowd out the rest.
  const options: Remedy[] = [];
  const keys = new Set<string>();
  for (let depth = 0; perCategory.some((list) => list.length > depth); depth++)
    for (const list of perCategory) {
      const r = list[depth];
      if (r && !keys.has(r.key)) options.push(r), keys.add(r.key);
    }
  return { ...landscapeFacts(digest, tried, harnessId), categories, options };
}

/** What every planner's landscape states from the digest and the ledger (options and categories aside). */
export function landscapeFacts(digest: Digest, tried: TriedEdit[], harnessId: string): Omit<Landscape, 'options' | 'categories'> {
  const failing = digest.tasks.filter((t) => t.category !== null);
  const triedBuckets = new Set(tried.map((t) => t.bucket));
  return {
    round: digest.round,
    harnessId,
    failingTasks: failing.map((t) => ({ taskId: t.taskId, category: t.category })),
    implicatedComponents: [...new Set(failing.flatMap((t) => t.implicated))].sort(),
    editsTried: tried.map((t) => ({ key: t.key, outcome: t.outcome })),
    untriedBuckets: BUCKETS.filter((b) => !triedBuckets.has(b)),
    solvedTasks: digest.tasks.filter((t) => t.passed).map((t) => t.taskId),
    unstableTasks: digest.tasks.filter((t) => t.successes > 0 && t.successes < t.attempts).map((t) => t.taskId),
  };
}

export function draftCandidates(landscape: Landscape, config: HarnessConfig, maxCandidates: number, round: number, digest?: Digest): CandidateDraft[] {
  const drafts: CandidateDraft[] = [];
  for (const option of landscape.options) {
    if (drafts.length >= maxCandidates) break;
    const built = applyEdits(config, option.edits);
    if (!built.ok) continue;
    const tasks = landscape.categories.find((c) => c.category === option.category)?.tasks ?? [];
    const candidateId = `r${round}-c${drafts.length + 1}`;
    const evidence = (digest?.tasks ?? [])
      .filter((t) => t.category === option.category)
      .flatMap((t) => t.evidence.slice(0, 1).map((e) => `${t.taskId}: ${e}`))
      .slice(0, 5);
    const manifest: Manifest = {
      candidateId,
      bucket: option.bucket,
      capabilityEvidence: evidence.length ? evidence : tasks.slice(0, 5).map((id) => `${id}: failing with ${option.category}`),
      changes: option.edits,
      predictedImpact: {
        tasksWillUnlock: tasks.slice(0, 20),
        stabilize: landscape.unstableTasks.filter((id) => tasks.includes(id)).slice(0, 20),
        atRisk: landscape.solvedTasks.slice(0, 10),
      },
      attributionSignature: `${option.category}→${CATEGORY_COMPONENTS[option.category].join('|') || 'none'}: ${option.rationale}`,
    };
    drafts.push({ candidateId, editKey: option.key, bucket: option.bucket, manifest, config: built.config });
  }
  return drafts;
}

/** Critic: drops unsupported unlock claims, then ranks by supported impact × bucket reputation. */
export function rankCandidates(candidates: Candidate[], digest: Digest, reputation: Record<string, number>): Critique {
  const failing = new Set(digest.tasks.filter((t) => t.category !== null).map((t) => t.taskId));
  const notes: string[] = [];
  const scored = candidates.map((c) => {
    const claims = c.manifest.predictedImpact.tasksWillUnlock;
    const supported = claims.filter((id) => failing.has(id));
    if (supported.length < claims.length) notes.push(`${c.candidateId}: ${claims.length - supported.length} unlock claims are not failing tasks`);
    return { c, score: (supported.length + 0.5 * c.manifest.predictedImpact.stabilize.length) * (reputation[c.bucket] ?? 1) };
  });
  const ranked = scored.filter((s) => s.score > 0).sort((a, b) => b.score - a.score || (a.c.candidateId < b.c.candidateId ? -1 : 1));
  if (!ranked.length) return { decision: 'no_op', reason: 'no candidate is supported by trace evidence' };
  return { decision: 'ship_ranking', ranking: ranked.map((s) => s.c.candidateId), notes };
}

/** The deterministic meta-agent: no LLM, same stage interfaces as the LLM one. */
export class RuleBasedMetaAgent implements MetaAgent {
  readonly name = 'rules';
  async plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape> {
    return buildLandscape(input.digest, input.tried, input.config, input.digest.harnessId);
  }
  async evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number }): Promise<CandidateDraft[]> {
    return draftCandidates(input.landscape, input.config, input.maxCandidates, input.round, input.digest);
  }
  async critique(input: { candidates: Candidate[]; digest: Digest; reputation: Record<string, number> }): Promise<Critique> {
    return rankCandidates(input.candidates, input.digest, input.reputation);
  }
}

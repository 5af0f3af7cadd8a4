import { applyEdits, Edit } from '../harness/builder';
import type { HarnessConfig } from '../harness/config';
import { HOOKS } from '../harness/types';
import { validSingleEdits } from './edit-space';
import { CATEGORY_COMPONENTS } from './digester';
import { DEFAULT_PROCESSOR_LIBRARY, editOutsideLibrary, ProcessorLibraryName } from './library-scope';
import type { CandidateDraft, MetaAgent, TriedEdit } from './meta-agent';
import { bucketOf, editKey, remediesFor } from './remedies';
import { seededRandom } from './sampling';
import { BUCKETS, Candidate, Critique, Digest, FailureCategory, Landscape, Manifest, Remedy } from './types';

/** How an exploration candidate's attribution begins: the Critic ranks such candidates after every catalogue remedy. */
export const EXPLORATION_SIGNATURE = 'exploration:';
const isExploration = (c: Candidate) => c.manifest.attributionSignature.startsWith(EXPLORATION_SIGNATURE);

/**
 * Planner: the adaptation landscape from a digest and the ledger of edits already tried. The catalogue's
 * remedies come first; exploration options (see explorationOptions) follow them, so a round whose catalogue
 * is thin or exhausted for the incumbent still fills its candidate slots instead of idling.
 */
export function buildLandscape(digest: Digest, tried: TriedEdit[], config: HarnessConfig, harnessId: string, seed = 'rules', library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Landscape {
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
  // The run's processor library bounds the catalogue too (its remedies name only pre-#30 types today; the filter keeps 'core' honest if that changes).
  const perCategory = categories.map((c) => remediesFor(c.category, config).filter((r) => !triedHere.has(r.key) && r.edits.every((e) => editOutsideLibrary(e, library) === null)));
  // Interleave: each category's best untried remedy first, so one dominant category cannot crowd out the rest.
  const options: Remedy[] = [];
  const keys = new Set<string>();
  for (let depth = 0; perCategory.some((list) => list.length > depth); depth++)
    for (const list of perCategory) {
      const r = list[depth];
      if (r && !keys.has(r.key)) options.push(r), keys.add(r.key);
    }
  const explore = explorationOptions(digest, config, new Set([...triedHere, ...keys]), `${seed}|explore|${digest.round}|${harnessId}`, library);
  return { ...landscapeFacts(digest, tried, harnessId), categories, options: [...options, ...explore] };
}

/** The processor type an edit adds, changes or removes (on `config`, the harness it applies to). */
function editedType(edit: Edit, config: HarnessConfig): string | undefined {
  if (edit.op === 'insert' || edit.op === 'replace') return edit.processor.type;
  if (edit.op === 'bundle') return undefined;
  for (const hook of HOOKS) for (const p of config.hooks[hook]) if (p.id === edit.processorId) return p.type;
  return undefined;
}

/** Additions first, budget changes next, removals last: what is on the incumbent passed the gate (or is the seed's). */
const OP_ORDER: Record<Edit['op'], number> = { insert: 0, replace: 0, bundle: 0, configure: 1, move: 1, remove: 2 };

/**
 * Exploration: the valid single edits on the incumbent (the random baseline's edit space) that are neither
 * tried on it nor already options. Without them a run whose catalogue is exhausted for its incumbent plays
 * no-op rounds until patience ends it with its budget unspent; the gate, unchanged, still refuses any of
 * them that does not gain or that regresses a solved task. Most promising first:
 *  1. edits to a component the failing tasks' categories implicate (CATEGORY_COMPONENTS), by how many
 *     failing tasks implicate it — the predicted gain; every candidate costs about one gate, so this is
 *     also gain per cost;
 *  2. then additions, budget changes, removals (OP_ORDER);
 *  3. ties by a seeded draw (`key`: run seed, round, incumbent), so the same seed proposes the same edits.
 * Each option says which failing tasks it is aimed at: those whose categories implicate its component, or,
 * when none do, every failing task (it is a shot at the failures the catalogue has no remedy left for).
 */
export function explorationOptions(digest: Digest, config: HarnessConfig, skip: ReadonlySet<string>, key: string, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Remedy[] {
  const failing = digest.tasks.filter((t) => t.category !== null);
  if (!failing.length) return [];
  const random = seededRandom(key);
  const scored = validSingleEdits(config, library).map(({ edit }) => {
    const type = editedType(edit, config);
    const implicating = failing.filter((t) => (Object.keys(t.categoryCounts) as FailureCategory[]).some((c) => type !== undefined && CATEGORY_COMPONENTS[c].includes(type)));
    return { edit, type, implicating, draw: random() };
  });
  const options: Remedy[] = [];
  const seen = new Set(skip);
  scored.sort((a, b) => b.implicating.length - a.implicating.length || OP_ORDER[a.edit.op] - OP_ORDER[b.edit.op] || a.draw - b.draw);
  for (const { edit, type, implicating } of scored) {
    const edits = [edit];
    const remedyKey = editKey(edits);
    if (seen.has(remedyKey)) continue;
    seen.add(remedyKey);
    const aimedAt = (implicating.length ? implicating : failing).map((t) => t.taskId);
    const rationale = implicating.length
      ? `explore: ${type} is implicated by ${implicating.length} failing task(s) and no catalogue remedy for it is left untried`
      : `explore: an untried valid edit (no failure category implicates ${type ?? edit.op}); the catalogue is exhausted`;
    options.push({ category: dominantCategory(implicating.length ? implicating : failing), bucket: bucketOf(edits, config), edits, key: remedyKey, rationale, exploration: { aimedAt } });
  }
  return options;
}

/** The most common dominant category among tasks (ties: the one first met). */
function dominantCategory(tasks: Digest['tasks']): FailureCategory {
  const counts = new Map<FailureCategory, number>();
  for (const t of tasks) if (t.category) counts.set(t.category, (counts.get(t.category) ?? 0) + 1);
  return [...counts].reduce((best, e) => (e[1] > best[1] ? e : best))[0];
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
    const tasks = option.exploration?.aimedAt ?? landscape.categories.find((c) => c.category === option.category)?.tasks ?? [];
    const candidateId = `r${round}-c${drafts.length + 1}`;
    const evidence = (digest?.tasks ?? [])
      .filter((t) => (option.exploration ? tasks.includes(t.taskId) : t.category === option.category))
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
      attributionSignature: option.exploration
        ? `${EXPLORATION_SIGNATURE} ${option.key}: ${option.rationale}`
        : `${option.category}→${CATEGORY_COMPONENTS[option.category].join('|') || 'none'}: ${option.rationale}`,
    };
    drafts.push({ candidateId, editKey: option.key, bucket: option.bucket, manifest, config: built.config });
  }
  return drafts;
}

/**
 * Critic: drops unsupported unlock claims, then ranks by supported impact × bucket reputation. Exploration
 * candidates follow every catalogue remedy, in the Planner's order: their claims rest on a component's
 * implication (or on nothing left to try), not on a remedy written for the failure.
 */
export function rankCandidates(candidates: Candidate[], digest: Digest, reputation: Record<string, number>): Critique {
  const failing = new Set(digest.tasks.filter((t) => t.category !== null).map((t) => t.taskId));
  const notes: string[] = [];
  const scored = candidates.map((c) => {
    const claims = c.manifest.predictedImpact.tasksWillUnlock;
    const supported = claims.filter((id) => failing.has(id));
    if (supported.length < claims.length) notes.push(`${c.candidateId}: ${claims.length - supported.length} unlock claims are not failing tasks`);
    return { c, score: (supported.length + 0.5 * c.manifest.predictedImpact.stabilize.length) * (reputation[c.bucket] ?? 1) };
  });
  const supported = scored.filter((s) => s.score > 0);
  const ranked = [
    ...supported.filter((s) => !isExploration(s.c)).sort((a, b) => b.score - a.score || (a.c.candidateId < b.c.candidateId ? -1 : 1)),
    ...supported.filter((s) => isExploration(s.c)),
  ];
  if (!ranked.length) return { decision: 'no_op', reason: 'no candidate is supported by trace evidence' };
  return { decision: 'ship_ranking', ranking: ranked.map((s) => s.c.candidateId), notes };
}

/** The deterministic meta-agent: no LLM, same stage interfaces as the LLM one. */
export class RuleBasedMetaAgent implements MetaAgent {
  readonly name = 'rules';
  /** `seed`: the run's seed, for the exploration options' tie-break draw; `library`: the run's processor library. */
  constructor(private readonly seed = 'rules', private readonly library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY) {}
  async plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape> {
    return buildLandscape(input.digest, input.tried, input.config, input.digest.harnessId, this.seed, this.library);
  }
  async evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number }): Promise<CandidateDraft[]> {
    return draftCandidates(input.landscape, input.config, input.maxCandidates, input.round, input.digest);
  }
  async critique(input: { candidates: Candidate[]; digest: Digest; reputation: Record<string, number> }): Promise<Critique> {
    return rankCandidates(input.candidates, input.digest, input.reputation);
  }
}

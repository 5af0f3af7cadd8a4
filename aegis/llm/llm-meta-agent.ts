import { createHash } from 'node:crypto';
import { applyEdit, applyEdits } from '../../harness/builder';
import type { HarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import type { EpisodeTrace } from '../../harness/trace';
import { HOOKS } from '../../harness/types';
import { PROCESSOR_LIBRARY } from '../../harness/processors';
import { BUNDLES } from '../../harness/processors/bundles';
import { bundlesInLibrary, DEFAULT_PROCESSOR_LIBRARY, editOutsideLibrary, ProcessorLibraryName, typeInLibrary } from '../library-scope';
import type { CandidateDraft, CritiqueWithRevisions, MetaAgent, PreGateChecker, TriedEdit } from '../meta-agent';
import { rejectionKind, StageFailure } from '../meta-agent';
import { bucketOf, changeBucket, changeKey, editKey } from '../remedies';
import { landscapeFacts } from '../rule-based-agent';
import { Candidate, Digest, GateTerms, Landscape, Manifest, Remedy, TaskDigest } from '../types';
import { callStructured, MetaUsage, StageCall, summarizeCalls } from './structured-output';
import { clip, CRITIC_SYSTEM, DEFAULT_PROMPT_CHARS, DIGESTER_SYSTEM, digesterUser, editExamples, EVOLVER_REVISION_SYSTEM, EVOLVER_SYSTEM, failingSummary, fitJson, gateMechanics, harnessView, PLANNER_SYSTEM, PREAMBLE_CHARS, preambleOnce, withStableContext } from './prompts';
import { CriticOutputSchema, DigesterOutputSchema, EvolverOutput, EvolverOutputSchema, PlannerOutputSchema, Proposal, ProposalSchema } from './schemas';
import { moduleProblems, resolveModules } from './code-modules';

/** The Evolver's system prompt with the catalogue and code API: stable, so cached where the provider caches. */
const EVOLVER_STABLE = (library: ProcessorLibraryName) => withStableContext(EVOLVER_SYSTEM, { catalogue: true, codeApi: true, library });

/** Failing tasks per Digester call: enough context per task, bounded prompt. */
const DIGEST_CHUNK = 8;
/** Prompt-only edits stopped shipping: the last this-many prompt-bucket attempts were all rejected. */
const PROMPT_STALL = 2;

const tokens = (text: string) => Math.ceil(text.length / 4);

/** A smaller context budget for open-weight meta-agents served over the OpenAI-compatible protocol. */
export const COMPATIBLE_PROMPT_CHARS = 48_000;

/** The ledger as the Planner and Critic see it: each edit's gate outcome and whether it failed on its idea or a mistake. */
export function ledgerView(tried: TriedEdit[], max = 30) {
  return tried.slice(-max).map((t) => ({ key: clip(t.key, 200), bucket: t.bucket, onHarness: t.harnessId, outcome: clip(t.outcome, 400), ...(rejectionKind(t) ? { rejectedFor: rejectionKind(t) } : {}) }));
}

/**
 * Edit types the ledger has not tried on this harness, of every kind, as the Planner names them:
 * insert:<type>@<hook> for library types the harness lacks, replace:<group>-><type>@<hook> for another
 * member of a singleton group it has, remove:<id> and configure:<id> for each processor it has,
 * move:<id> for each processor that shares its hook with another (a move counts as tried whatever its
 * position was), and bundle:<name>@<version> for each bundle. `library`: the run's processor library —
 * with 'core' only its types are inserted or replaced to, and no bundle is listed.
 */
export function untriedEditTypes(config: HarnessConfig, tried: TriedEdit[], library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): string[] {
  const present = HOOKS.flatMap((hook) => config.hooks[hook].map((p) => ({ ...p, hook })));
  const presentTypes = new Set(present.map((p) => p.type));
  // A tried key may join several edits with '+'; each part counts as tried, unless it failed on a mistake
  // (the idea never ran, so it is still untried). A configure counts as tried whatever its params were, a
  // move whatever its position was.
  const triedKeys = new Set(
    tried
      .filter((t) => rejectionKind(t) !== 'mistake')
      .flatMap((t) => t.key.split('+'))
      .map((k) => (k.startsWith('configure:') ? k.split(':').slice(0, 2).join(':') : k.startsWith('move:') ? k.replace(/\((before|after):.*$/, '') : k)),
  );
  const out: string[] = [];
  const add = (key: string) => (!triedKeys.has(key) && !out.includes(key) ? out.push(key) : 0);
  const library_ = Object.values(PROCESSOR_LIBRARY).filter((def) => typeInLibrary(def.type, library));
  for (const def of library_) {
    if (presentTypes.has(def.type) && def.type !== 'code') continue;
    for (const hook of def.hooks) if (def.type !== 'code' || ['before_model', 'after_model', 'after_tool', 'before_tool'].includes(hook)) add(`insert:${def.type}@${hook}`);
  }
  for (const p of present) {
    const group = PROCESSOR_LIBRARY[p.type]?.meta.singletonGroup;
    if (group)
      for (const def of library_)
        if (def.type !== p.type && def.meta.singletonGroup === group && def.hooks.includes(p.hook)) add(`replace:${group}->${def.type}@${p.hook}`);
  }
  for (const p of present) add(`remove:${p.id}`);
  for (const p of present) if (p.type !== 'code') add(`configure:${p.id}`);
  for (const p of present) if (config.hooks[p.hook].length >= 2) add(`move:${p.id}`);
  if (bundlesInLibrary(library)) for (const b of BUNDLES) add(`bundle:${b.name}@${b.version}`);
  return out;
}

/** The untried edit types by the bucket each would land in (what "spans every kind and bucket" looks like to the Planner). */
export function untriedByBucket(config: HarnessConfig, tried: TriedEdit[], library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const typeOf = new Map(HOOKS.flatMap((h) => config.hooks[h].map((p) => [p.id, p.type] as const)));
  for (const key of untriedEditTypes(config, tried, library)) {
    const [op, rest] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const type = op === 'insert' ? rest.split('@')[0] : op === 'replace' ? rest.split('->')[1].split('@')[0] : typeOf.get(rest) ?? 'code';
    const processor = { id: 'x', type, params: {} };
    const bucket =
      op === 'bundle'
        ? changeBucket({ op, name: rest.split('@')[0] }, typeOf)
        : op === 'move'
          ? changeBucket({ op, processorId: rest, before: rest }, typeOf)
          : changeBucket(op === 'configure' ? { op, processorId: rest, params: {} } : op === 'remove' ? { op, processorId: rest } : { op: 'insert', hook: 'task_start', processor }, typeOf);
    (out[bucket] ??= []).push(key);
  }
  return out;
}

/** True when prompt-only edits have stopped shipping, so the Planner must go structural. */
export function promptEditsStalled(tried: TriedEdit[]): boolean {
  const prompt = tried.filter((t) => t.bucket === 'prompt' && rejectionKind(t) !== 'mistake');
  return prompt.length >= PROMPT_STALL && prompt.slice(-PROMPT_STALL).every((t) => !t.outcome.startsWith('shipped'));
}

/**
 * The LLM meta-agent (the report's default: an Opus model; any provider). Each stage is one structured
 * call (one repair attempt on invalid output); a stage whose output stays invalid throws StageFailure and
 * the round no-ops. It never decides what ships: the deterministic gate does.
 */
export class LlmMetaAgent implements MetaAgent {
  readonly name: string;
  private readonly calls: StageCall[] = [];

  /** Characters a stage's JSON payload may use before it is summarised. */
  private readonly promptChars: number;

  /**
   * `promptChars`: the payload budget; by default smaller for openai-compatible (open-weight, smaller
   * context) models, whose prompts are summarised level by level rather than cut.
   */
  /** The run's processor library: what the catalogue shows and what a proposal may insert (see aegis/library-scope.ts). */
  private readonly library: ProcessorLibraryName;

  constructor(private readonly model: Model, options: { promptChars?: number; library?: ProcessorLibraryName } = {}) {
    this.name = `llm:${model.id}`;
    this.library = options.library ?? DEFAULT_PROCESSOR_LIBRARY;
    this.promptChars = options.promptChars ?? (model.id.startsWith('openai-compatible:') ? COMPATIBLE_PROMPT_CHARS : DEFAULT_PROMPT_CHARS);
  }

  usage(): MetaUsage {
    return summarizeCalls(this.calls);
  }

  /** Calls made so far (with their token usage and reply mode), for tests and reports. */
  stageCalls(): readonly StageCall[] {
    return this.calls;
  }

  private async structured<T>(stage: string, run: () => Promise<{ ok: true; value: T; calls: StageCall[] } | { ok: false; error: string; calls: StageCall[] }>): Promise<T> {
    const r = await run();
    this.calls.push(...r.calls);
    if (!r.ok) throw new StageFailure(stage, r.error);
    return r.value;
  }

  /** Per task: a failure summary linked to the task's history; digest tokens are the Digester's output. */
  async digest(input: { digest: Digest; traces: EpisodeTrace[]; config?: HarnessConfig }): Promise<Digest> {
    const failing = input.digest.tasks.filter((t) => t.category !== null);
    if (!failing.length) return input.digest;
    const byTask = new Map<string, EpisodeTrace[]>();
    for (const t of input.traces) byTask.set(t.taskId, [...(byTask.get(t.taskId) ?? []), t]);
    const summaries = new Map<string, { summary: string; category: TaskDigest['category']; secondary: NonNullable<TaskDigest['secondary']>; evidence: string[]; implicated: string[] }>();
    let outputTokens = 0;
    for (let i = 0; i < failing.length; i += DIGEST_CHUNK) {
      const chunk = failing.slice(i, i + DIGEST_CHUNK);
      const ids = new Set(chunk.map((t) => t.taskId));
      const before = this.calls.length;
      const out = await this.structured('digest', () =>
        callStructured({
          model: this.model,
          stage: 'digest',
          system: withStableContext(DIGESTER_SYSTEM, { libraryTypes: true, library: this.library }),
          user: digesterUser(chunk.map((d) => ({ digest: d, traces: byTask.get(d.taskId) ?? [] })), input.config, this.promptChars, input.digest.sharedPreamble),
          schema: DigesterOutputSchema,
          check: (v) => {
            const got = new Set(v.tasks.map((t) => t.taskId));
            return [...[...ids].filter((id) => !got.has(id)).map((id) => `tasks: no entry for task "${id}"`), ...[...got].filter((id) => !ids.has(id)).map((id) => `tasks: "${id}" was not given`)];
          },
        }),
      );
      outputTokens += this.calls.slice(before).reduce((n, c) => n + c.usage.outputTokens, 0);
      for (const t of out.tasks) summaries.set(t.taskId, t);
    }
    const tasks = input.digest.tasks.map((t) => {
      const s = summaries.get(t.taskId);
      return s ? { ...t, summary: s.summary, category: s.category, secondary: s.secondary.filter((c) => c !== s.category), evidence: [...s.evidence, ...t.evidence].slice(0, 6), implicated: s.implicated.length ? s.implicated : t.implicated } : t;
    });
    return { ...input.digest, tasks, digestTokens: outputTokens || tokens(JSON.stringify([...summaries.values()])) };
  }

  async plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig; gate?: GateTerms }): Promise<Landscape> {
    const { digest, tried, config } = input;
    const stalled = promptEditsStalled(tried);
    const untried = untriedEditTypes(config, tried, this.library);
    const out = await this.structured('plan', () =>
      callStructured({
        model: this.model,
        stage: 'plan',
        system: withStableContext(PLANNER_SYSTEM, { catalogue: true, library: this.library }),
        user: fitJson(
          [30, 12, 4].map((n) => ({
            round: digest.round,
            ...preambleOnce(digest, n === 30 ? PREAMBLE_CHARS : 1500),
            failingTasks: failingSummary(digest, n),
            solvedTasks: digest.tasks.filter((t) => t.passed).length,
            harness: harnessView(config, n === 30 ? 3000 : 600),
            editExamples: editExamples(config),
            editsTried: ledgerView(tried, n),
            untriedEditTypes: n === 4 ? untried.slice(0, 40) : untriedByBucket(config, tried, this.library),
            promptOnlyEditsStalled: stalled,
            ...(input.gate ? { gateRules: gateMechanics(input.gate) } : {}),
          })),
          this.promptChars,
        ),
        schema: PlannerOutputSchema,
        check: (v) => (stalled && v.options.length > 0 && v.options.every((o) => o.bucket === 'prompt') ? ['options: prompt-only edits have stopped shipping; propose at least one structural option (tools, config or processor bucket)'] : []),
      }),
    );
    const failing = digest.tasks.filter((t) => t.category !== null);
    const categories = [...new Set(failing.map((t) => t.category!))].map((category) => ({ category, tasks: failing.filter((t) => t.category === category).map((t) => t.taskId) }));
    const options: Remedy[] = out.options.map((o) => ({
      category: o.category,
      bucket: o.bucket,
      edits: [],
      key: `llm:${o.bucket}:${createHash('sha256').update(o.direction).digest('hex').slice(0, 10)}`,
      rationale: clip(o.direction, 300),
      direction: o.direction,
    }));
    return { ...landscapeFacts(digest, tried, digest.harnessId), categories, options };
  }

  private evolverContext(config: HarnessConfig) {
    return { harness: harnessView(config), editExamples: editExamples(config, this.library) };
  }

  /**
   * Builder problems of proposals on the incumbent, for the repair prompt: every change that does not
   * apply, not only a candidate's first (a change that fails is skipped and the next ones are tried on what
   * the candidate built so far, so a later problem is reported too).
   */
  static proposalProblems(config: HarnessConfig, proposals: Proposal[], label: (i: number) => string, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): string[] {
    const problems: string[] = [];
    proposals.forEach((p, i) => {
      let current = config;
      p.changes.forEach((edit, j) => {
        const outside = editOutsideLibrary(edit, library);
        if (outside) return void problems.push(`${label(i)}.changes.${j}: library: ${outside}`);
        const built = applyEdit(current, edit);
        if (built.ok) current = built.config;
        else problems.push(`${label(i)}.changes.${j}: ${built.error.rule}: ${built.error.message}`);
      });
    });
    return problems;
  }

  /**
   * Every problem of an Evolver reply: module references, too many candidates, changes that do not apply.
   * `raw`: a reply that failed the schema — its candidates that parse on their own are checked too, so the
   * repair message names their problems beside the schema's.
   */
  static replyProblems(config: HarnessConfig, reply: EvolverOutput, maxCandidates: number, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): string[] {
    const resolved = resolveModules(reply.candidates, reply.modules);
    return [
      ...resolved.problems,
      ...(reply.candidates.length > maxCandidates ? [`candidates: at most ${maxCandidates}, got ${reply.candidates.length}`] : []),
      ...LlmMetaAgent.proposalProblems(config, resolved.candidates, (i) => `candidates.${i}`, library),
    ];
  }

  /** The semantic problems of the parts of a schema-invalid Evolver reply that parse on their own. */
  static partialReplyProblems(config: HarnessConfig, raw: unknown, library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY): string[] {
    const value = raw as { candidates?: unknown; modules?: unknown } | null;
    if (!value || typeof value !== 'object' || !Array.isArray(value.candidates)) return [];
    const modules = EvolverOutputSchema.shape.modules.safeParse(value.modules);
    const problems: string[] = [];
    value.candidates.forEach((c, i) => {
      const parsed = ProposalSchema.safeParse(c);
      if (!parsed.success) return;
      const resolved = resolveModules([parsed.data], modules.success ? modules.data : [], () => `candidates.${i}`);
      problems.push(...resolved.problems, ...LlmMetaAgent.proposalProblems(config, resolved.candidates, () => `candidates.${i}`, library));
    });
    return problems;
  }

  /** The reply's candidates with module references resolved to their source (checked: resolution found no problem). */
  private static resolved(reply: EvolverOutput): Proposal[] {
    return resolveModules(reply.candidates, reply.modules).candidates;
  }

  /** A checked proposal as a draft: keyed by all its changes, filed under the bucket its changes make it. */
  private static draft(config: HarnessConfig, p: Proposal, candidateId: string): CandidateDraft {
    const built = applyEdits(config, p.changes);
    if (!built.ok) throw new Error(`unreachable: checked proposal does not apply: ${built.error.message}`);
    const key = editKey(p.changes);
    const bucket = bucketOf(p.changes, config);
    const manifest: Manifest = {
      candidateId,
      bucket,
      capabilityEvidence: p.evidence,
      changes: p.changes,
      predictedImpact: { tasksWillUnlock: p.predictedImpact.tasksWillUnlock, stabilize: p.predictedImpact.stabilize, atRisk: p.predictedImpact.atRisk },
      attributionSignature: `${bucket}: ${clip(p.rationale, 400)}`,
    };
    return { candidateId, editKey: key, bucket, manifest, config: built.config };
  }

  private static drafts(config: HarnessConfig, proposals: Proposal[], round: number): CandidateDraft[] {
    const seen = new Set<string>();
    return proposals.map((p, i) => LlmMetaAgent.draft(config, p, `r${round}-c${i + 1}`)).filter((d) => (seen.has(d.editKey) ? false : (seen.add(d.editKey), true)));
  }

  /** The pre-gate verdict of each draft, failures only, worded for the Evolver; every draft is marked with its verdict for the Critic. */
  private static async preGateFailures(drafts: CandidateDraft[], preGate: PreGateChecker): Promise<Array<{ candidateId: string; reason: string }>> {
    const failures: Array<{ candidateId: string; reason: string }> = [];
    for (const d of drafts) {
      const verdict = await preGate(d);
      d.preGate = verdict.passed ? 'passed' : `rejected: ${verdict.reason ?? 'rejected'}`;
      if (!verdict.passed) failures.push({ candidateId: d.candidateId, reason: verdict.reason ?? 'rejected' });
    }
    return failures;
  }

  /**
   * Candidates from the Planner's options. With a pre-gate checker, the drafts run the gate's rollout-free
   * checks here; failures go back to the Evolver with the exact messages, once, in the same conversation,
   * and the corrected list replaces the first. Candidates still failing then stay in the pool (the gate
   * rejects them again, and the ledger records a mistake); a repair reply that is unusable keeps the first list.
   */
  async evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number; preGate?: PreGateChecker; gate?: GateTerms }): Promise<CandidateDraft[]> {
    const { landscape, digest, config, maxCandidates, round } = input;
    if (!landscape.options.length) return [];
    const user = fitJson(
      [20, 8, 4].map((n) => ({
        round,
        maxCandidates,
        ...preambleOnce(digest, n === 20 ? PREAMBLE_CHARS : 1500),
        options: landscape.options.slice(0, 8).map((o) => ({ category: o.category, bucket: o.bucket, direction: o.direction ?? o.rationale })),
        failingTasks: failingSummary(digest, n),
        editsTried: landscape.editsTried.slice(-n).map((t) => ({ key: clip(t.key, 200), outcome: clip(t.outcome, 300), ...(rejectionKind(t) ? { rejectedFor: rejectionKind(t) } : {}) })),
        ...(input.gate ? { gateRules: gateMechanics(input.gate) } : {}),
        ...this.evolverContext(config),
      })),
      this.promptChars,
    );
    const check = (v: EvolverOutput) => LlmMetaAgent.replyProblems(config, v, maxCandidates, this.library);
    const partialCheck = (raw: unknown) => LlmMetaAgent.partialReplyProblems(config, raw, this.library);
    const out = await this.structured('evolve', () => callStructured({ model: this.model, stage: 'evolve', system: EVOLVER_STABLE(this.library), user, schema: EvolverOutputSchema, maxTokens: 8192, check, partialCheck }));
    const drafts = LlmMetaAgent.drafts(config, LlmMetaAgent.resolved(out), round);
    if (!input.preGate) return drafts;
    const failures = await LlmMetaAgent.preGateFailures(drafts, input.preGate);
    if (!failures.length) return drafts;
    // A shared module is type-checked once for the reply; its problem is stated once, not per candidate using it.
    const brokenModules = await moduleProblems(out.modules);
    const byId = new Map(drafts.map((d, i) => [d.candidateId, i]));
    const feedback = [
      'The gate\'s rollout-free checks rejected these candidates (they would not reach the rollouts):',
      ...[...brokenModules].map(([id, problem]) => `- modules.${id} (used by every code processor that names it): ${problem}`),
      ...failures.map((f) => `- candidates.${byId.get(f.candidateId)} (${f.candidateId}): ${f.reason}`),
      'Reply with the complete candidate list again: the passing candidates unchanged, each failing one corrected (same idea, the mistake fixed).',
    ].join('\n');
    const repaired = await callStructured({
      model: this.model,
      stage: 'evolve',
      system: EVOLVER_STABLE(this.library),
      user,
      history: [{ role: 'assistant', content: JSON.stringify(out) }, { role: 'user', content: feedback }],
      schema: EvolverOutputSchema,
      maxTokens: 8192,
      check,
      partialCheck,
    });
    this.calls.push(...repaired.calls.map((c) => ({ ...c, attempt: 'repair' as const })));
    if (!repaired.ok) return drafts;
    const corrected = LlmMetaAgent.drafts(config, LlmMetaAgent.resolved(repaired.value), round);
    // The corrected list is checked again, so the Critic is told what the gate's first checks say of it.
    await LlmMetaAgent.preGateFailures(corrected, input.preGate);
    return corrected;
  }

  /** Claims a manifest makes that the digest does not support: checked in code, given to the Critic. */
  static claimFindings(candidates: Candidate[], digest: Digest): Record<string, string[]> {
    const failing = new Set(digest.tasks.filter((t) => t.category !== null).map((t) => t.taskId));
    const known = new Set(digest.tasks.map((t) => t.taskId));
    return Object.fromEntries(
      candidates.map((c) => {
        const findings: string[] = [];
        const claims = c.manifest.predictedImpact.tasksWillUnlock;
        const unsupported = claims.filter((id) => !failing.has(id));
        if (unsupported.length) findings.push(`${unsupported.length} of ${claims.length} claimed unlocks are not failing tasks of this round (${unsupported.slice(0, 5).join(', ')})`);
        const strangers = [...c.manifest.predictedImpact.stabilize, ...c.manifest.predictedImpact.atRisk].filter((id) => !known.has(id));
        if (strangers.length) findings.push(`${strangers.length} task(s) named that are not in this round's batch`);
        if (!claims.length) findings.push('claims no unlocks');
        return [c.candidateId, findings];
      }),
    );
  }

  async critique(input: { candidates: Candidate[]; digest: Digest; reputation: Record<string, number>; config: HarnessConfig; round: number; tried?: TriedEdit[]; gate?: GateTerms }): Promise<CritiqueWithRevisions> {
    const { digest, reputation, config } = input;
    let candidates = input.candidates;
    const revised: CandidateDraft[] = [];
    for (const revisionAllowed of [true, false]) {
      const ids = new Set(candidates.map((c) => c.candidateId));
      const decision = await this.structured('critique', () =>
        callStructured({
          model: this.model,
          stage: 'critique',
          system: CRITIC_SYSTEM,
          // Full changes while the budget allows; then each change by its key (never a cut in the middle of a change).
          user: fitJson(
            [20, 8, 4].map((n) => ({
              revisionAllowed,
              ...preambleOnce(digest, n === 20 ? PREAMBLE_CHARS : 1500),
              candidates: candidates.map((c) => ({
                candidateId: c.candidateId,
                bucket: c.bucket,
                editKey: clip(c.editKey, 300),
                rationale: c.manifest.attributionSignature,
                changes: n === 20 ? c.manifest.changes : c.manifest.changes.map((e) => changeKey(e)),
                evidence: c.manifest.capabilityEvidence,
                predictedImpact: c.manifest.predictedImpact,
                preGate: c.preGate ?? 'not run (the gate runs its rollout-free checks first)',
              })),
              automaticClaimChecks: LlmMetaAgent.claimFindings(candidates, digest),
              failingTasks: failingSummary(digest, n),
              bucketReputation: reputation,
              editsTried: ledgerView(input.tried ?? [], n),
              ...(input.gate ? { gateRules: gateMechanics(input.gate) } : {}),
            })),
            this.promptChars,
          ),
          schema: CriticOutputSchema,
          check: (v) => {
            if (v.decision === 'ship_ranking') return v.ranking.filter((id) => !ids.has(id)).map((id) => `ranking: "${id}" is not a candidate`);
            if (v.decision === 'revise') return !revisionAllowed ? ['decision: revision is no longer allowed; rank or no_op'] : ids.has(v.candidateId) ? [] : [`candidateId: "${v.candidateId}" is not a candidate`];
            return [];
          },
        }),
      );
      if (decision.decision === 'no_op') return { decision: 'no_op', reason: decision.reason, ...(revised.length ? { revised } : {}) };
      if (decision.decision === 'ship_ranking') return { decision: 'ship_ranking', ranking: [...new Set(decision.ranking)], notes: decision.notes, ...(revised.length ? { revised } : {}) };
      // One revision request to the Evolver; the revised candidate joins the pool and the Critic decides again.
      const original = candidates.find((c) => c.candidateId === decision.candidateId)!;
      const proposal = await this.structured('revise', () =>
        callStructured({
          model: this.model,
          stage: 'revise',
          system: withStableContext(EVOLVER_REVISION_SYSTEM, { catalogue: true, codeApi: true, library: this.library }),
          user: JSON.stringify({ ...preambleOnce(digest, 1500), failingTasks: failingSummary(digest, 8), candidate: { bucket: original.bucket, changes: original.manifest.changes, evidence: original.manifest.capabilityEvidence, predictedImpact: original.manifest.predictedImpact, rationale: original.manifest.attributionSignature }, criticRequest: decision.request, ...this.evolverContext(config) }),
          schema: EvolverOutputSchema,
          maxTokens: 8192,
          check: (v) => [...(v.candidates.length !== 1 ? [`candidates: exactly one revised candidate, got ${v.candidates.length}`] : []), ...LlmMetaAgent.replyProblems(config, v, 1, this.library)],
          partialCheck: (raw) => LlmMetaAgent.partialReplyProblems(config, raw, this.library),
        }),
      );
      const draft = LlmMetaAgent.draft(config, LlmMetaAgent.resolved(proposal)[0], `${original.candidateId}-rev`);
      revised.push(draft);
      candidates = [...candidates, { ...draft, harnessId: 'pending' }];
    }
    throw new Error('unreachable');
  }
}

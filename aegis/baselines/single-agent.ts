import type { HarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import type { EpisodeTrace } from '../../harness/trace';
import type { Usage } from '../../harness/types';
import { episodeSignals } from '../digester';
import { clip, EVOLVER_SYSTEM, harnessView, processorCatalogue, traceExcerpt } from '../llm/prompts';
import { EvolverOutputSchema } from '../llm/schemas';
import { callStructured, StageCall, summarizeCalls } from '../llm/structured-output';
import { applyEdits } from '../../harness/builder';
import { harnessApiText } from '../../harness/sandbox/compile-processor';
import { CandidateDraft, MetaAgent, StageFailure, TriedEdit } from '../meta-agent';
import { remediesFor } from '../remedies';
import { DEFAULT_PROCESSOR_LIBRARY, editOutsideLibrary, ProcessorLibraryName } from '../library-scope';
import type { Candidate, Digest, FailureCategory, Landscape } from '../types';
import { draftFrom, gateAll, passThroughLandscape } from './common';

export const SINGLE_AGENT_SYSTEM = `${EVOLVER_SYSTEM}
You work alone: there is no separate digest, plan or critique. You see raw trace excerpts of this round's failed episodes and the harness. Propose exactly ONE candidate edit.`;

/**
 * The single-agent baseline (the report's Claude Code SDK baseline): one meta-agent call per round that
 * reads raw traces and proposes one edit; no digester, critic or revision. Without a model it is the
 * rules analogue: signals pooled over raw traces (no per-task digest), the top category's first untried
 * remedy. Either way the same deterministic gate decides.
 */
export class SingleAgentMetaAgent implements MetaAgent {
  readonly name: string;
  private readonly calls: StageCall[] = [];
  /** `library`: the run's processor library (the catalogue shown, and what a proposal may insert). */
  constructor(private readonly model: Model | null, private readonly library: ProcessorLibraryName = DEFAULT_PROCESSOR_LIBRARY) {
    this.name = model ? `single-agent:${model.id}` : 'single-agent:rules';
  }
  usage(): { usage: Usage; calls: number; repairs: number } {
    return summarizeCalls(this.calls);
  }
  async plan(input: { digest: Digest; tried: TriedEdit[]; config: HarnessConfig }): Promise<Landscape> {
    const landscape = passThroughLandscape(input.digest, 'single-agent edit');
    return { ...landscape, editsTried: input.tried.filter((t) => t.harnessId === input.digest.harnessId).map((t) => ({ key: t.key, outcome: t.outcome })) };
  }
  async evolve(input: { landscape: Landscape; digest: Digest; config: HarnessConfig; maxCandidates: number; round: number; traces?: EpisodeTrace[] }): Promise<CandidateDraft[]> {
    const failed = (input.traces ?? []).filter((t) => !t.success);
    if (!failed.length) return [];
    const id = `r${input.round}-c1`;
    if (!this.model) {
      const counts = new Map<FailureCategory, number>();
      for (const t of failed) for (const [c, n] of Object.entries(episodeSignals(t).counts) as [FailureCategory, number][]) counts.set(c, (counts.get(c) ?? 0) + n);
      const tried = new Set(input.landscape.editsTried.map((t) => t.key));
      for (const [category] of [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
        const remedy = remediesFor(category, input.config).find((r) => !tried.has(r.key) && r.edits.every((e) => editOutsideLibrary(e, this.library) === null));
        const d = remedy && draftFrom(input.config, remedy.edits, remedy.bucket, id, `single-agent: ${category} → ${remedy.rationale}`, input.digest);
        if (d) return [d];
      }
      return [];
    }
    const r = await callStructured({
      model: this.model,
      stage: 'single-agent',
      system: SINGLE_AGENT_SYSTEM,
      user: JSON.stringify({
        round: input.round,
        failedEpisodes: failed.slice(0, 20).map((t) => ({ taskId: t.taskId, attempt: t.attempt, instruction: clip(t.instruction, 600), excerpt: traceExcerpt(t) })),
        editsTried: input.landscape.editsTried.slice(-20),
        harness: harnessView(input.config),
        processorLibrary: processorCatalogue(this.library),
        ...(this.library === 'full' ? {} : { libraryNote: `This run's processor library is "${this.library}": insert or replace only the types listed; bundles are not available.` }),
        codeProcessorApi: harnessApiText(),
      }),
      schema: EvolverOutputSchema,
      maxTokens: 8192,
      check: (v) => [
        ...(v.candidates.length !== 1 ? [`candidates: exactly one, got ${v.candidates.length}`] : []),
        ...v.candidates.flatMap((p, i) => p.changes.flatMap((e, j) => {
          const outside = editOutsideLibrary(e, this.library);
          return outside ? [`candidates.${i}.changes.${j}: library: ${outside}`] : [];
        })),
        ...v.candidates.flatMap((p, i) => {
          const built = applyEdits(input.config, p.changes);
          return built.ok ? [] : [`candidates.${i}.changes: ${built.error.rule}: ${built.error.message}`];
        }),
      ],
    });
    this.calls.push(...r.calls);
    if (!r.ok) throw new StageFailure('single-agent', r.error);
    const p = r.value.candidates[0];
    const d = draftFrom(input.config, p.changes, p.bucket, id, `single-agent: ${clip(p.rationale, 300)}`, input.digest, p.evidence);
    return d ? [d] : [];
  }
  async critique(input: { candidates: Candidate[] }) {
    return gateAll(input.candidates);
  }
}

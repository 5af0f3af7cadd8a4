/**
 * What the Temporal Web UI shows of a HarnessX run (user metadata): a workflow's static summary, each
 * activity's summary ("round 3 · gate · r3-c2 · 40 tasks") and the workflow's current details. Pure text
 * from plain values, so the workflows, the CLI that starts them and the unit tests share one wording.
 */

/** Thousands separators, so 1029848 reads 1,029,848 wherever a person sees it. */
export const grouped = (n: number) => Math.round(n).toLocaleString('en-US');

/** A rate as a percentage with one decimal, or "n/a". */
export const percent = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/** The spend caps of a run in words: "budget 500,000 tok, $2" or "no budget cap". */
export function budgetWords(limits: { maxTokens?: number; maxUsd?: number }): string {
  const caps = [limits.maxTokens ? `${grouped(limits.maxTokens)} tok` : null, limits.maxUsd ? `$${limits.maxUsd}` : null].filter(Boolean);
  return caps.length ? `budget ${caps.join(', ')}` : 'no budget cap';
}

/** The static summary of an evolveHarness run: what it evolves, with which models, for how long and how much. */
export function evolveSummary(input: { benchmark: string; model: string; metaAgent: string; evolver?: string; rounds: number; k: number; seed: string; maxTokens?: number; maxUsd?: number }): string {
  const evolver = input.evolver && input.evolver !== 'aegis' ? `${input.evolver} evolver` : 'AEGIS';
  return `HarnessX ${evolver} · ${input.benchmark} · task model ${input.model} · meta-agent ${input.metaAgent} · ${input.rounds} rounds · pass@${input.k} · seed ${input.seed} · ${budgetWords(input)}`;
}

/** The static summary of a co-evolution (harness + GRPO) run. */
export function coevolveSummary(input: { benchmark: string; model: string; metaAgent: string; iterations: number; trainer: string; k: number; seed: string }): string {
  return `HarnessX co-evolution · ${input.benchmark} · task model ${input.model} · meta-agent ${input.metaAgent} · trainer ${input.trainer} · ${input.iterations} iterations · pass@${input.k} · seed ${input.seed}`;
}

/** The static summary of an evaluateHarness run. */
export function evaluateSummary(input: { benchmark: string; harnessId: string; taskIds: readonly string[]; k: number }): string {
  return `HarnessX evaluation · ${input.benchmark} · harness ${input.harnessId} · ${grouped(input.taskIds.length)} tasks · pass@${input.k}`;
}

/**
 * A static summary for any other HarnessX workflow (e.g. a deployment): a kind and its facts, joined the
 * same way as the others, e.g. workflowSummary('deployment', ['webshop', 'harness hx-…', 'canary 10%']).
 */
export function workflowSummary(kind: string, facts: readonly string[]): string {
  return [`HarnessX ${kind}`, ...facts.filter(Boolean)].join(' · ');
}

/** Where a workflow is when it schedules an activity: the round (0 before the first) and the stage. */
export interface ActivityPlace {
  round: number;
  stage: string;
  /** The word for a round in this workflow ("round", or "iteration" in co-evolution). */
  roundWord?: string;
}

type Args = { candidateId?: unknown; taskIds?: unknown; seed?: unknown; harnessId?: unknown; k?: unknown; variants?: unknown };

const META_STAGES = new Set(['digest', 'plan', 'evolve', 'critique']);

/**
 * One activity's summary: round, stage, and what distinguishes it from its siblings (the candidate a gate
 * judges, the tasks an evaluation covers and what the evaluation is for). Evaluations are told apart by
 * the seed the workflows give them: '|regression' is the regression guard, '|final' the test split.
 */
export function activitySummary(place: ActivityPlace, activity: string, rawArgs: unknown): string {
  const args = (rawArgs && typeof rawArgs === 'object' ? rawArgs : {}) as Args;
  const tasks = Array.isArray(args.taskIds) ? `${grouped(args.taskIds.length)} tasks` : null;
  const seed = typeof args.seed === 'string' ? args.seed : '';
  const round = place.round > 0 ? `${place.roundWord ?? 'round'} ${place.round}` : null;
  const join = (...parts: Array<string | null>) => parts.filter(Boolean).join(' · ');
  if (activity === 'gate') return join(round, 'gate', typeof args.candidateId === 'string' ? args.candidateId : null, tasks);
  if (META_STAGES.has(activity)) return join(round, activity, 'meta-agent');
  if (activity === 'rollout' || activity === 'ensembleRollout' || activity === 'rolloutOutcomes') return join(round, place.stage === 'rollout' ? 'rollout' : place.stage, tasks, typeof args.k === 'number' ? `pass@${args.k}` : null);
  if (activity === 'evaluate' || activity === 'ensembleEvaluate') {
    // The final evaluation gives train and test the same seed: its label names harness and task count only.
    const what = place.stage === 'final' ? 'final evaluation' : seed.endsWith('|regression') ? 'regression guard' : `held-out ${seed.endsWith('|final') ? 'test' : 'validation'}`;
    return join(place.stage === 'final' ? null : round, what, typeof args.harnessId === 'string' ? args.harnessId : Array.isArray(args.variants) ? `${args.variants.length} variants` : null, tasks);
  }
  if (activity === 'prepareRun') return 'setup · seed harness and task split';
  if (activity === 'endpointLimitsInForce') return 'setup · endpoint limits';
  return join(round, place.stage, activity);
}

/** The progress a workflow's current details report. */
export interface DetailsView {
  round: number;
  rounds: number;
  stage: string;
  shipped: number;
  rejected: number;
  /** The incumbent's best held-out validation pass rate so far (null until measured). */
  bestValidation: number | null;
  lastPassRate: number | null;
  tokens: number;
  lastEvent: string;
}

/** The workflow's current details (markdown the Web UI renders on the run's page): kept current by the workflow. */
export function currentDetails(v: DetailsView): string {
  // "of", not "/": the UI's markdown renders 1/4 as a fraction glyph.
  return [
    `**Round ${v.round} of ${v.rounds} · ${v.stage}** · best held-out validation ${percent(v.bestValidation)} · last batch pass ${percent(v.lastPassRate)}`,
    `shipped ${v.shipped} · rejected ${v.rejected} · evolution spend ${grouped(v.tokens)} tok · last event: ${v.lastEvent}`,
  ].join('\n\n');
}

/**
 * The best held-out validation pass rate the incumbent reached in any round (what HarnessXBestScore and
 * the current details report), or null before held-out tracking measured one.
 */
export function bestValidation(heldOut: ReadonlyArray<{ validation: number | null }> | undefined): number | null {
  const measured = (heldOut ?? []).map((p) => p.validation).filter((v): v is number => typeof v === 'number');
  return measured.length ? Math.max(...measured) : null;
}

import { ApplicationFailure, condition, continueAsNew, defineQuery, executeChild, patched, proxyActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Checkpoint } from '../activities/coevolution';
import { CoevolveInput, coevolveInputSchema } from '../coevolution/coevolve-input';
import { inputProblems, workflowIdProblem } from '../aegis/run-input';
import { seededSample } from '../aegis/sampling';
import { TriedEdit, triedEditFromGate } from '../aegis/meta-agent';
import { activitySummary, ActivityPlace, coevolveSummary, percent } from '../aegis/run-labels';
import { ACTIVITY_OPTIONS } from '../temporal.config';
import { labelledActivities } from './labelled-activities';
import { pauseSignal, resumeSignal, stopSignal } from './evolve-harness';

/** Where the run is, for each activity's summary in the Web UI (module state is per workflow execution). */
const place: ActivityPlace = { round: 0, stage: 'setup', roundWord: 'iteration' };
const label = (activity: string, args: unknown) => activitySummary(place, activity, args);
const rollouts = labelledActivities(proxyActivities<Activities>(ACTIVITY_OPTIONS.rollout), label);
const meta = labelledActivities(proxyActivities<Activities>(ACTIVITY_OPTIONS.meta), label);
const books = labelledActivities(proxyActivities<Activities>(ACTIVITY_OPTIONS.bookkeeping), label);
const training = labelledActivities(proxyActivities<Activities>(ACTIVITY_OPTIONS.training), label);

export interface CoevolveState {
  iteration: number;
  /** The harness's behaviour config (its model is set to the checkpoint for each rollout). */
  harnessId: string;
  seedHarnessId: string;
  checkpoint: Checkpoint;
  reference: Checkpoint;
  bufferRef: string | null;
  trainIds: string[];
  validationIds: string[];
  testIds: string[];
  tried: TriedEdit[];
  reputation: Record<string, number>;
  shipped: number;
  passRates: Array<{ iteration: number; passRate: number; checkpoint: string }>;
}

export interface CoevolveStatus {
  iteration: number;
  iterations: number;
  harnessId: string | null;
  checkpointId: string | null;
  paused: boolean;
  lastEvent: string;
}

export interface CoevolveResult {
  workflowId: string;
  benchmark: string;
  iterations: number;
  harnessId: string;
  checkpoint: Checkpoint;
  bufferRef: string | null;
  seedPassRate: number;
  coevolvedPassRate: number;
  harnessOnlyPassRate: number | null;
  testTasks: number;
  shipped: number;
}

export const coevolveStatusQuery = defineQuery<CoevolveStatus>('coevolveStatus');

/**
 * Harness–model co-evolution (report §5): each iteration rolls out under (harness, checkpoint), inserts the
 * scored traces into the replay buffer (behaviour log-probs cached there), runs one AEGIS harness update on
 * those traces, then one GRPO update from the same buffer; both finish before the next rollout.
 */
export async function coevolve(rawInput: unknown): Promise<CoevolveResult> {
  const idProblem = workflowIdProblem(workflowInfo().workflowId);
  if (idProblem) throw ApplicationFailure.nonRetryable(`invalid coevolve run: ${idProblem}`, 'InvalidInput');
  const parsed = coevolveInputSchema().safeParse(rawInput ?? {});
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid coevolve input:\n${inputProblems(parsed.error).map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput');
  const input: CoevolveInput = parsed.data;
  const workflowId = workflowInfo().workflowId;
  let paused = false;
  let stopping = false;
  let lastEvent = 'starting';
  let state = input.resume as CoevolveState | undefined;
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  setHandler(stopSignal, () => void (stopping = true));
  setHandler(coevolveStatusQuery, () => ({ iteration: state?.iteration ?? 0, iterations: input.iterations, harnessId: state?.harnessId ?? null, checkpointId: state?.checkpoint.id ?? null, paused, lastEvent }));

  if (!state) {
    const prepared = await books.prepareRun({ benchmark: input.benchmark, model: input.model, metaAgent: input.metaAgent, validationSize: input.validationSize, seed: input.seed });
    const base: Checkpoint = { id: 'base', model: input.model };
    state = { iteration: 0, harnessId: prepared.seedHarnessId, seedHarnessId: prepared.seedHarnessId, checkpoint: base, reference: base, bufferRef: null, trainIds: prepared.trainIds, validationIds: prepared.validationIds, testIds: prepared.testIds, tried: [], reputation: { prompt: 1, tools: 1, config: 1, processor: 1 }, shipped: 0, passRates: [] };
  }
  const s = state;
  const spec = { metaAgent: input.metaAgent, seed: input.seed };
  /** Records what happened and shows it in the run's current details (Web UI). */
  const note = (event: string) => {
    lastEvent = event;
    const last = s.passRates[s.passRates.length - 1];
    setCurrentDetails(`**Iteration ${s.iteration} of ${input.iterations} · ${place.stage}**\n\nlast batch pass ${percent(last?.passRate)} · shipped ${s.shipped} · checkpoint ${s.checkpoint.id}\n\nlast event: ${event}`);
  };

  /** One AEGIS round on the rollout's traces: digest → plan → evolve → critique → gate; the shipped candidate, if any. */
  async function improveHarness(it: number, acting: string, batch: string[], roll: { tracesRef: string; outcomesRef: string }) {
    const digest = await meta.digest({ round: it, harnessId: acting, tracesRef: roll.tracesRef, outcomesRef: roll.outcomesRef, previousDigestRef: null, ...spec });
    if (digest.failed !== undefined || digest.failing === 0) return null;
    const plan = await meta.plan({ digestRef: digest.digestRef, harnessId: acting, tried: s.tried, ...spec });
    if (plan.failed !== undefined || plan.options === 0) return null;
    const evolved = await meta.evolve({ landscapeRef: plan.landscapeRef, digestRef: digest.digestRef, harnessId: acting, maxCandidates: input.candidatesPerRound, round: it, tracesRef: roll.tracesRef, ...spec });
    if (evolved.failed !== undefined || !evolved.candidates.length) return null;
    const critique = await meta.critique({ candidatesRef: evolved.candidatesRef, digestRef: digest.digestRef, reputation: s.reputation, harnessId: acting, round: it, ...spec });
    if (critique.failed !== undefined || critique.decision !== 'ship_ranking') return null;
    const pool = critique.candidatesRef && critique.candidates ? { candidatesRef: critique.candidatesRef, candidates: critique.candidates } : evolved;
    // The gain must show on the validation tasks, which the meta-agent never saw (aegis/gate.ts withUnseenGain).
    const unseen = patched('gate-unseen-gain') ? { unseenTaskIds: s.validationIds, minUnseenGain: 1 } : {};
    for (const candidateId of critique.ranking) {
      const c = pool.candidates.find((x) => x.candidateId === candidateId)!;
      const gate = await rollouts.gate({ benchmark: input.benchmark, candidatesRef: pool.candidatesRef, candidateId, incumbentId: acting, gateTaskIds: [...batch, ...s.validationIds], k: input.k, seed: `${input.seed}|${it}`, minGain: 1, endpointLimits: input.endpointLimits, ...unseen });
      s.tried = [...s.tried, triedEditFromGate(c, acting, gate)].slice(-500);
      if (gate.passed) return c;
    }
    return null;
  }

  while (s.iteration < input.iterations && !stopping) {
    await condition(() => !paused || stopping);
    if (stopping) break;
    const it = ++s.iteration;
    Object.assign(place, { round: it, stage: 'rollout' });
    // 1. Rollout under the current harness and checkpoint; 2. verify (the benchmark scores each episode).
    const { harnessId: acting } = await books.withModel({ harnessId: s.harnessId, model: s.checkpoint.model });
    const batch = seededSample(s.trainIds, input.batchSize, `${input.seed}|batch|${it}`).sort();
    const roll = await rollouts.rollout({ benchmark: input.benchmark, harnessId: acting, taskIds: batch, k: input.k, seed: `${input.seed}|${it}`, recordPolicy: true, endpointLimits: input.endpointLimits });
    s.passRates = [...s.passRates, { iteration: it, passRate: roll.passRate, checkpoint: s.checkpoint.id }].slice(-500);
    // 3. Insert into the buffer; behaviour log-probs are computed once, here.
    const inserted = await training.bufferInsert({ bufferRef: s.bufferRef, capacity: input.bufferCapacity, tracesRef: roll.tracesRef, iteration: it, checkpoint: s.checkpoint, seed: input.seed });
    s.bufferRef = inserted.bufferRef;
    place.stage = 'harness update';
    note(`iteration ${it}: pass@${input.k} ${roll.passed}/${roll.tasks}; buffer ${inserted.size}`);
    // 4. AEGIS harness update on this iteration's traces (deterministic gate on train + validation tasks).
    const shipped = await improveHarness(it, acting, batch, roll);
    if (shipped) {
      s.harnessId = shipped.harnessId;
      s.shipped++;
      note(`iteration ${it}: shipped ${shipped.editKey}`);
    }
    // 5–6. GRPO update from the same buffer (behaviour log-probs from insertion), then advance.
    if (input.trainer === 'grpo') {
      place.stage = 'GRPO update';
      const trained = await training.trainStep({ runId: workflowId, bufferRef: s.bufferRef, checkpoint: s.checkpoint, reference: s.reference, iteration: it, benchmark: input.benchmark, grpo: input.grpo });
      s.checkpoint = trained.checkpoint;
      note(`${lastEvent}; checkpoint ${trained.checkpoint.id}`);
    }
    if (workflowInfo().continueAsNewSuggested && !stopping) await continueAsNew<typeof coevolve>({ ...input, resume: s });
  }

  // The harness-only arm: same benchmark, seed, iterations and batches, no model updates.
  const harnessOnly = input.compareHarnessOnly && input.trainer === 'grpo'
    ? await executeChild(coevolve, { workflowId: `${workflowId}-harness-only`, args: [{ ...input, trainer: 'none', compareHarnessOnly: false, resume: undefined }], staticSummary: `${coevolveSummary({ ...input, trainer: 'none' })} · harness-only arm` })
    : null;
  Object.assign(place, { stage: 'final' });
  note('final evaluation on the test tasks');
  const evaluate = async (harnessId: string, model: string) => {
    const { harnessId: id } = await books.withModel({ harnessId, model });
    return rollouts.evaluate({ benchmark: input.benchmark, harnessId: id, taskIds: s.testIds, k: input.k, seed: `${input.seed}|final`, endpointLimits: input.endpointLimits });
  };
  const seed = await evaluate(s.seedHarnessId, input.model);
  const final = await evaluate(s.harnessId, s.checkpoint.model);
  return {
    workflowId,
    benchmark: input.benchmark,
    iterations: s.iteration,
    harnessId: s.harnessId,
    checkpoint: s.checkpoint,
    bufferRef: s.bufferRef,
    seedPassRate: seed.passRate,
    coevolvedPassRate: final.passRate,
    harnessOnlyPassRate: harnessOnly ? harnessOnly.coevolvedPassRate : null,
    testTasks: s.testIds.length,
    shipped: s.shipped,
  };
}

/**
 * One training job on a stored replay buffer (the trainer activity on its own): e.g. to train a served
 * model on an exported run's buffer. Returns the new checkpoint.
 */
export async function trainCheckpoint(input: { runId: string; bufferRef: string; checkpoint: Checkpoint; reference: Checkpoint; iteration: number; benchmark: string }) {
  return training.trainStep(input);
}

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heartbeat, taskTokenOrNull } from './activity-context';
import { ApplicationFailure, CompleteAsyncError } from '@temporalio/common';
import { getBenchmark } from '../benchmarks/registry';
import { advantages } from '../coevolution/advantages';
import { grpoRows, toTrlJsonl, toVerlParquet } from '../coevolution/export-grpo';
import { DEFAULT_GRPO, GrpoOptions, GrpoSample, grpoUpdate } from '../coevolution/grpo-step';
import { BufferEntry, emptyBuffer, insert, ReplayBuffer } from '../coevolution/replay-buffer';
import { renderTrajectory } from '../coevolution/render-trajectory';
import { runTrainer, TrainerJob, trainerFromEnv } from '../coevolution/external-trainer';
import type { EpisodeTrace } from '../harness/trace';
import { packageRoot } from '../harness/package-root';
import { completionLogProb, OpenAIModel } from '../models/openai/openai-model';
import { decisionsLogProb, formatSimModel, parseSimName, SimDecision, Theta } from '../models/sim/policy';
import { createModel } from '../models/registry';
import { parseModelString } from '../models/types';
import { runIdProblem } from '../harness/sandbox/input-bounds';
import { ArtifactStore } from '../store/artifact-store';
import type { Store } from '../store/store';

export interface Checkpoint {
  id: string;
  /** The model string that serves it (sim:small@theta=…, or openai-compatible:name@url for a trained model). */
  model: string;
}

const decisionsOf = (trace: EpisodeTrace): SimDecision[] =>
  trace.records.flatMap((r) => (r.kind === 'model_call' ? ((r.response.meta?.simDecisions as SimDecision[] | undefined) ?? []) : []));

/**
 * The trace of each buffer entry, as a synchronous lookup: every traces blob the entries name is read from
 * the store once, up front (the store is asynchronous; the GRPO code that consumes traces is not).
 */
async function traceLoader(store: Store, entries: BufferEntry[]): Promise<(e: BufferEntry) => EpisodeTrace> {
  const blobs = new Map<string, EpisodeTrace[]>();
  for (const ref of new Set(entries.map((e) => e.tracesRef))) blobs.set(ref, await store.get<EpisodeTrace[]>(ref));
  return (e) => blobs.get(e.tracesRef)![e.traceIndex];
}

/** The checkpoint registry of a run: every checkpoint a trainer produced, in order (runs/<id>/checkpoints.json). */
export async function registerCheckpoint(store: Store, runId: string, checkpoint: Checkpoint & { iteration: number }): Promise<void> {
  const all = (await store.readRunFile<Array<Checkpoint & { iteration: number }>>(runId, 'checkpoints.json')) ?? [];
  if (!all.some((c) => c.id === checkpoint.id)) await store.writeRunFile(runId, 'checkpoints.json', JSON.stringify([...all, checkpoint], null, 2) + '\n');
}

/** The store's run file that marks a training job finished (its result), read before any job is launched. */
export const trainDoneFile = (iteration: number) => `train-${iteration}/done.json`;

/**
 * The local working folder of a training job (trainer data and output, the runner's pid and task token):
 * these belong to the host that runs the job, not to the store. With a local store it is the run's folder
 * in the store, as it always was; with another store, a folder under HARNESSX_WORK_DIR (default
 * <tmpdir>/harnessx-work). The job's result (done.json) and the checkpoint registry go to the store.
 */
export function trainJobDir(store: Store, runId: string, iteration: number): string {
  if (store instanceof ArtifactStore) return store.runFilePath(runId, `train-${iteration}`);
  const problem = runIdProblem(runId);
  if (problem) throw new Error(`unsafe run id: ${problem}`);
  return join(process.env.HARNESSX_WORK_DIR ?? join(tmpdir(), 'harnessx-work'), 'runs', runId, `train-${iteration}`);
}

type TrainResult = { checkpoint: Checkpoint; samples: number; objectiveBefore: number | null; objectiveAfter: number | null };

/** A job runner recorded in the job folder that is still running. */
export function runnerAlive(jobDir: string): boolean {
  const pidFile = join(jobDir, 'runner.pid');
  if (!existsSync(pidFile)) return false;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
}

export function createCoevolutionActivities(store: Store) {
  /** Behaviour log-prob under the generating checkpoint: from the simulator's decisions, or a served model's prompt log-probs. */
  async function behaviourLogProb(trace: EpisodeTrace, model: string): Promise<number | null> {
    const ref = parseModelString(model);
    if (ref.provider === 'sim') return decisionsLogProb(decisionsOf(trace), parseSimName(ref.name).theta);
    if (ref.provider === 'openai-compatible') {
      const m = createModel(model, { seed: 'logprobs' });
      if (!(m instanceof OpenAIModel)) return null;
      const { prompt, completion } = renderTrajectory(trace);
      const text = (msgs: Array<{ role: string; content: string }>) => msgs.map((x) => `${x.role}: ${x.content}`).join('\n');
      return completionLogProb(m.handle(), text(prompt) + '\n', text(completion));
    }
    return null; // API models expose no prompt log-probs: GRPO there runs on-policy (ratio 1).
  }

  return {
    /** Adds a rollout's episodes to the buffer, computing each one's behaviour log-prob once, here. */
    async bufferInsert(input: { bufferRef: string | null; capacity: number; tracesRef: string; iteration: number; checkpoint: Checkpoint; seed: string }) {
      const buffer = input.bufferRef ? await store.get<ReplayBuffer>(input.bufferRef) : emptyBuffer(input.capacity);
      const traces = await store.get<EpisodeTrace[]>(input.tracesRef);
      const entries: BufferEntry[] = [];
      for (const [i, t] of traces.entries()) {
        entries.push({
          key: `${input.seed}|${input.iteration}|${t.taskId}|${t.attempt}`,
          taskId: t.taskId,
          harnessId: t.harnessId,
          checkpointId: input.checkpoint.id,
          model: input.checkpoint.model,
          reward: t.reward,
          iteration: input.iteration,
          tracesRef: input.tracesRef,
          traceIndex: i,
          behaviourLogProb: await behaviourLogProb(t, input.checkpoint.model),
        });
        if (i % 20 === 0) heartbeat({ inserted: i });
      }
      const next = insert(buffer, entries);
      return { bufferRef: await store.put(next), size: next.entries.length, inserted: next.inserted, meanReward: entries.length ? entries.reduce((n, e) => n + e.reward, 0) / entries.length : 0 };
    },

    /**
     * The GRPO update: cross-harness groups from the whole buffer, advantages, then the trainer. For the
     * simulator an in-process clipped, KL-regularised step on θ; otherwise the configured command, which must
     * write checkpoint.json ({"id", "model"}) into its output folder. A finished job is never relaunched.
     */
    async trainStep(input: { runId: string; bufferRef: string; checkpoint: Checkpoint; reference: Checkpoint; iteration: number; benchmark: string; grpo?: Partial<GrpoOptions> }) {
      const done = await store.readRunFile<TrainResult & { relaunched: false }>(input.runId, trainDoneFile(input.iteration));
      if (done) return done;
      const buffer = await store.get<ReplayBuffer>(input.bufferRef);
      const jobDir = trainJobDir(store, input.runId, input.iteration);
      mkdirSync(jobDir, { recursive: true });
      const current = parseModelString(input.checkpoint.model);
      let result: TrainResult;
      if (current.provider === 'sim') {
        const adv = advantages(buffer.entries);
        const traceOf = await traceLoader(store, buffer.entries);
        const samples: GrpoSample[] = buffer.entries
          .filter((e) => e.behaviourLogProb !== null && (adv.get(e.key) ?? 0) !== 0)
          .map((e) => ({ decisions: decisionsOf(traceOf(e)), behaviourLogProb: e.behaviourLogProb!, advantage: adv.get(e.key)! }));
        const { size, theta } = parseSimName(current.name);
        const ref: Theta = parseSimName(parseModelString(input.reference.model).name).theta;
        const update = grpoUpdate(samples, theta, ref, { ...DEFAULT_GRPO, ...input.grpo });
        result = { checkpoint: { id: `ckpt-${input.iteration}`, model: formatSimModel(size, update.theta) }, samples: samples.length, objectiveBefore: update.objectiveBefore, objectiveAfter: update.objectiveAfter };
      } else {
        const trainer = trainerFromEnv();
        if (!trainer) throw ApplicationFailure.nonRetryable(`no trainer for "${input.checkpoint.model}": set HARNESSX_TRAINER_COMMAND (gets HARNESSX_TRAIN_DATA, a TRL JSONL file, and writes checkpoint.json into HARNESSX_TRAIN_OUT) or HARNESSX_TRAINER_URL (a fine-tuning endpoint) on the workers`, 'TrainerMissing');
        const data = join(jobDir, 'grpo.trl.jsonl');
        const benchmark = getBenchmark(input.benchmark);
        if (!existsSync(data)) writeFileSync(data, toTrlJsonl(await grpoRows(buffer.entries, await traceLoader(store, buffer.entries), benchmark)));
        const job: TrainerJob = { ...trainer, data, baseModel: input.checkpoint.model, dir: jobDir };
        const token = taskTokenOrNull();
        if (token && process.env.HARNESSX_TRAINER_ASYNC !== 'off') {
          // Jobs of hours: a detached job runner (harnessx train-job) runs the trainer, heartbeats this
          // activity with its task token and completes it; the worker's slot is free meanwhile, and a worker
          // crash neither stops the job nor starts a second one (a live runner is re-pointed at the new token).
          writeFileSync(join(jobDir, 'task-token'), Buffer.from(token).toString('base64'));
          writeFileSync(join(jobDir, 'job.json'), JSON.stringify({ job, runId: input.runId, iteration: input.iteration, store: store.location }));
          if (!runnerAlive(jobDir)) {
            const runner = spawn(process.execPath, [join(packageRoot(), 'bin', 'harnessx.js'), 'train-job', jobDir], { detached: true, stdio: 'ignore', env: process.env });
            runner.unref();
          }
          throw new CompleteAsyncError();
        }
        const checkpoint = await runTrainer(job, () => heartbeat({ training: input.iteration }));
        result = { checkpoint, samples: buffer.entries.length, objectiveBefore: null, objectiveAfter: null };
      }
      await registerCheckpoint(store, input.runId, { ...result.checkpoint, iteration: input.iteration });
      await store.writeRunFile(input.runId, trainDoneFile(input.iteration), JSON.stringify({ ...result, relaunched: false }));
      return { ...result, relaunched: false as const };
    },

    /** The harness with its task model set to a checkpoint (H = (M, C): a new checkpoint is a new harness id). */
    async withModel(input: { harnessId: string; model: string }) {
      const config = await store.getHarness(input.harnessId);
      return { harnessId: await store.putHarness({ ...config, model: { ...config.model, main: { ...config.model.main, model: input.model } } }) };
    },

    /** Writes the buffer's GRPO dataset (TRL JSONL or verl parquet) to a file of the run in the store; `path` says where. */
    async exportGrpo(input: { runId: string; bufferRef: string; benchmark: string; format: 'trl' | 'verl' }) {
      const { content, rows } = await grpoDataset(store, input.bufferRef, input.benchmark, input.format);
      return { path: await store.writeRunFile(input.runId, input.format === 'trl' ? 'grpo.trl.jsonl' : 'grpo.verl.parquet', content), rows };
    },
  };
}

/** The buffer's GRPO dataset, as the bytes of a TRL JSONL or verl parquet file. */
async function grpoDataset(store: Store, bufferRef: string, benchmarkName: string, format: 'trl' | 'verl'): Promise<{ content: string | Buffer; rows: number }> {
  const buffer = await store.get<ReplayBuffer>(bufferRef);
  const rows = await grpoRows(buffer.entries, await traceLoader(store, buffer.entries), getBenchmark(benchmarkName));
  return { content: format === 'trl' ? toTrlJsonl(rows) : Buffer.from(toVerlParquet(rows, benchmarkName)), rows: rows.length };
}

/** Writes the buffer's GRPO dataset to a local file `out` (the CLI's export-grpo). */
export async function exportGrpoFile(store: Store, bufferRef: string, benchmarkName: string, format: 'trl' | 'verl', out: string) {
  const { content, rows } = await grpoDataset(store, bufferRef, benchmarkName, format);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, content);
  return { path: out, rows };
}

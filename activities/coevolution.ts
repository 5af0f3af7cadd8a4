import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { completionLogProb, OpenAIModel } from '../models/openai/openai-model';
import { decisionsLogProb, formatSimModel, parseSimName, SimDecision, Theta } from '../models/sim/policy';
import { createModel } from '../models/registry';
import { parseModelString } from '../models/types';
import type { ArtifactStore } from '../store/artifact-store';

export interface Checkpoint {
  id: string;
  /** The model string that serves it (sim:small@theta=…, or openai-compatible:name@url for a trained model). */
  model: string;
}

const decisionsOf = (trace: EpisodeTrace): SimDecision[] =>
  trace.records.flatMap((r) => (r.kind === 'model_call' ? ((r.response.meta?.simDecisions as SimDecision[] | undefined) ?? []) : []));

/** Trace of a buffer entry; each traces blob is read from the store once per loader. */
function traceLoader(store: ArtifactStore): (e: BufferEntry) => EpisodeTrace {
  const blobs = new Map<string, EpisodeTrace[]>();
  return (e) => {
    let traces = blobs.get(e.tracesRef);
    if (!traces) blobs.set(e.tracesRef, (traces = store.get<EpisodeTrace[]>(e.tracesRef)));
    return traces[e.traceIndex];
  };
}

/** The checkpoint registry of a run: every checkpoint a trainer produced, in order (runs/<id>/checkpoints.json). */
export function registerCheckpoint(store: ArtifactStore, runId: string, checkpoint: Checkpoint & { iteration: number }): void {
  const all = store.readRunFile<Array<Checkpoint & { iteration: number }>>(runId, 'checkpoints.json') ?? [];
  if (!all.some((c) => c.id === checkpoint.id)) store.writeRunFile(runId, 'checkpoints.json', JSON.stringify([...all, checkpoint], null, 2) + '\n');
}

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

export function createCoevolutionActivities(store: ArtifactStore) {
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
      const buffer = input.bufferRef ? store.get<ReplayBuffer>(input.bufferRef) : emptyBuffer(input.capacity);
      const traces = store.get<EpisodeTrace[]>(input.tracesRef);
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
      return { bufferRef: store.put(next), size: next.entries.length, inserted: next.inserted, meanReward: entries.length ? entries.reduce((n, e) => n + e.reward, 0) / entries.length : 0 };
    },

    /**
     * The GRPO update: cross-harness groups from the whole buffer, advantages, then the trainer. For the
     * simulator an in-process clipped, KL-regularised step on θ; otherwise the configured command, which must
     * write checkpoint.json ({"id", "model"}) into its output folder. A finished job is never relaunched.
     */
    async trainStep(input: { runId: string; bufferRef: string; checkpoint: Checkpoint; reference: Checkpoint; iteration: number; benchmark: string; grpo?: Partial<GrpoOptions> }) {
      const buffer = store.get<ReplayBuffer>(input.bufferRef);
      const jobDir = join(store.root, 'runs', input.runId, `train-${input.iteration}`);
      const donePath = join(jobDir, 'done.json');
      if (existsSync(donePath)) return JSON.parse(readFileSync(donePath, 'utf8')) as { checkpoint: Checkpoint; samples: number; objectiveBefore: number | null; objectiveAfter: number | null; relaunched: false };
      mkdirSync(jobDir, { recursive: true });
      const current = parseModelString(input.checkpoint.model);
      let result: { checkpoint: Checkpoint; samples: number; objectiveBefore: number | null; objectiveAfter: number | null };
      if (current.provider === 'sim') {
        const adv = advantages(buffer.entries);
        const traceOf = traceLoader(store);
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
        if (!existsSync(data)) writeFileSync(data, toTrlJsonl(await grpoRows(buffer.entries, traceLoader(store), benchmark)));
        const job: TrainerJob = { ...trainer, data, baseModel: input.checkpoint.model, dir: jobDir };
        const token = taskTokenOrNull();
        if (token && process.env.HARNESSX_TRAINER_ASYNC !== 'off') {
          // Jobs of hours: a detached job runner (harnessx train-job) runs the trainer, heartbeats this
          // activity with its task token and completes it; the worker's slot is free meanwhile, and a worker
          // crash neither stops the job nor starts a second one (a live runner is re-pointed at the new token).
          writeFileSync(join(jobDir, 'task-token'), Buffer.from(token).toString('base64'));
          writeFileSync(join(jobDir, 'job.json'), JSON.stringify({ job, runId: input.runId, iteration: input.iteration, dataDir: store.root }));
          if (!runnerAlive(jobDir)) {
            const runner = spawn(process.execPath, [join(__dirname, '..', 'bin', 'harnessx.js'), 'train-job', jobDir], { detached: true, stdio: 'ignore', env: process.env });
            runner.unref();
          }
          throw new CompleteAsyncError();
        }
        const checkpoint = await runTrainer(job, () => heartbeat({ training: input.iteration }));
        result = { checkpoint, samples: buffer.entries.length, objectiveBefore: null, objectiveAfter: null };
      }
      registerCheckpoint(store, input.runId, { ...result.checkpoint, iteration: input.iteration });
      writeFileSync(donePath, JSON.stringify({ ...result, relaunched: false }));
      return { ...result, relaunched: false as const };
    },

    /** The harness with its task model set to a checkpoint (H = (M, C): a new checkpoint is a new harness id). */
    async withModel(input: { harnessId: string; model: string }) {
      const config = store.getHarness(input.harnessId);
      return { harnessId: store.putHarness({ ...config, model: { ...config.model, main: { ...config.model.main, model: input.model } } }) };
    },

    /** Writes the buffer's GRPO dataset (TRL JSONL or verl parquet) to a file in the run's folder. */
    async exportGrpo(input: { runId: string; bufferRef: string; benchmark: string; format: 'trl' | 'verl' }) {
      return exportGrpoFile(store, input.bufferRef, input.benchmark, input.format, join(store.root, 'runs', input.runId, input.format === 'trl' ? 'grpo.trl.jsonl' : 'grpo.verl.parquet'));
    },
  };
}

export async function exportGrpoFile(store: ArtifactStore, bufferRef: string, benchmarkName: string, format: 'trl' | 'verl', out: string) {
  const buffer = store.get<ReplayBuffer>(bufferRef);
  const rows = await grpoRows(buffer.entries, traceLoader(store), getBenchmark(benchmarkName));
  mkdirSync(join(out, '..'), { recursive: true });
  if (format === 'trl') writeFileSync(out, toTrlJsonl(rows));
  else writeFileSync(out, toVerlParquet(rows, benchmarkName));
  return { path: out, rows: rows.length };
}

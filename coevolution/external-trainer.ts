import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * An external training job: a command (e.g. a TRL or verl script on a GPU machine) or an HTTP fine-tuning
 * endpoint, given the TRL JSONL dataset; it yields the new checkpoint's id and the model string that serves
 * it. Used inline by the trainer activity and by the detached job runner.
 */
export interface TrainerJob {
  command?: string;
  url?: string;
  data: string;
  baseModel: string;
  /** The job's folder: the command's cwd and HARNESSX_TRAIN_OUT. */
  dir: string;
}

const CheckpointSchema = z.object({ id: z.string().min(1), model: z.string().min(1) });
const JobStatusSchema = z.object({ status: z.enum(['queued', 'running', 'succeeded', 'failed']), checkpoint: CheckpointSchema.optional(), error: z.string().optional() });

export function trainerFromEnv(): { command?: string; url?: string } | null {
  const command = process.env.HARNESSX_TRAINER_COMMAND;
  const url = process.env.HARNESSX_TRAINER_URL;
  return command ? { command } : url ? { url: url.replace(/\/$/, '') } : null;
}

export async function runTrainer(job: TrainerJob, beat: () => void, pollMs = Number(process.env.HARNESSX_TRAINER_POLL_MS ?? 5000)): Promise<z.infer<typeof CheckpointSchema>> {
  const timer = setInterval(beat, Math.min(pollMs, 10_000));
  try {
    if (job.command) {
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(job.command!, { shell: true, cwd: job.dir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, HARNESSX_TRAIN_DATA: job.data, HARNESSX_TRAIN_OUT: job.dir, HARNESSX_BASE_MODEL: job.baseModel } });
        child.on('error', reject);
        child.on('exit', (c) => resolve(c ?? 1));
      });
      if (code !== 0) throw new Error(`trainer command exited with ${code}`);
      const out = join(job.dir, 'checkpoint.json');
      if (!existsSync(out)) throw new Error('the trainer command wrote no checkpoint.json');
      const parsed = CheckpointSchema.safeParse(JSON.parse(readFileSync(out, 'utf8')));
      if (!parsed.success) throw new Error(`checkpoint.json: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message} (expected {"id", "model"})`);
      return parsed.data;
    }
    // HTTP: POST {base_model, data} to <url>/jobs → {id}; poll GET <url>/jobs/<id> until succeeded or failed.
    const created = await fetch(`${job.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ base_model: job.baseModel, format: 'trl', data: readFileSync(job.data, 'utf8') }) });
    if (!created.ok) throw new Error(`fine-tuning endpoint answered ${created.status} to POST /jobs`);
    const { id } = z.object({ id: z.string().min(1) }).parse(await created.json());
    for (;;) {
      const res = await fetch(`${job.url}/jobs/${encodeURIComponent(id)}`);
      if (!res.ok) throw new Error(`fine-tuning endpoint answered ${res.status} to GET /jobs/${id}`);
      const status = JobStatusSchema.parse(await res.json());
      if (status.status === 'succeeded') {
        if (!status.checkpoint) throw new Error(`fine-tuning job ${id} succeeded without a checkpoint`);
        return status.checkpoint;
      }
      if (status.status === 'failed') throw new Error(`fine-tuning job ${id} failed: ${status.error ?? 'no reason given'}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    clearInterval(timer);
  }
}

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCheckpoint } from '../activities/coevolution';
import { ArtifactStore } from '../store/artifact-store';
import { connectClient } from '../workers/connection';

/**
 * `harnessx train-job <jobDir>`: the detached runner of one training job. It runs the trainer command,
 * heartbeats the waiting activity with the task token in the job folder (re-read every time, so a retried
 * activity takes over), and completes it with the new checkpoint — or fails it with the trainer's error.
 */
export async function runTrainJob(jobDir: string): Promise<number> {
  const job = JSON.parse(readFileSync(join(jobDir, 'job.json'), 'utf8')) as { command: string; runId: string; iteration: number; data: string; baseModel: string; dataDir: string };
  writeFileSync(join(jobDir, 'runner.pid'), String(process.pid));
  const client = await connectClient();
  const token = () => new Uint8Array(Buffer.from(readFileSync(join(jobDir, 'task-token'), 'utf8'), 'base64'));
  const beat = setInterval(() => void client.activity.heartbeat(token(), { training: job.iteration }).catch(() => undefined), 10_000);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(job.command, { shell: true, cwd: jobDir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, HARNESSX_TRAIN_DATA: job.data, HARNESSX_TRAIN_OUT: jobDir, HARNESSX_BASE_MODEL: job.baseModel } });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c ?? 1));
    });
    if (code !== 0 || !existsSync(join(jobDir, 'checkpoint.json'))) {
      await client.activity.fail(token(), new Error(code !== 0 ? `trainer exited with ${code}` : 'the trainer wrote no checkpoint.json'));
      return 1;
    }
    const checkpoint = JSON.parse(readFileSync(join(jobDir, 'checkpoint.json'), 'utf8')) as { id: string; model: string };
    const result = { checkpoint, samples: 0, objectiveBefore: null, objectiveAfter: null, relaunched: false };
    registerCheckpoint(new ArtifactStore(job.dataDir), job.runId, { ...checkpoint, iteration: job.iteration });
    writeFileSync(join(jobDir, 'done.json'), JSON.stringify(result));
    await client.activity.complete(token(), result);
    return 0;
  } finally {
    clearInterval(beat);
    rmSync(join(jobDir, 'runner.pid'), { force: true });
    await client.connection.close();
  }
}

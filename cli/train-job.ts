import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCheckpoint, trainDoneFile } from '../activities/coevolution';
import { runTrainer, TrainerJob } from '../coevolution/external-trainer';
import { openStore } from '../store/open-store';
import { dataDir } from './paths';
import { connectClient } from '../workers/connection';

/**
 * `harnessx train-job <jobDir>`: the detached runner of one training job. It runs the trainer (command or
 * HTTP endpoint), heartbeats the waiting activity with the task token in the job folder (re-read every
 * time, so a retried activity takes over), and completes it with the new checkpoint — or fails it.
 */
export async function runTrainJob(jobDir: string): Promise<number> {
  // `store` is where the job's store lives (older job files name a local `dataDir`).
  const spec = JSON.parse(readFileSync(join(jobDir, 'job.json'), 'utf8')) as { job: TrainerJob; runId: string; iteration: number; store?: string; dataDir?: string };
  writeFileSync(join(jobDir, 'runner.pid'), String(process.pid));
  const client = await connectClient();
  const token = () => new Uint8Array(Buffer.from(readFileSync(join(jobDir, 'task-token'), 'utf8'), 'base64'));
  try {
    const checkpoint = await runTrainer(spec.job, () => void client.activity.heartbeat(token(), { training: spec.iteration }).catch(() => undefined));
    const result = { checkpoint, samples: 0, objectiveBefore: null, objectiveAfter: null, relaunched: false };
    // The job names its store as HARNESSX_STORE does (a folder or s3://bucket/prefix); the AWS_* variables come from the worker's environment.
    const store = openStore({ defaultDir: dataDir(), env: { ...process.env, HARNESSX_STORE: spec.store ?? spec.dataDir } });
    await registerCheckpoint(store, spec.runId, { ...checkpoint, iteration: spec.iteration });
    await store.writeRunFile(spec.runId, trainDoneFile(spec.iteration), JSON.stringify(result));
    await client.activity.complete(token(), result);
    return 0;
  } catch (e) {
    await client.activity.fail(token(), e instanceof Error ? e : new Error(String(e))).catch(() => undefined);
    return 1;
  } finally {
    rmSync(join(jobDir, 'runner.pid'), { force: true });
    await client.connection.close();
  }
}

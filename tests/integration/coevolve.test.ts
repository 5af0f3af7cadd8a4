import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportGrpoFile } from '../../activities/coevolution';
import type { ReplayBuffer } from '../../coevolution/replay-buffer';
import { ArtifactStore } from '../../store/artifact-store';
import type { CoevolveResult, CoevolveStatus } from '../../workflows/coevolve';
import { useWorkerFixture, waitFor } from './temporal-env';

jest.setTimeout(240_000);

const fixture = useWorkerFixture('it-coevolve');
const store = new ArtifactStore(fixture.dataDir);

it('co-evolving harness and model beats harness-only evolution on the same held-out tasks at the same rollout budget', async () => {
  const handle = await fixture.env.client.workflow.start('coevolve', { taskQueue: 'it-coevolve', workflowId: 'it-coevolve', args: [{ benchmark: 'blocksworld', model: 'sim:small', iterations: 4, k: 2, seed: 'coevolve' }] });
  const status = await waitFor(() => handle.query<CoevolveStatus>('coevolveStatus'), (s) => s.iteration >= 1 && s.harnessId !== null, 60_000, 'first iteration');
  expect(status.checkpointId).toMatch(/^(base|ckpt-\d+)$/);
  const result = (await handle.result()) as CoevolveResult;
  expect(result.iterations).toBe(4);
  expect(result.checkpoint.id).toBe('ckpt-4');
  expect(result.checkpoint.model).toMatch(/^sim:small@theta=/);
  expect(result.harnessOnlyPassRate).not.toBeNull();
  expect(result.coevolvedPassRate).toBeGreaterThan(result.harnessOnlyPassRate!);
  expect(result.harnessOnlyPassRate!).toBeGreaterThan(result.seedPassRate);

  // The buffer holds every episode with its behaviour log-prob, tagged by harness version and checkpoint.
  const buffer = await store.get<ReplayBuffer>(result.bufferRef!);
  expect(buffer.entries.length).toBe(4 * 40 * 2);
  expect(new Set(buffer.entries.map((e) => e.checkpointId))).toEqual(new Set(['base', 'ckpt-1', 'ckpt-2', 'ckpt-3']));
  expect(new Set(buffer.entries.map((e) => e.harnessId)).size).toBeGreaterThan(1);
  expect(buffer.entries.every((e) => typeof e.behaviourLogProb === 'number' && e.behaviourLogProb <= 0)).toBe(true);
  // Every checkpoint is registered in the run's model registry, in order.
  expect((await store.readRunFile<Array<{ id: string }>>('it-coevolve', 'checkpoints.json'))!.map((c) => c.id)).toEqual(['ckpt-1', 'ckpt-2', 'ckpt-3', 'ckpt-4']);

  const trl = await exportGrpoFile(store, result.bufferRef!, 'blocksworld', 'trl', join(fixture.dataDir, 'out', 'grpo.jsonl'));
  expect(trl.rows).toBe(buffer.entries.length);
  const first = JSON.parse(readFileSync(trl.path, 'utf8').split('\n')[0]);
  expect(Object.keys(first).sort()).toEqual(['advantage', 'checkpoint_id', 'completion', 'harness_id', 'prompt', 'reward', 'task_id', 'tools']);
});

it('an external trainer runs as a detached job that completes the activity asynchronously, once', async () => {
  const bufferRef = await store.put({ capacity: 10, entries: [], inserted: 0 });
  const launches = join(fixture.dataDir, 'launches.txt');
  const saved = { cmd: process.env.HARNESSX_TRAINER_COMMAND, addr: process.env.TEMPORAL_ADDRESS };
  process.env.HARNESSX_TRAINER_COMMAND = `node -e "const fs=require('fs');fs.appendFileSync('${launches}','x');setTimeout(()=>fs.writeFileSync(process.env.HARNESSX_TRAIN_OUT+'/checkpoint.json',JSON.stringify({id:'ft-7',model:'openai-compatible:ft-7@http://gpu:8000/v1'})),1500)"`;
  process.env.TEMPORAL_ADDRESS = fixture.env.address;
  try {
    const input = { runId: 'it-train', bufferRef, checkpoint: { id: 'base', model: 'openai-compatible:base@http://gpu:8000/v1' }, reference: { id: 'base', model: 'openai-compatible:base@http://gpu:8000/v1' }, iteration: 7, benchmark: 'blocksworld' };
    const first = await fixture.env.client.workflow.execute('trainCheckpoint', { taskQueue: 'it-coevolve', workflowId: 'it-train-1', args: [input] });
    expect(first).toMatchObject({ checkpoint: { id: 'ft-7', model: 'openai-compatible:ft-7@http://gpu:8000/v1' } });
    const history = await fixture.env.client.workflow.getHandle('it-train-1').fetchHistory();
    const events = history.events ?? [];
    expect(events.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
    // The same job again (a retry after a crash, or a replayed iteration): finished jobs are not relaunched.
    const again = await fixture.env.client.workflow.execute('trainCheckpoint', { taskQueue: 'it-coevolve', workflowId: 'it-train-2', args: [input] });
    expect(again).toMatchObject({ checkpoint: { id: 'ft-7' } });
    expect(readFileSync(launches, 'utf8')).toBe('x');
    expect(await store.readRunFile<Array<{ id: string }>>('it-train', 'checkpoints.json')).toEqual([{ id: 'ft-7', model: 'openai-compatible:ft-7@http://gpu:8000/v1', iteration: 7 }]);
  } finally {
    if (saved.cmd === undefined) delete process.env.HARNESSX_TRAINER_COMMAND;
    else process.env.HARNESSX_TRAINER_COMMAND = saved.cmd;
    if (saved.addr === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved.addr;
  }
});

it('a co-evolution run pauses at an iteration boundary, resumes, and stops on request', async () => {
  const handle = await fixture.env.client.workflow.start('coevolve', { taskQueue: 'it-coevolve', workflowId: 'it-coevolve-control', args: [{ benchmark: 'blocksworld', iterations: 200, batchSize: 4, k: 2, seed: 'control', compareHarnessOnly: false }] });
  const status = () => handle.query<CoevolveStatus>('coevolveStatus');
  await waitFor(status, (s) => s.iteration >= 1, 60_000, 'iteration 1');
  await handle.signal('pause');
  const paused = await waitFor(status, (s) => s.paused, 30_000, 'paused');
  await new Promise((r) => setTimeout(r, 1500));
  expect((await status()).iteration).toBeLessThanOrEqual(paused.iteration + 1);
  const held = (await status()).iteration;
  await new Promise((r) => setTimeout(r, 1000));
  expect((await status()).iteration).toBe(held);
  await handle.signal('resume');
  await waitFor(status, (s) => s.iteration > held, 60_000, 'progress after resume');
  await handle.signal('stop');
  const result = (await handle.result()) as CoevolveResult;
  expect(result.iterations).toBeLessThan(200);
  expect(result.harnessOnlyPassRate).toBeNull();
});

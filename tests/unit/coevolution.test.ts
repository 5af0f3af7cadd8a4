import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCoevolutionActivities } from '../../activities/coevolution';
import { advantages, groupAdvantages } from '../../coevolution/advantages';
import { grpoRows, toTrlJsonl, toVerlParquet } from '../../coevolution/export-grpo';
import { grpoUpdate } from '../../coevolution/grpo-step';
import { BufferEntry, emptyBuffer, insert } from '../../coevolution/replay-buffer';
import { renderTrajectory } from '../../coevolution/render-trajectory';
import { rolloutTasks } from '../../aegis/rollout';
import { getBenchmark } from '../../benchmarks/registry';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { completionLogProb, OpenAIModel } from '../../models/openai/openai-model';
import { decisionsLogProb, formatSimModel, parseSimName, rateUnder, ZERO_THETA } from '../../models/sim/policy';
import { createModel } from '../../models/registry';
import { ArtifactStore } from '../../store/artifact-store';
import { startWireServer } from '../helpers/wire-server';

const entry = (key: string, taskId: string, reward: number): BufferEntry => ({ key, taskId, harnessId: 'hx-1', checkpointId: 'base', model: 'sim:small', reward, iteration: 1, tracesRef: 'sha256:x', traceIndex: 0, behaviourLogProb: -1 });

describe('replay buffer', () => {
  test('FIFO with a fixed capacity; retried inserts never duplicate', () => {
    let b = emptyBuffer(3);
    b = insert(b, [entry('a', 't1', 1), entry('b', 't1', 0)]);
    b = insert(b, [entry('b', 't1', 0), entry('c', 't2', 1), entry('d', 't2', 0)]);
    expect(b.entries.map((e) => e.key)).toEqual(['b', 'c', 'd']);
    expect(b.inserted).toBe(4);
    expect(() => emptyBuffer(0)).toThrow('capacity must be a whole number ≥ 1');
  });
});

describe('cross-harness GRPO advantages', () => {
  test('(r − mean) / (std + eps) per task group, hand-computed', () => {
    // rewards 1,0,0,1: mean 0.5, population std 0.5 → ±1 (minus the eps)
    expect(groupAdvantages([1, 0, 0, 1], { normalizeStd: true, eps: 0 })).toEqual([1, -1, -1, 1]);
    // rewards 1,0,0: mean 1/3, std √2/3 → (2/3)/(√2/3) = √2, and −(1/3)/(√2/3) = −1/√2
    const a = groupAdvantages([1, 0, 0], { normalizeStd: true, eps: 0 });
    expect(a[0]).toBeCloseTo(Math.SQRT2, 10);
    expect(a[1]).toBeCloseTo(-1 / Math.SQRT2, 10);
  });
  test('Dr. GRPO (no std normalisation), groups of one, and all-equal groups', () => {
    expect(groupAdvantages([1, 0, 0, 1], { normalizeStd: false, eps: 1e-6 })).toEqual([0.5, -0.5, -0.5, 0.5]);
    expect(groupAdvantages([1])).toEqual([0]);
    expect(groupAdvantages([1, 1, 1], { normalizeStd: true, eps: 1e-6 })).toEqual([0, 0, 0]);
    const byKey = advantages([entry('a', 't1', 1), entry('b', 't1', 0), entry('c', 't2', 1)]);
    expect(byKey.get('c')).toBe(0);
    expect(byKey.get('a')! > 0 && byKey.get('b')! < 0).toBe(true);
  });
});

describe('the simulator policy and the GRPO step', () => {
  test('checkpoints live in the model string; log-probs of recorded decisions are exact', () => {
    const theta = { invalid: -0.5, loop: 0, subgoal: 0.25, format: -1 };
    expect(formatSimModel('small', theta)).toBe('sim:small@theta=-0.5,0,0.25,-1');
    expect(parseSimName('small@theta=-0.5,0,0.25,-1')).toEqual({ size: 'small', theta });
    expect(formatSimModel('small', ZERO_THETA)).toBe('sim:small');
    expect(() => parseSimName('small@theta=1,2')).toThrow(/four numbers/);
    const decisions = [{ k: 'invalid' as const, b: 0.2, h: true }, { k: 'loop' as const, b: 0.1, h: false }];
    expect(decisionsLogProb(decisions, theta)).toBeCloseTo(Math.log(0.2 * Math.exp(-0.5)) + Math.log(1 - 0.1), 12);
    expect(rateUnder(0.9, 1)).toBe(0.95);
  });

  test('an update lowers the rate of errors seen in low-advantage episodes; a strong KL keeps θ near the reference', () => {
    const bad = { decisions: [{ k: 'loop' as const, b: 0.3, h: true }, { k: 'loop' as const, b: 0.3, h: true }], behaviourLogProb: 2 * Math.log(0.3), advantage: -1 };
    const good = { decisions: [{ k: 'loop' as const, b: 0.3, h: false }, { k: 'loop' as const, b: 0.3, h: false }], behaviourLogProb: 2 * Math.log(0.7), advantage: 1 };
    const r = grpoUpdate([bad, good], ZERO_THETA, ZERO_THETA);
    expect(r.theta.loop).toBeLessThan(-0.05);
    expect(r.theta.invalid).toBe(0);
    expect(r.objectiveAfter).toBeGreaterThan(r.objectiveBefore);
    const held = grpoUpdate([bad, good], ZERO_THETA, ZERO_THETA, { clip: 0.2, klCoef: 20, learningRate: 0.5, steps: 8 });
    expect(Math.abs(held.theta.loop)).toBeLessThan(Math.abs(r.theta.loop));
  });

  test('a lower θ really makes the simulated model better', async () => {
    const bench = getBenchmark('blocksworld');
    const ids = bench.tasks().slice(0, 40).map((t) => t.id);
    const rate = async (model: string) => {
      const config = seedHarness(model);
      const r = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'theta' });
      return r.outcomes.filter((o) => o.passed).length;
    };
    expect(await rate('sim:small@theta=-1.5,-1.5,-1.5,-1.5')).toBeGreaterThan(await rate('sim:small'));
  });
});

describe('GRPO datasets', () => {
  test('trajectories render under their own harness; TRL JSONL and verl parquet carry reward, advantage and ids', async () => {
    const bench = getBenchmark('blocksworld');
    const config = seedHarness('sim:small');
    const id = harnessId(config);
    const { traces } = await rolloutTasks({ benchmark: bench, config, harnessId: id, taskIds: bench.tasks().slice(0, 2).map((t) => t.id), k: 2, seed: 'export' });
    const { prompt, completion } = renderTrajectory(traces[0]);
    expect(prompt.map((m) => m.role)).toEqual(['system', 'user']);
    expect(prompt[0].content).toBe(traces[0].systemPrompt);
    expect(completion.some((m) => m.role === 'assistant' && m.tool_calls?.length)).toBe(true);
    expect(completion.some((m) => m.role === 'tool')).toBe(true);
    const entries = traces.map((t, i) => ({ ...entry(`k${i}`, t.taskId, t.reward), harnessId: id, traceIndex: i }));
    const rows = await grpoRows(entries, (e) => traces[e.traceIndex], bench);
    const lines = toTrlJsonl(rows).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ task_id: traces[0].taskId, harness_id: id, checkpoint_id: 'base', reward: traces[0].reward });
    expect(lines[0].tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(['pick_up', 'put_down', 'stack', 'unstack']);
    const { parquetReadObjects } = require('hyparquet') as { parquetReadObjects: (o: { file: ArrayBuffer }) => Promise<Array<Record<string, any>>> };
    const bytes = toVerlParquet(rows, 'blocksworld');
    const back = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
    expect(Object.keys(back[0]).sort()).toEqual(['ability', 'data_source', 'extra_info', 'prompt', 'reward_model']);
    expect(back[0]).toMatchObject({ data_source: 'harnessx/blocksworld', ability: 'blocksworld', reward_model: { style: 'rule', ground_truth: String(traces[0].reward) } });
    expect(back[0].prompt[0]).toEqual({ role: 'system', content: traces[0].systemPrompt });
    expect(back[0].extra_info).toMatchObject({ task_id: traces[0].taskId, harness_id: id, advantage: rows[0].advantage });
  });
});

describe('behaviour log-probs and the trainer', () => {
  test('an OpenAI-compatible server’s prompt log-probs (completions API, echo) give the completion’s log-prob', async () => {
    const server = await startWireServer((r) =>
      r.path === '/v1/completions' && r.body.echo === true
        ? { body: { id: 'c', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text: 'ab!', finish_reason: 'length', logprobs: { tokens: ['a', 'b', '!'], token_logprobs: [null, -0.5, -0.25], text_offset: [0, 1, 2] } }] } }
        : undefined,
    );
    try {
      const model = createModel(`openai-compatible:m@${server.url}/v1`, { seed: 's' }) as OpenAIModel;
      // prompt "a", completion "b": only the token starting at offset 1 counts.
      await expect(completionLogProb(model.handle(), 'a', 'b')).resolves.toBe(-0.5);
      expect(server.requests[0].body).toMatchObject({ prompt: 'ab', echo: true, logprobs: 0 });
    } finally {
      await server.close();
    }
  });

  test('an external trainer command runs once per iteration: a finished job is never relaunched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-train-'));
    const store = new ArtifactStore(dir);
    const acts = createCoevolutionActivities(store);
    const bufferRef = await store.put(insert(emptyBuffer(10), []));
    const counter = join(dir, 'launches.txt');
    process.env.HARNESSX_TRAINER_COMMAND = `node -e "const fs=require('fs');fs.appendFileSync('${counter}','x');fs.writeFileSync(process.env.HARNESSX_TRAIN_OUT+'/checkpoint.json',JSON.stringify({id:'ft-1',model:'openai-compatible:ft-1@http://127.0.0.1:9/v1'}))"`;
    try {
      const input = { runId: 'r1', bufferRef, checkpoint: { id: 'base', model: 'openai-compatible:base@http://127.0.0.1:9/v1' }, reference: { id: 'base', model: 'openai-compatible:base@http://127.0.0.1:9/v1' }, iteration: 1, benchmark: 'blocksworld' };
      const first = await acts.trainStep(input);
      const again = await acts.trainStep(input);
      expect(first.checkpoint).toEqual({ id: 'ft-1', model: 'openai-compatible:ft-1@http://127.0.0.1:9/v1' });
      expect(again.checkpoint).toEqual(first.checkpoint);
      expect(readFileSync(counter, 'utf8')).toBe('x');
      expect(await store.readRunFile('r1', 'checkpoints.json')).toEqual([{ id: 'ft-1', model: 'openai-compatible:ft-1@http://127.0.0.1:9/v1', iteration: 1 }]);
    } finally {
      delete process.env.HARNESSX_TRAINER_COMMAND;
    }
  });

  test('an HTTP fine-tuning endpoint: the dataset is posted, the job polled until it yields a checkpoint', async () => {
    let polls = 0;
    const server = await startWireServer((r) => {
      if (r.path === '/ft/jobs' && r.body.format === 'trl') return { body: { id: 'job-1' } };
      if (r.path === '/ft/jobs/job-1') return { body: ++polls < 3 ? { status: 'running' } : { status: 'succeeded', checkpoint: { id: 'ft-2', model: 'openai-compatible:ft-2@http://gpu:8000/v1' } } };
      return undefined;
    });
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-ft-')));
    process.env.HARNESSX_TRAINER_URL = `${server.url}/ft`;
    process.env.HARNESSX_TRAINER_POLL_MS = '20';
    try {
      const base = { id: 'base', model: 'openai-compatible:base@http://gpu:8000/v1' };
      const r = await createCoevolutionActivities(store).trainStep({ runId: 'r2', bufferRef: await store.put(emptyBuffer(5)), checkpoint: base, reference: base, iteration: 2, benchmark: 'blocksworld' });
      expect(r.checkpoint).toEqual({ id: 'ft-2', model: 'openai-compatible:ft-2@http://gpu:8000/v1' });
      expect(polls).toBe(3);
      expect(server.requests[0].body).toMatchObject({ base_model: base.model, format: 'trl' });
    } finally {
      delete process.env.HARNESSX_TRAINER_URL;
      delete process.env.HARNESSX_TRAINER_POLL_MS;
      await server.close();
    }
  });
});

import type { Benchmark } from '../benchmarks/types';
import type { EpisodeTrace } from '../harness/trace';
import { AdvantageOptions, advantages } from './advantages';
import type { BufferEntry } from './replay-buffer';
import { renderTrajectory, toolSchemas } from './render-trajectory';

/**
 * The GRPO dataset of a buffer: one row per trajectory, rendered under its own harness version, with its
 * reward and cross-harness advantage. TRL: conversational prompt/completion JSONL; verl: parquet with
 * data_source, prompt, ability, reward_model, extra_info. Both files go to TRL or verl unchanged.
 */
export interface GrpoRow {
  prompt: ReturnType<typeof renderTrajectory>['prompt'];
  completion: ReturnType<typeof renderTrajectory>['completion'];
  tools: ReturnType<typeof toolSchemas>;
  reward: number;
  advantage: number;
  task_id: string;
  harness_id: string;
  checkpoint_id: string;
}

export async function grpoRows(entries: BufferEntry[], traceOf: (e: BufferEntry) => EpisodeTrace, benchmark: Benchmark, options?: AdvantageOptions): Promise<GrpoRow[]> {
  const adv = advantages(entries, options);
  const rows: GrpoRow[] = [];
  // One environment per task, not per entry: a user suite's environment starts its tool servers.
  const toolsByTask = new Map<string, GrpoRow['tools']>();
  for (const e of entries) {
    const trace = traceOf(e);
    const { prompt, completion } = renderTrajectory(trace);
    rows.push({ prompt, completion, tools: toolsByTask.get(e.taskId) ?? toolsByTask.set(e.taskId, await toolsOf(benchmark, e.taskId)).get(e.taskId)!, reward: e.reward, advantage: adv.get(e.key) ?? 0, task_id: e.taskId, harness_id: e.harnessId, checkpoint_id: e.checkpointId });
  }
  return rows;
}

/** The tools a task's environment offers, as the export lists them; a user suite's environment (its tool sessions) is closed again at once. */
async function toolsOf(benchmark: Benchmark, taskId: string): Promise<GrpoRow['tools']> {
  const env = await benchmark.createEnvironment(taskId, { seed: 'export' });
  try {
    return toolSchemas(env.tools());
  } finally {
    await env.close?.();
  }
}

export function toTrlJsonl(rows: GrpoRow[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}

/** verl's RL dataset columns; the full trajectory and advantage ride in extra_info. */
export function toVerlColumns(rows: GrpoRow[], benchmark: string) {
  return [
    { name: 'data_source', data: rows.map(() => `harnessx/${benchmark}`), type: 'STRING' as const },
    { name: 'prompt', data: rows.map((r) => r.prompt.map((m) => ({ role: m.role, content: m.content }))) },
    { name: 'ability', data: rows.map(() => benchmark), type: 'STRING' as const },
    { name: 'reward_model', data: rows.map((r) => ({ style: 'rule', ground_truth: String(r.reward) })) },
    {
      name: 'extra_info',
      data: rows.map((r, index) => ({ index, task_id: r.task_id, harness_id: r.harness_id, checkpoint_id: r.checkpoint_id, reward: r.reward, advantage: r.advantage, completion: JSON.stringify(r.completion), tools: JSON.stringify(r.tools) })),
    },
  ];
}

export function toVerlParquet(rows: GrpoRow[], benchmark: string): Uint8Array {
  // hyparquet-writer is an ES module; Node 20.19+ loads it with require().
  const { parquetWriteBuffer } = require('hyparquet-writer') as { parquetWriteBuffer: (o: { columnData: unknown[] }) => ArrayBuffer };
  return new Uint8Array(parquetWriteBuffer({ columnData: toVerlColumns(rows, benchmark) }));
}

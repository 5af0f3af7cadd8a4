import { exportGrpoFile } from '../../activities/coevolution';
import { connectClient } from '../../workers/connection';
import type { CoevolveResult } from '../../workflows/coevolve';
import { UsageError, writingTo } from '../errors';
import { type Commands, loadConfigFlag, parseOptions } from '../options';
import { printJson, say } from '../output';
import { cliStore } from '../store';

export const EXPORT_GRPO_OPTIONS = {
  format: { type: 'string', default: 'trl' },
  out: { type: 'string' },
  /** A run on a user suite: the config that declares it (its tools give the dataset's tool schemas). */
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** Exports a co-evolution run's replay buffer as a GRPO dataset (TRL JSONL or verl parquet). */
async function exportGrpo(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, EXPORT_GRPO_OPTIONS);
  const runId = positionals[0];
  if (!runId) throw new UsageError('usage: harnessx export-grpo <runId> --format trl|verl --out PATH [--config harnessx.config.ts]');
  const format = values.format;
  if (format !== 'trl' && format !== 'verl') throw new UsageError(`--format must be trl or verl, got "${format}"`);
  await loadConfigFlag(values.config);
  const store = cliStore();
  const client = await connectClient();
  let result: CoevolveResult;
  try {
    result = await client.workflow.getHandle(runId).result();
  } catch (e) {
    throw new UsageError(`no finished co-evolution run "${runId}": ${(e as Error).message}`);
  }
  const bufferRef = result?.bufferRef;
  if (!bufferRef) throw new UsageError(`run "${runId}" has no replay buffer (is it a coevolve run?)`);
  const out = values.out ?? `${runId}.${format === 'trl' ? 'trl.jsonl' : 'verl.parquet'}`;
  const written = await writingTo(out, () => exportGrpoFile(store, bufferRef, result.benchmark, format, out));
  say(values.json)(`wrote ${written.rows} trajectories to ${written.path}`);
  if (values.json) printJson(written);
}

export const commands: Commands = { 'export-grpo': exportGrpo };

import type { BufferEntry } from './replay-buffer';

/**
 * Cross-harness GRPO advantages: entries are grouped by task across harness versions and checkpoints, and
 * each gets A = (r − mean) / (std + eps) within its group (population std). `normalizeStd: false` is Dr.
 * GRPO (A = r − mean). A group of one has no baseline: its advantage is 0.
 */
export interface AdvantageOptions {
  normalizeStd: boolean;
  eps: number;
}

export const DEFAULT_ADVANTAGES: AdvantageOptions = { normalizeStd: true, eps: 1e-6 };

export function groupByTask(entries: BufferEntry[]): Map<string, BufferEntry[]> {
  const groups = new Map<string, BufferEntry[]>();
  for (const e of entries) groups.set(e.taskId, [...(groups.get(e.taskId) ?? []), e]);
  return groups;
}

export function groupAdvantages(rewards: number[], options: AdvantageOptions = DEFAULT_ADVANTAGES): number[] {
  if (rewards.length < 2) return rewards.map(() => 0);
  const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
  const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / rewards.length);
  return rewards.map((r) => (options.normalizeStd ? (r - mean) / (std + options.eps) : r - mean));
}

/** Advantage per entry key. */
export function advantages(entries: BufferEntry[], options: AdvantageOptions = DEFAULT_ADVANTAGES): Map<string, number> {
  const out = new Map<string, number>();
  for (const group of groupByTask(entries).values()) {
    const a = groupAdvantages(group.map((e) => e.reward), options);
    group.forEach((e, i) => out.set(e.key, a[i]));
  }
  return out;
}

import { basename } from 'node:path';
import type { ExcludedTask, ReportsLoading, TaskNote } from './data-file';
import type { Benchmark, Corruption } from './types';

export interface BenchmarkCheck {
  benchmark: string;
  tasks: number;
  referenceAccepted: number;
  corruptedRejected: number;
  corrupted: number;
  /** Corruptions by kind: how many were tried and rejected. */
  byKind: Record<string, { tried: number; rejected: number }>;
  /** The first problems found (a reference rejected, a corruption accepted). */
  failures: string[];
  ok: boolean;
  /** Tasks in the data files that were not loaded, each with why (and the failing gold action, if that is why). */
  excluded: ExcludedTask[];
  /** What loading worked around in kept tasks (e.g. a failing read-only gold action skipped). */
  notes: TaskNote[];
  /**
   * Tasks whose reference is accepted by the fixed verifier but which an episode cannot pass (reward 1)
   * without a judge model (tau2's NL assertions): counted apart, so "accepted" does not overstate what scores.
   */
  needJudge: TaskNote[];
}

/** A benchmark that knows which of its tasks need a judge model to score 1. */
export interface ReportsJudgedTasks {
  tasksNeedingJudge(): TaskNote[];
}

/** Generic corruptions for benchmarks without their own: nothing at all, and the last action dropped. */
export function defaultCorruptions(reference: Corruption['actions']): Corruption[] {
  return [
    { kind: 'empty', actions: [] },
    ...(reference.length ? [{ kind: 'last action dropped', actions: reference.slice(0, -1) }] : []),
  ];
}

/** Tasks checked at once (see checkBenchmark). */
const CHECK_CONCURRENCY = 4;

/** One task's check: why its reference was rejected (null when accepted), and each corruption's fate. */
interface TaskOutcome {
  referenceRejection: string | null;
  corruptions: Array<{ kind: string; rejected: boolean }>;
}

async function checkTask(benchmark: Benchmark, taskId: string): Promise<TaskOutcome> {
  const reference = benchmark.referenceSolution(taskId);
  const verdict = await benchmark.verifyPlan(taskId, reference);
  const corruptions: TaskOutcome['corruptions'] = [];
  for (const c of benchmark.corruptSolutions?.(taskId) ?? defaultCorruptions(reference)) corruptions.push({ kind: c.kind, rejected: !(await benchmark.verifyPlan(taskId, c.actions)).valid });
  return { referenceRejection: verdict.valid ? null : verdict.reason, corruptions };
}

/**
 * The verifier against the shipped solutions: every task's reference solution must be accepted, and every
 * corrupted solution rejected. A benchmark whose verifier fails this check cannot be trusted to score runs.
 */
export async function checkBenchmark(benchmark: Benchmark, onProgress?: (done: number, total: number) => void): Promise<BenchmarkCheck> {
  const tasks = benchmark.tasks();
  // A few tasks at a time: a user suite's verifyPlan starts its tool servers for each plan (a process per
  // stdio MCP server), which mostly waits on process start-up; a few at once overlap that waiting, and a
  // check of hundreds of tasks still never starts hundreds of servers at once. Results are merged in task
  // order, so the report is the same at any concurrency.
  const outcomes: TaskOutcome[] = new Array(tasks.length);
  let next = 0;
  let finished = 0;
  const checkNext = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      outcomes[i] = await checkTask(benchmark, tasks[i].id);
      finished++;
      if (finished % 250 === 0 || finished === tasks.length) onProgress?.(finished, tasks.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, tasks.length) }, checkNext));

  const failures: string[] = [];
  const byKind: BenchmarkCheck['byKind'] = {};
  let accepted = 0;
  let rejected = 0;
  let corrupted = 0;
  for (const [i, outcome] of outcomes.entries()) {
    const id = tasks[i].id;
    if (outcome.referenceRejection === null) accepted++;
    else if (failures.length < 20) failures.push(`${id}: reference solution rejected: ${outcome.referenceRejection}`);
    for (const c of outcome.corruptions) {
      corrupted++;
      const entry = (byKind[c.kind] ??= { tried: 0, rejected: 0 });
      entry.tried++;
      if (c.rejected) {
        rejected++;
        entry.rejected++;
      } else if (failures.length < 20) failures.push(`${id}: corrupted solution (${c.kind}) accepted`);
    }
  }
  const loading = benchmark as Partial<ReportsLoading>;
  return {
    benchmark: benchmark.name,
    tasks: tasks.length,
    referenceAccepted: accepted,
    corruptedRejected: rejected,
    corrupted,
    byKind,
    failures,
    ok: accepted === tasks.length && rejected === corrupted,
    excluded: loading.excludedTasks?.() ?? [],
    notes: loading.taskNotes?.() ?? [],
    needJudge: (benchmark as Partial<ReportsJudgedTasks>).tasksNeedingJudge?.() ?? [],
  };
}

/** The check as the lines `check-benchmark` prints: counts, corruption kinds, failures, then every exclusion and note. */
export function formatBenchmarkCheck(r: BenchmarkCheck, elapsedMs?: number): string[] {
  const lines = [`${r.benchmark}: reference solutions accepted ${r.referenceAccepted}/${r.tasks}; corrupted solutions rejected ${r.corruptedRejected}/${r.corrupted}${elapsedMs === undefined ? '' : ` (${elapsedMs} ms)`}`];
  // Kinds in one column, as wide as the longest ("last step arguments altered" outgrows the old 22).
  const width = Math.max(22, ...Object.keys(r.byKind).map((k) => k.length));
  for (const [kind, c] of Object.entries(r.byKind)) lines.push(`  ${kind.padEnd(width)} rejected ${c.rejected}/${c.tried}`);
  for (const f of r.failures) lines.push(`  FAIL ${f}`);
  lines.push(`  excluded tasks: ${r.excluded.length}`);
  for (const e of r.excluded) lines.push(`    ${e.id} (${basename(e.file)}): ${e.reason}${e.action ? ` — ${e.action.name}(${JSON.stringify(e.action.arguments)})` : ''}`);
  if (r.notes.length) lines.push(`  notes on loaded tasks: ${r.notes.length}`);
  for (const n of r.notes) lines.push(`    ${n.id}: ${n.note}`);
  if (r.needJudge.length) lines.push(`  tasks that need a judge model to pass (their references are accepted above, but score 0 without one): ${r.needJudge.length}/${r.tasks}`);
  for (const n of r.needJudge) lines.push(`    ${n.id}: ${n.note}`);
  return lines;
}

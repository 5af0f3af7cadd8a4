import type { TaskOutcome } from './rollout';

/**
 * Variant isolation (report §4.5): up to K harness variants live side by side. Each task is routed to the
 * variant with the best past success on its cluster; an edit that helps some tasks and regresses others
 * forks a new variant instead of being thrown away; the seesaw is scoped to the variant's own tasks.
 * Pure functions: the workflow carries the pool, activities supply clusters and outcomes.
 */
export interface Variant {
  id: string;
  harnessId: string;
  parentId: string | null;
  born: number;
  /** Per cluster: tasks passed / tasks seen, from this variant's own rollouts and gate evidence. */
  stats: Record<string, { passed: number; total: number }>;
}

/** Success on a cluster with a Beta(1,1) prior: an unseen cluster scores 0.5, one solve out of one 0.67. */
export const clusterScore = (v: Variant, cluster: string) => ((v.stats[cluster]?.passed ?? 0) + 1) / ((v.stats[cluster]?.total ?? 0) + 2);
export const overallScore = (v: Variant) => {
  const all = Object.values(v.stats);
  return (all.reduce((n, s) => n + s.passed, 0) + 1) / (all.reduce((n, s) => n + s.total, 0) + 2);
};

/** The variant a task goes to: best score on its cluster; ties go to the older variant. */
export function routeTask(variants: Variant[], cluster: string): Variant {
  return variants.reduce((best, v) => (clusterScore(v, cluster) > clusterScore(best, cluster) ? v : best), variants[0]);
}

export function routeTasks(variants: Variant[], taskIds: string[], clusterOf: (taskId: string) => string): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(variants.map((v) => [v.id, []]));
  for (const id of taskIds) out[routeTask(variants, clusterOf(id)).id].push(id);
  return out;
}

/** Adds each variant's rollout outcomes to its per-cluster statistics. */
export function recordOutcomes(variants: Variant[], outcomes: Record<string, TaskOutcome[]>, clusterOf: (taskId: string) => string): Variant[] {
  return variants.map((v) => {
    const stats = structuredClone(v.stats);
    for (const o of outcomes[v.id] ?? []) {
      const c = clusterOf(o.taskId);
      stats[c] = { passed: (stats[c]?.passed ?? 0) + (o.passed ? 1 : 0), total: (stats[c]?.total ?? 0) + 1 };
    }
    return { ...v, stats };
  });
}

/** The variant that represents the pool (reports, the regression guard): best overall success. */
export function leadVariant(variants: Variant[]): Variant {
  return variants.reduce((best, v) => (overallScore(v) > overallScore(best) ? v : best), variants[0]);
}

/**
 * Forks a candidate that unlocked tasks but regressed others into a new variant, credited with the gate's
 * evidence (its unlocks as passes, its regressions as failures, by cluster). When the pool is over
 * `maxVariants`, the variant with the worst overall success retires (never the new one).
 */
export function forkVariant(
  variants: Variant[],
  fork: { parentId: string; harnessId: string; round: number; unlocked: string[]; regressions: string[] },
  clusterOf: (taskId: string) => string,
  maxVariants: number,
): { variants: Variant[]; forked: Variant; retired: Variant | null } {
  const stats: Variant['stats'] = {};
  const add = (id: string, passed: boolean) => {
    const c = clusterOf(id);
    stats[c] = { passed: (stats[c]?.passed ?? 0) + (passed ? 1 : 0), total: (stats[c]?.total ?? 0) + 1 };
  };
  fork.unlocked.forEach((id) => add(id, true));
  fork.regressions.forEach((id) => add(id, false));
  const next = Math.max(0, ...variants.map((v) => Number(v.id.slice(1)) || 0)) + 1;
  const forked: Variant = { id: `v${next}`, harnessId: fork.harnessId, parentId: fork.parentId, born: fork.round, stats };
  let pool = [...variants, forked];
  let retired: Variant | null = null;
  if (pool.length > maxVariants) {
    retired = variants.reduce((worst, v) => (overallScore(v) < overallScore(worst) ? v : worst), variants[0]);
    pool = pool.filter((v) => v.id !== retired!.id);
  }
  return { variants: pool, forked, retired };
}

import type { TaskOutcome } from '../aegis/rollout';
import type { EpisodeTrace } from '../harness/trace';

/** One episode as `rollout --json` reports it: its score and, where the verifier gave them, its reason and breakdown. */
export interface EpisodeScore {
  attempt: number;
  reward: number;
  success: boolean;
  endReason: EpisodeTrace['endReason'];
  steps: number;
  /** The verifier's reason (user suites' verifiers say why a score is what it is). */
  reason?: string;
  /** The reward's components (tau2's DB/COMMUNICATE/…, a suite verifier's breakdown). */
  breakdown?: Record<string, unknown>;
}

export interface TaskScore extends TaskOutcome {
  /** Mean reward over the task's attempts: a partial score (0.5) shows here when pass@k says only "failed". */
  meanReward: number;
  episodes: EpisodeScore[];
}

/** What of a finished trace the report keeps: no messages, no tool output, so the JSON stays small. */
export function episodeScore(trace: EpisodeTrace): EpisodeScore & { taskId: string } {
  const { reason, ...breakdown } = trace.rewardBreakdown ?? {};
  return {
    taskId: trace.taskId,
    attempt: trace.attempt,
    reward: trace.reward,
    success: trace.success,
    endReason: trace.endReason,
    steps: trace.steps,
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(trace.rewardBreakdown && Object.keys(breakdown).length ? { breakdown } : {}),
  };
}

/** Per-task scores in the rollout's task order, each with its episodes in attempt order. */
export function taskScores(outcomes: TaskOutcome[], episodes: Array<EpisodeScore & { taskId: string }>): TaskScore[] {
  return outcomes.map((o) => {
    const own = episodes.filter((e) => e.taskId === o.taskId).sort((a, b) => a.attempt - b.attempt).map(({ taskId: _t, ...e }) => e);
    const meanReward = own.length ? own.reduce((n, e) => n + e.reward, 0) / own.length : 0;
    return { ...o, meanReward, episodes: own };
  });
}

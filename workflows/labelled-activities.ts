import type { ActivityInterfaceFor } from '@temporalio/workflow';

/**
 * Activity stubs whose every call carries a summary (Temporal user metadata), so the Web UI's timeline
 * reads "round 3 · gate · r3-c2 · 40 tasks" instead of fourteen identical "evaluate" bars. `label` is asked
 * at the moment the activity is scheduled, with the activity's name and first argument; null schedules it
 * without a summary (as before). A summary is metadata on the schedule command, not part of what a replay
 * compares (activity type and id), so histories recorded without summaries replay unchanged.
 */
export function labelledActivities<A>(stubs: ActivityInterfaceFor<A>, label: (activity: string, args: unknown) => string | null): ActivityInterfaceFor<A> {
  return new Proxy(stubs, {
    get(target, name) {
      const stub = (target as Record<string | symbol, unknown>)[name] as { executeWithOptions?: (options: { summary: string }, args: unknown[]) => Promise<unknown> } & ((...args: unknown[]) => Promise<unknown>);
      if (typeof name !== 'string' || typeof stub !== 'function' || !stub.executeWithOptions) return stub;
      return (...args: unknown[]) => {
        const summary = label(name, args[0]);
        return summary ? stub.executeWithOptions!({ summary }, args) : stub(...args);
      };
    },
  });
}

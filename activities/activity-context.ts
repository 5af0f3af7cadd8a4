import { Context } from '@temporalio/activity';

/** The details each running activity last heartbeated: a bare liveness beat repeats them instead of erasing them. */
const lastDetails = new WeakMap<Context, unknown>();

/**
 * Heartbeats when running inside an activity; a no-op when called directly (tests, in-process bench). A
 * beat without details (the boundary's liveness timer) sends the activity's last details again, so the
 * progress they carry (episodes, meta-agent calls) stays visible to the CLI between updates.
 */
export function heartbeat(details?: unknown): void {
  try {
    const context = Context.current();
    if (details === undefined) details = lastDetails.get(context);
    else lastDetails.set(context, details);
    context.heartbeat(details);
  } catch {
    /* not in an activity context */
  }
}

/** The details the previous attempt of this activity last heartbeated (null on a first attempt or outside an activity). */
export function heartbeatDetailsOrNull(): unknown {
  try {
    return Context.current().info.heartbeatDetails ?? null;
  } catch {
    return null;
  }
}

/** The id of the workflow that scheduled this activity, or null outside an activity. */
export function workflowIdOrNull(): string | null {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? null;
  } catch {
    return null;
  }
}

/** The activity's task token, or null outside an activity. */
export function taskTokenOrNull(): Uint8Array | null {
  try {
    return Context.current().info.taskToken;
  } catch {
    return null;
  }
}

/**
 * Progress for CPU-bound loops (simulator episodes run back to back without awaiting I/O). Heartbeats at
 * most every `beatMs` and yields the event loop at most every `yieldMs`, so heartbeats, polls and other
 * activities get their turn. Doing both after every few episodes cost a tenth of rollout throughput
 * (measured: ~45 ms per 240 simulator episodes); liveness needs far less than that: the heartbeat timeout
 * is 15 s.
 */
export function progressPacer(options: { beatMs?: number; yieldMs?: number } = {}): (details: unknown) => Promise<void> {
  const beatMs = options.beatMs ?? 1000;
  const yieldMs = options.yieldMs ?? 50;
  let lastBeat = -Infinity;
  let lastYield = performance.now();
  return async (details) => {
    const now = performance.now();
    if (now - lastBeat >= beatMs) {
      heartbeat(details);
      lastBeat = now;
    }
    if (now - lastYield >= yieldMs) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  };
}

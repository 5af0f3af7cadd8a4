import { Context } from '@temporalio/activity';

/** Heartbeats when running inside an activity; a no-op when called directly (tests, in-process bench). */
export function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    /* not in an activity context */
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

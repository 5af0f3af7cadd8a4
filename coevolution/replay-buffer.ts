/**
 * The replay buffer shared by AEGIS and GRPO: scored traces tagged with task, harness version, model
 * checkpoint and verifier reward, FIFO with a fixed capacity. Pure data (the activity persists it in the
 * artifact store); a trace is a ref into the store, its behaviour log-probabilities another.
 */
export interface BufferEntry {
  /** Unique within the buffer: run seed, iteration, task and attempt. */
  key: string;
  taskId: string;
  harnessId: string;
  checkpointId: string;
  /** The model string that generated it (the checkpoint as served). */
  model: string;
  reward: number;
  iteration: number;
  /** Ref of the episode trace in the artifact store, and its index there. */
  tracesRef: string;
  traceIndex: number;
  /** Behaviour log-probability under the generating checkpoint, computed once at insertion; null if unavailable. */
  behaviourLogProb: number | null;
}

export interface ReplayBuffer {
  capacity: number;
  entries: BufferEntry[];
  /** Entries ever inserted (evicted ones included). */
  inserted: number;
}

export function emptyBuffer(capacity: number): ReplayBuffer {
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`replay buffer capacity must be a whole number ≥ 1, got ${capacity}`);
  return { capacity, entries: [], inserted: 0 };
}

/** Appends entries (an entry whose key is already present is skipped: retries never duplicate), evicting the oldest. */
export function insert(buffer: ReplayBuffer, entries: BufferEntry[]): ReplayBuffer {
  const seen = new Set(buffer.entries.map((e) => e.key));
  const fresh = entries.filter((e) => !seen.has(e.key) && (seen.add(e.key), true));
  const all = [...buffer.entries, ...fresh];
  return { capacity: buffer.capacity, entries: all.slice(Math.max(0, all.length - buffer.capacity)), inserted: buffer.inserted + fresh.length };
}

import type { EpisodeMemory } from '../harness/processor';

/**
 * Where lessons live: the artifact store's small cache (store/store.ts `cacheGet`/`cacheSet`), so they
 * survive restarts and span hosts on a shared store (a bucket). Structural, because aegis/ may not import
 * store/: the activity passes its store in.
 */
export interface LessonBacking {
  cacheGet<T>(namespace: string, key: unknown): Promise<T | undefined>;
  cacheSet(namespace: string, key: unknown, value: unknown): Promise<void>;
}

/** The cache namespace of episodic memory; the key is `{ harnessId, suite }`. */
export const EPISODE_MEMORY_NAMESPACE = 'episode-memory';
/** Lessons kept per harness and suite (the oldest go first). */
export const MAX_STORED_LESSONS = 200;

export interface MemoryKey {
  harnessId: string;
  suite: string;
}

/** The lessons stored for one harness on one suite (empty when none). */
export async function storedLessons(backing: LessonBacking, key: MemoryKey): Promise<string[]> {
  const value = await backing.cacheGet<unknown>(EPISODE_MEMORY_NAMESPACE, key);
  return Array.isArray(value) ? value.filter((l): l is string => typeof l === 'string') : [];
}

/**
 * One rollout's view of the memory of (harness, suite). Deterministic by construction: every episode of
 * the rollout recalls the same snapshot, read once when the rollout starts, and the lessons its episodes
 * extract are appended to the store once, when the rollout ends, in the rollout's sequential order (task by
 * task, attempt by attempt), whatever order episodes finished in. So a rollout's outcomes do not depend on
 * its concurrency, and the next rollout of the same harness and suite (the gate after the batch, the next
 * round, another host, a restarted worker) recalls them.
 */
export class RolloutMemory {
  private readonly pending = new Map<number, string[]>();

  private constructor(private readonly backing: LessonBacking, readonly key: MemoryKey, private readonly snapshot: readonly string[]) {}

  static async open(backing: LessonBacking, key: MemoryKey): Promise<RolloutMemory> {
    return new RolloutMemory(backing, key, await storedLessons(backing, key));
  }

  /** The memory one episode sees: `index` is its place in the rollout's sequential order. */
  forEpisode(index: number): EpisodeMemory {
    return {
      recall: async () => [...this.snapshot],
      remember: async (lessons) => {
        this.pending.set(index, [...(this.pending.get(index) ?? []), ...lessons.filter((l) => typeof l === 'string' && l.trim())]);
      },
    };
  }

  /**
   * Appends the lessons of the episodes before `upTo` (all, by default; a cut rollout passes the episodes
   * its result covers) to the store, in order. Read-append-write: two rollouts of the same harness and suite
   * flushing at the same moment on two hosts may lose one side's lessons (the cache has no compare-and-set).
   */
  async flush(upTo = Infinity): Promise<number> {
    const fresh = [...this.pending.entries()].filter(([i]) => i < upTo).sort(([a], [b]) => a - b).flatMap(([, l]) => l);
    this.pending.clear();
    if (!fresh.length) return 0;
    const merged = [...(await storedLessons(this.backing, this.key)), ...fresh].slice(-MAX_STORED_LESSONS);
    await this.backing.cacheSet(EPISODE_MEMORY_NAMESPACE, this.key, merged);
    return fresh.length;
  }
}

import type { HarnessConfig } from '../harness/config';
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
 * One rollout's view of the memory of (harness, suite). Deterministic by construction: the rollout runs one
 * episode at a time (rolloutTasks forces it when memory is in use), and episode i recalls the lessons stored
 * when the rollout started plus those of the rollout's episodes before it in sequential order (task by
 * task, attempt by attempt) — so a second attempt learns from the first. The lessons are appended to the
 * store once, when the rollout ends, in that order; the next rollout of the same harness and suite (the
 * gate after the batch, the next round, another host, a restarted worker) recalls them.
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
      recall: async () => [...this.snapshot, ...this.before(index)],
      remember: async (lessons) => {
        this.pending.set(index, [...(this.pending.get(index) ?? []), ...lessons.filter((l) => typeof l === 'string' && l.trim())]);
      },
    };
  }

  /** The lessons episode `index` gave (for its FinishedEpisode record, so a resumed rollout keeps them). */
  lessonsOf(index: number): string[] {
    return [...(this.pending.get(index) ?? [])];
  }

  /** A resumed episode's lessons, as its earlier attempt recorded them. */
  restore(index: number, lessons: string[]): void {
    this.pending.set(index, [...lessons]);
  }

  /** Lessons of the rollout's episodes before `index`, in sequential order. */
  private before(index: number): string[] {
    return [...this.pending.entries()].filter(([i]) => i < index).sort(([a], [b]) => a - b).flatMap(([, l]) => l);
  }

  /**
   * Appends the lessons of the episodes before `upTo` (all, by default; a cut rollout passes the episodes
   * its result covers) to the store, in order. Read-append-write: two rollouts of the same harness and suite
   * flushing at the same moment on two hosts may lose one side's lessons (the cache has no compare-and-set).
   */
  async flush(upTo = Infinity): Promise<number> {
    const fresh = this.before(upTo);
    this.pending.clear();
    if (!fresh.length) return 0;
    const merged = [...(await storedLessons(this.backing, this.key)), ...fresh].slice(-MAX_STORED_LESSONS);
    await this.backing.cacheSet(EPISODE_MEMORY_NAMESPACE, this.key, merged);
    return fresh.length;
  }
}

/** Whether a harness reads or writes episodic memory (only then does a rollout, or createAgent, open the store's lessons). */
export function usesEpisodeMemory(config: HarnessConfig): boolean {
  return Object.values(config.hooks).some((processors) => processors.some((p) => p.type === 'episodic_memory'));
}

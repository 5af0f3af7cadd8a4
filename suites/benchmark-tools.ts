import type { Benchmark, ScoredEnvironment } from '../benchmarks/types';
import type { ToolCall, ToolResult } from '../harness/types';
import type { ToolProvider, ToolSession } from './types';

/**
 * A benchmark's tools as a product would offer them to `createAgent`: each session is one fresh environment
 * of the task the run serves (`open({ taskId })`), its tools are the environment's, and its state is the
 * verifier's score of the environment as the run left it — so a live run of a suite task can be checked by
 * the suite's own state-reading verifier (see `lastScore`). `deploy bench` plays its workload through it.
 */
export function benchmarkToolProvider(benchmark: Benchmark): ToolProvider & { lastScore(sessionSeed: string): number | null } {
  /** Scores of closed sessions by the seed they were opened with (one per run), taken by lastScore. */
  const scores = new Map<string, number>();
  return {
    label: `benchmark ${benchmark.name}`,
    async open({ taskId, seed }): Promise<ToolSession> {
      const env: ScoredEnvironment = await benchmark.createEnvironment(taskId, { seed });
      let closed = false;
      const session: ToolSession = {
        specs: env.tools(),
        async call(call: ToolCall): Promise<ToolResult> {
          try {
            return await env.execute(call);
          } catch (e) {
            // A tool never crashes the run: its failure is a result the model reads.
            return { ok: false, output: `tool "${call.name}" failed: ${(e as Error)?.message ?? String(e)}`, errorKind: 'tool_crashed' };
          }
        },
        async state(): Promise<unknown> {
          return { score: await env.score() };
        },
        async close(): Promise<void> {
          if (closed) return;
          closed = true;
          try {
            scores.set(seed, await env.score());
          } finally {
            await env.close?.();
          }
        },
      };
      return session;
    },
    lastScore(sessionSeed: string): number | null {
      const score = scores.get(sessionSeed);
      scores.delete(sessionSeed);
      return score ?? null;
    },
  };
}

import type { Client } from '@temporalio/client';
import { fnv1a } from '../../aegis/sampling';
import { getBenchmark } from '../../benchmarks/registry';
import { HarnessConfig, harnessId as harnessIdOf, parseHarnessConfig } from '../../harness/config';
import { createAgent } from '../../library/create-agent';
import type { Model } from '../../harness/processor';
import { createModel } from '../../models/registry';
import { benchmarkToolProvider } from '../../suites/benchmark-tools';
import type { DeploymentStatus } from '../../aegis/live/deployment-state';
import { liveBenchSummary, LiveBenchSummary, PlayedRun } from './live-summary';

/**
 * A live workload played against a deployment exactly as a product plays it: one `createAgent({ deployment })`
 * serving the suite's train tasks as users' requests (each user a run key, so a user stays on one version
 * during a canary), the suite's state-reading verifier as the product's own check, `concurrency` runs at a
 * time. Used by `harnessx deploy bench`, the `live` section of `npm run bench` and the integration tests.
 *
 * Pacing ('rounds', the default) compresses time: in a product a window of runs takes hours and a live round
 * minutes; played at full speed the simulator would finish all runs before the first round ends. So the
 * workload waits while a live round is running and never runs more than a batch ahead of the reports the
 * deployment has applied. A status query that fails (worker or server down) never holds the workload: the
 * product goes on answering.
 */
/**
 * The deployment `deploy bench` starts: small windows and a quick canary (at most 30 canary runs, half the
 * traffic), so a few hundred runs see several rounds. A product's deployment keeps the safer defaults
 * (windows of 50, a 20% canary of up to 200 runs).
 */
export const LIVE_BENCH_DEFAULTS = { windowRuns: 30, canaryShare: 0.5, canaryMinRuns: 15, canaryMaxRuns: 30, ttlMs: 500 } as const;

export function liveBenchDeploymentInput(x: { name: string; benchmark: string; model: string; seed: string; metaAgent?: string; swap?: 'between-runs' | 'between-steps'; windowRuns?: number; canaryShare?: number; canaryMinRuns?: number; canaryMaxRuns?: number }) {
  const d = LIVE_BENCH_DEFAULTS;
  return {
    name: x.name,
    benchmark: x.benchmark,
    model: x.model,
    seed: x.seed,
    ...(x.metaAgent ? { metaAgent: x.metaAgent } : {}),
    window: { runs: x.windowRuns ?? d.windowRuns },
    canary: { share: x.canaryShare ?? d.canaryShare, minRuns: x.canaryMinRuns ?? d.canaryMinRuns, maxRuns: x.canaryMaxRuns ?? d.canaryMaxRuns },
    ...(x.swap ? { swap: x.swap } : {}),
    ttlMs: d.ttlMs,
  };
}

export interface LiveWorkloadOptions {
  client: Client;
  /** The deployment's name (already started). */
  name: string;
  benchmark: string;
  model: string;
  runs: number;
  concurrency: number;
  seed: string;
  /**
   * Each model call takes at least this long (ms), as a real endpoint's would. Mid-task swaps need runs that
   * outlive the agents' TTL; the simulator alone answers in microseconds. Default 0.
   */
  latencyMs?: number;
  /** Distinct users (run keys) the requests come from. Default 200. */
  users?: number;
  pace?: 'rounds' | 'none';
  /** Overrides the deployment's swap mode in the agent. */
  swap?: 'between-runs' | 'between-steps';
  /** Put a regressing candidate out as a canary once this many runs are done (and no canary is deciding). */
  injectBadCandidateAfter?: number;
  /** After `runs` runs, keep playing until this says so (tests: until a fault sequence is over). */
  continueUntil?: () => boolean;
  /** Called once when this many runs have started (fault injection in tests: kill the worker, the server). */
  faults?: Array<{ afterRuns: number; run: () => Promise<void> | void }>;
  /** Progress, one line per closed window and per notable event. */
  log?: (line: string) => void;
  /** The agent's own one-line notices (fail static, reachable again). */
  agentLog?: (line: string) => void;
  /** How long the end waits for every report to reach the deployment (ms). Default 120000. */
  drainTimeoutMs?: number;
}

export interface LiveWorkloadResult extends LiveBenchSummary {
  /** The final status of the deployment as the workload saw it (null if it never answered at the end). */
  status: DeploymentStatus | null;
  /** Every run as the product saw it, in the order they ended. */
  played: PlayedRun[];
}

const STATUS_EVERY_MS = 150;
const PACE_WAIT_MS = 2000;

export async function playLiveWorkload(o: LiveWorkloadOptions): Promise<LiveWorkloadResult> {
  const benchmark = getBenchmark(o.benchmark);
  const tasks = benchmark.tasks().filter((t) => t.split === 'train');
  if (!tasks.length) throw new Error(`suite ${o.benchmark} has no train tasks to play as live requests`);
  const log = o.log ?? (() => undefined);
  const users = o.users ?? 200;
  const tools = benchmarkToolProvider(benchmark);
  const handle = o.client.workflow.getHandle(`deploy-${o.name}`);
  const agent = createAgent({
    deployment: { name: o.name, client: o.client, flushMs: 100, batchSize: 25, requestTimeoutMs: 3000, maxQueue: 100_000, ...(o.swap ? { swap: o.swap } : {}), log: o.agentLog ?? log },
    model: ({ taskId, seed }) => withLatency(createModel(o.model, { seed, taskBrief: benchmark.simulatorBrief?.(taskId) }), o.latencyMs ?? 0),
    tools: [tools],
    name: o.benchmark,
    seed: o.seed,
    verify: (result) => tools.lastScore(result.trace.seed),
  });

  // The deployment's status, read at most every STATUS_EVERY_MS by whichever runner needs it.
  let status: DeploymentStatus | null = null;
  let statusAt = 0;
  /** The deployment has answered once: until then (it is setting up) the workload waits for it. */
  let answered = false;
  let reading: Promise<void> | null = null;
  let readingSince = 0;
  const readStatus = (): Promise<void> =>
    (reading ??= (async () => {
      readingSince = Date.now();
      try {
        // A loaded server answers a query of a large deployment in seconds; no answer in 15 s counts as down.
        status = await withTimeout(handle.query<DeploymentStatus>('deploymentStatus'), 15_000);
        answered = true;
      } catch {
        status = null; // unreachable: the workload does not wait on it
      } finally {
        statusAt = Date.now();
        reading = null;
      }
    })());
  const lastStatus = (): DeploymentStatus | null => status;
  const fresh = async () => {
    if (Date.now() - statusAt >= STATUS_EVERY_MS) {
      const read = readStatus();
      // After a failed read (worker or server down) the product does not wait for the next one: it goes on
      // serving, and the read finishes in the background. While the deployment answers (and before it first
      // has, while it sets up), pacing waits for it.
      // A slow answer holds the workload at most PACE_WAIT_MS (the product never stops answering for long);
      // the read goes on in the background and paces later runs when it lands.
      if (!answered) await read;
      else if (status !== null) await Promise.race([read, sleep(PACE_WAIT_MS)]);
    }
    // A read that has hung for longer than PACE_WAIT_MS (a worker down: the server holds the query) makes the
    // last answer stale: the workload treats the deployment as unreachable rather than pacing on old counts.
    if (answered && reading && Date.now() - readingSince >= PACE_WAIT_MS) return null;
    return status;
  };

  let started = 0;
  let finished = 0;
  const played: PlayedRun[] = [];
  const lag = Math.max(25, 2 * o.concurrency);
  let windowsLogged = 0;
  const faults = [...(o.faults ?? [])].sort((a, b) => a.afterRuns - b.afterRuns);
  let bad: LiveBenchSummary['badCandidate'] = null;
  const startedAt = Date.now();

  const pace = async () => {
    if ((o.pace ?? 'rounds') === 'none') return;
    for (;;) {
      const s = await fresh();
      if (!s) return;
      if (s.windows.length > windowsLogged) {
        for (const w of s.windows.slice(windowsLogged)) log(`window ${w.index}: ${w.runs} runs, pass rate ${(100 * (w.passRate ?? 0)).toFixed(1)}% under ${w.harnessId}`);
        windowsLogged = s.windows.length;
      }
      if (!s.roundRunning && started - s.counts.reports <= lag) return;
      // While a round works no run ends, so the injection is tried here too (no canary deciding is the moment).
      if (!s.canary) await maybeInjectBad();
      await sleep(STATUS_EVERY_MS);
    }
  };

  let injecting = false;
  const maybeInjectBad = async () => {
    // One runner at a time: the flag is set before the first await, so no two runners inject.
    if (o.injectBadCandidateAfter === undefined || bad || injecting || finished < o.injectBadCandidateAfter) return;
    injecting = true;
    try {
      const s = await fresh();
      if (!s || s.canary) return;
      const at = finished;
      const current = (await handle.query<{ champion: { config: Record<string, unknown> } }>('current')).champion.config;
      const config = regressingCandidate(parseHarnessConfig(current));
      const harnessId = harnessIdOf(config);
      await handle.executeUpdate('canary', { args: [{ harnessId, config, reason: 'deploy bench --inject-bad-candidate: a step budget of 2 (it cannot finish a task)' }] });
      bad = { harnessId, injectedAtRun: at, decision: null, canaryRuns: null, pulled: null };
      log(`injected a regressing candidate ${harnessId} as the canary after ${at} runs`);
    } catch (e) {
      // Refused (a canary went out meanwhile) or unreachable: tried again after a later run.
      log(`could not inject the regressing candidate yet: ${(e as Error).message}`);
    } finally {
      injecting = false;
    }
  };

  const runner = async () => {
    for (;;) {
      await pace();
      if (started >= o.runs && (!o.continueUntil || o.continueUntil())) return;
      const i = started++;
      while (faults.length && faults[0].afterRuns <= i) {
        const fault = faults.shift()!;
        log(`fault after ${i} runs started`);
        // The product does not wait for the fault: other runners keep serving.
        void Promise.resolve(fault.run()).catch((e: unknown) => log(`fault failed: ${(e as Error)?.message ?? e}`));
      }
      const task = tasks[fnv1a(`${o.seed}|task|${i}`) % tasks.length];
      const runKey = `user-${fnv1a(`${o.seed}|user|${i}`) % users}`;
      const t0 = Date.now();
      try {
        const r = await agent.run({ id: task.id, instruction: task.instruction }, { runKey, runId: `${o.name}-run-${i}` });
        played.push({ index: i, ok: true, startHarnessId: r.trace.harnessSwaps?.[0]?.from ?? r.harnessId, harnessId: r.harnessId, midTaskSwap: (r.trace.harnessSwaps?.length ?? 0) > 0, steps: r.steps, ms: Date.now() - t0, endedAt: Date.now() });
      } catch (e) {
        played.push({ index: i, ok: false, error: (e as Error)?.message ?? String(e), ms: Date.now() - t0, endedAt: Date.now() });
      }
      finished++;
      await maybeInjectBad();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, runner));

  // Every report to the deployment, then the deployment's final word on them.
  await agent.close(o.drainTimeoutMs ?? 120_000);
  const stats = agent.deploymentStats()!;
  const deadline = Date.now() + (o.drainTimeoutMs ?? 120_000);
  let final: DeploymentStatus | null = null;
  while (Date.now() < deadline) {
    await readStatus();
    // A read that timed out (a loaded server) keeps the last answer: null would count every run as lost.
    final = lastStatus() ?? final;
    // Settled: every report applied, no round working, no canary still deciding on runs that will not come.
    if (final && final.counts.reports >= played.length - stats.reportsDropped && !final.roundRunning) break;
    await sleep(250);
  }
  if (bad && final) {
    const b: NonNullable<LiveBenchSummary['badCandidate']> = bad;
    const version = final.versions.find((v) => v.harnessId === b.harnessId);
    b.decision = version?.status ?? null;
    b.pulled = version ? version.status === 'pulled' : null;
    b.canaryRuns = version?.canaryRuns ?? null;
  }
  return { ...liveBenchSummary({ runs: played.length, concurrency: o.concurrency, played, status: final, stats, badCandidate: bad, durationMs: Date.now() - startedAt, paced: o.pace ?? 'rounds' }), status: final, played };
}

/** A candidate that regresses without crashing anything: the champion with a step budget of 2. */
export function regressingCandidate(champion: HarnessConfig): HarnessConfig {
  const stepStart = (champion.hooks.step_start ?? []).filter((p) => p.type !== 'step_budget');
  return parseHarnessConfig({ ...champion, name: 'injected-regression', hooks: { ...champion.hooks, step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 2 } }, ...stepStart] } });
}

/** The model, each call taking at least `ms` (a real endpoint's latency). */
function withLatency(model: Model, ms: number): Model {
  if (ms <= 0) return model;
  return { id: model.id, generate: async (request) => (await Promise.all([model.generate(request), sleep(ms)]))[0] };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

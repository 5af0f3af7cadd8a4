import { CurrentHarness, harnessFor, RunReport } from '../aegis/live/deployment-state';
import { executionSignals } from '../aegis/live/outcomes';
import { deploymentWorkflowId } from '../aegis/live/deployment-input';
import { HarnessConfig, parseHarnessConfig } from '../harness/config';
import type { EpisodeTrace } from '../harness/trace';

/**
 * The product side of a deployment: the harness to serve, kept current by a short-TTL poll of the
 * deployment workflow's `current` query, and each run's report sent back in batches. Nothing here ever
 * blocks or fails a run on HarnessX: a poll that fails keeps the last harness (fail static, said once in the
 * log); a report that cannot be sent is retried, and dropped (and counted) only when the bounded queue is full.
 *
 * The library talks to the workflow by name through a Temporal client the product passes in (a
 * `@temporalio/client` Client: `new Client({ connection: await Connection.connect({ address }) })`), so the
 * package entry itself loads no Temporal code.
 */
export interface DeploymentClient {
  workflow: {
    getHandle(workflowId: string): {
      query<R = unknown>(name: string, ...args: unknown[]): Promise<R>;
      executeUpdate<R = unknown>(name: string, options: { args: unknown[] }): Promise<R>;
    };
  };
}

export interface DeploymentOptions {
  /** The deployment's name (`harnessx deploy start <name>`). */
  name: string;
  client: DeploymentClient;
  /** Overrides the deployment's swap mode for this agent. */
  swap?: 'between-runs' | 'between-steps';
  /** Longest a query or report may take before it counts as failed (ms). Default 5000. */
  requestTimeoutMs?: number;
  /** Reports held for sending at most; beyond it the oldest report is dropped and counted. Default 1000. */
  maxQueue?: number;
  /** Reports per update. Default 50. */
  batchSize?: number;
  /** How long a report may wait for its batch to fill (ms). Default 1000. */
  flushMs?: number;
  /** An agent with no harness of its own waits at most this long for the deployment's first answer (ms). Default 30000. */
  firstHarnessTimeoutMs?: number;
  /** Where the one-line notices go (fail static, recovered). Default console.warn. */
  log?: (line: string) => void;
}

export interface DeploymentStats {
  revision: number | null;
  harnessId: string | null;
  reportsQueued: number;
  reportsSent: number;
  reportsDropped: number;
  sendFailures: number;
  feedbackSent: number;
  /** Reports sent without their trace because the trace alone was over the update's size limit. */
  tracesTooLarge: number;
  /** True while the last poll failed and the agent serves the last harness it knew. */
  failingStatic: boolean;
}

type Served = { harnessId: string; config: HarnessConfig; arm: 'champion' | 'canary' };

export class DeploymentLink {
  private current: (Omit<CurrentHarness, 'champion' | 'canary'> & { champion: { harnessId: string; config: HarnessConfig }; canary: (CurrentHarness['canary'] & { config: HarnessConfig }) | null }) | null = null;
  private fetchedAt = 0;
  private polling: Promise<void> | null = null;
  private failing = false;
  private refusedCanary: string | null = null;
  private queue: Array<RunReport & { trace?: EpisodeTrace | null }> = [];
  private feedbackQueue: Array<{ runId: string; score: number; note?: string }> = [];
  private sending: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  readonly stats: DeploymentStats = { revision: null, harnessId: null, reportsQueued: 0, reportsSent: 0, reportsDropped: 0, sendFailures: 0, feedbackSent: 0, tracesTooLarge: 0, failingStatic: false };
  private readonly workflowId: string;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: DeploymentOptions) {
    if (!options || typeof options.name !== 'string' || !options.name) throw new Error('createAgent: deployment.name must be the name of a deployment (harnessx deploy start <name>)');
    if (!options.client?.workflow?.getHandle) throw new Error('createAgent: deployment.client must be a Temporal client (new Client({ connection }) from @temporalio/client)');
    this.workflowId = deploymentWorkflowId(options.name);
    this.timeoutMs = options.requestTimeoutMs ?? 5000;
    this.log = options.log ?? ((line) => console.warn(line));
  }

  /** Resolves the deployment's harness once (the first run waits for this only when there is no harness yet). */
  async ready(): Promise<void> {
    const deadline = Date.now() + (this.options.firstHarnessTimeoutMs ?? 30_000);
    // A deployment just started answers once its setup ran: ask again until then.
    while (!this.current) {
      await this.poll();
      if (this.current || Date.now() >= deadline) break;
      await sleep(200);
    }
    if (!this.current) throw new Error(`deployment "${this.options.name}": no harness known yet and HarnessX did not answer (workflow ${this.workflowId})`);
  }

  /** The harness for a run key; starts a background refresh when the TTL has passed (never waits for it). */
  serve(runKey: string): Served | null {
    this.refreshIfStale();
    const c = this.current;
    if (!c) return null;
    const picked = harnessFor(c, runKey);
    return { harnessId: picked.harnessId, config: picked.config as HarnessConfig, arm: picked.arm };
  }

  /** The deployment's judge rubric, if it has one (the judge outcome source). */
  rubric(): string | null {
    return this.current?.rubric ?? null;
  }

  /** Mid-task swap: at a step boundary, the champion if it changed since the run started (between-steps only). */
  newerChampion(servedId: string, arm: 'champion' | 'canary'): { harnessId: string; config: HarnessConfig } | null {
    this.refreshIfStale();
    const c = this.current;
    if (!c || (this.options.swap ?? c.swap) !== 'between-steps') return null;
    // A canary run stays on its canary (its outcome is the canary's evidence); champion runs follow promotions.
    if (arm === 'canary' && c.canary?.harnessId === servedId) return null;
    return c.champion.harnessId !== servedId ? c.champion : null;
  }

  /** Queues a finished run's report; never throws. */
  report(r: RunReport, trace: EpisodeTrace | null): void {
    if (this.closed) return void this.stats.reportsDropped++;
    const max = this.options.maxQueue ?? 1000;
    if (this.queue.length >= max) {
      this.queue.shift();
      this.stats.reportsDropped++;
    }
    this.queue.push({ ...r, signals: r.signals ?? (trace ? executionSignals(trace) : undefined), trace });
    this.stats.reportsQueued = this.queue.length;
    this.scheduleSend();
  }

  feedback(runId: string, score: number, note?: string): void {
    if (typeof runId !== 'string' || !runId) throw new Error('agent.feedback: runId must be the runId of an AgentResult');
    if (typeof score !== 'number' || !(score >= 0 && score <= 1)) throw new Error(`agent.feedback: score must be a number in [0, 1], got ${score}`);
    this.feedbackQueue.push({ runId, score, ...(note !== undefined ? { note: String(note) } : {}) });
    this.scheduleSend();
  }

  /** Sends everything queued (retrying until `timeoutMs`); resolves whether or not HarnessX answered. */
  async flush(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length || this.feedbackQueue.length) && Date.now() < deadline) {
      await this.send();
      if (this.queue.length || this.feedbackQueue.length) await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
    }
  }

  async close(timeoutMs?: number): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private refreshIfStale(): void {
    const ttl = this.current?.ttlMs ?? 5000;
    if (!this.polling && Date.now() - this.fetchedAt >= ttl) void this.poll();
  }

  private poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const handle = this.options.client.workflow.getHandle(this.workflowId);
        const answer = await withTimeout(handle.query<CurrentHarness | { revision: number; unchanged: true }>('current', this.current?.revision), this.timeoutMs, 'the current query');
        if (!('unchanged' in answer)) this.adopt(answer);
        if (this.failing) this.log(`harnessx: deployment "${this.options.name}" reachable again; serving ${this.current?.champion.harnessId}`);
        this.failing = false;
      } catch (e) {
        if (!this.failing) this.log(`harnessx: deployment "${this.options.name}" unreachable (${(e as Error)?.message ?? e}); serving the last harness known${this.current ? ` (${this.current.champion.harnessId})` : ''} until it answers`);
        this.failing = true;
      } finally {
        this.fetchedAt = Date.now();
        this.stats.failingStatic = this.failing;
        this.polling = null;
      }
    })();
    return this.polling;
  }

  private adopt(c: CurrentHarness): void {
    // Validated as loadHarness validates a file: a config the library cannot run keeps the last good one.
    const champion = { harnessId: c.champion.harnessId, config: parseHarnessConfig(c.champion.config) };
    let canary: (NonNullable<CurrentHarness['canary']> & { config: HarnessConfig }) | null = null;
    try {
      canary = c.canary ? { ...c.canary, config: parseHarnessConfig(c.canary.config) } : null;
    } catch (e) {
      // A canary this library cannot run is not served (its runs go to the champion), and never blocks the champion's updates.
      if (this.refusedCanary !== c.canary!.harnessId) this.log(`harnessx: deployment "${this.options.name}": canary ${c.canary!.harnessId} cannot run here (${(e as Error).message.split('\n')[0]}); serving the champion instead`);
      this.refusedCanary = c.canary!.harnessId;
    }
    this.current = { ...c, champion, canary };
    this.stats.revision = c.revision;
    this.stats.harnessId = champion.harnessId;
  }

  private scheduleSend(): void {
    if (this.timer || this.sending) return;
    const full = this.queue.length >= (this.options.batchSize ?? 50);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.send().then(() => {
        if (this.queue.length || this.feedbackQueue.length) this.scheduleSend();
      });
    }, full ? 0 : this.options.flushMs ?? 1000);
    // A pending send must not keep a product's process alive on its own.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /**
   * The next batch: at most batchSize reports and MAX_UPDATE_BYTES of JSON, so an update stays well under
   * Temporal's payload limit (2 MB). A report whose trace alone is too large goes without its trace (the
   * outcome and signals still count) rather than blocking the queue behind it forever.
   */
  private nextBatch(): Array<RunReport & { trace?: EpisodeTrace | null }> {
    const batch: Array<RunReport & { trace?: EpisodeTrace | null }> = [];
    let bytes = 0;
    for (const [i, r] of this.queue.entries()) {
      if (batch.length >= (this.options.batchSize ?? 50)) break;
      let size = jsonBytes(r);
      if (size > MAX_UPDATE_BYTES) {
        const { trace: _trace, ...withoutTrace } = r;
        this.queue[i] = { ...withoutTrace, trace: null };
        this.stats.tracesTooLarge++;
        size = jsonBytes(this.queue[i]);
      }
      if (batch.length && bytes + size > MAX_UPDATE_BYTES) break;
      batch.push(this.queue[i]);
      bytes += size;
    }
    return batch;
  }

  /** One batch of reports and the feedback queued; on failure they stay at the head of their queues. */
  private send(): Promise<void> {
    this.sending ??= (async () => {
      const handle = this.options.client.workflow.getHandle(this.workflowId);
      const batch = this.nextBatch();
      try {
        if (batch.length) {
          await withTimeout(handle.executeUpdate('report', { args: [batch] }), this.timeoutMs, 'the report update');
          // The queue may have dropped from its head while this was in flight: remove exactly what was sent.
          this.queue = this.queue.filter((r) => !batch.includes(r));
          this.stats.reportsSent += batch.length;
        }
        const feedback = this.feedbackQueue.slice(0, 100);
        if (feedback.length) {
          await withTimeout(handle.executeUpdate('feedback', { args: [feedback] }), this.timeoutMs, 'the feedback update');
          this.feedbackQueue.splice(0, feedback.length);
          this.stats.feedbackSent += feedback.length;
        }
      } catch {
        // Sent again later; the deployment counts a run id once, so a batch that did arrive is not counted twice.
        this.stats.sendFailures++;
        await sleep(Math.min(5000, 200 * 2 ** Math.min(5, this.stats.sendFailures % 6)));
      } finally {
        this.stats.reportsQueued = this.queue.length;
        this.sending = null;
      }
    })();
    return this.sending;
  }
}

/** Most JSON one report update carries (Temporal warns at 512 KiB and refuses payloads over 2 MiB). */
const MAX_UPDATE_BYTES = 400 * 1024;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    (t as { unref?: () => void }).unref?.();
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

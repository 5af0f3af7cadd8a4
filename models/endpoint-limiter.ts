import { availableParallelism } from 'node:os';
import { hashUniform } from '../harness/canonical';
import type { Model } from '../harness/processor';
import type { ModelRequest, ModelResponse, Usage } from '../harness/types';
import { EndpointLimit, EndpointLimits, ENDPOINT_LIMITS_ENV, parseEndpointLimitsText, parseRateLimitWaitSeconds, RATE_LIMIT_WAIT_ENV, resolveEndpointLimit } from './endpoint-limits';
import { ProviderError } from './errors';
import type { SignalledLimits } from './endpoint-shares';

/** Time as the limiter sees it; tests inject a fake one. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A reproducible uniform [0, 1) stream: backoff jitter comes from here, never from Math.random. */
export function seededRandom(seed: string): () => number {
  let n = 0;
  return () => hashUniform('jitter', seed, n++);
}

export interface LimiterStats {
  /** Calls granted a slot (retries count again). */
  calls: number;
  peakInFlight: number;
  /** 429/503 answers seen. */
  rateLimited: number;
  /** Times AIMD lowered the ceiling. */
  decreases: number;
  lowestCeiling: number;
}

/** Whether a call is for the stage a run waits on (foreground) or for work started ahead of it (background). */
export type CallPriority = 'foreground' | 'background';

/** One granted slot; release it exactly once with how the call went. */
export interface Permit {
  release(outcome: { ok: true; usage?: Usage } | { ok: false; rateLimited: boolean }): void;
}

/**
 * The calls in flight to one endpoint, shared by every episode of every activity in a process.
 * Two FIFO queues (foreground first, then background: `acquire`) under a ceiling that moves by AIMD: each success adds 1/ceiling (about +1 per ceiling's
 * worth of successes), a 429/503 halves it (once per "generation": the answers of calls started before
 * the last decrease do not halve again), never above the configured maxInFlight nor below 1. Optional
 * request and token buckets pace requests and tokens per minute (tokens are charged after the call,
 * from its usage, since they are only known then).
 */
export class EndpointLimiter {
  private ceiling: number;
  private inFlight = 0;
  /** Calls waiting for a slot, by priority: background ones are served only when no foreground call waits. */
  private readonly waiting: Record<CallPriority, Array<(permit: Permit) => void>> = { foreground: [], background: [] };
  private generation = 0;
  private requestBucket: number;
  private tokenBucket: number;
  private refilledAt: number;
  private timer = false;
  /** The cluster coordinator's grant (null: not coordinated, the limit is this process's own). */
  private shareValue: EndpointLimit | null = null;
  /** Since the last report to the coordinator: the most calls wanted at once, and each refusal's calls in flight when it was sent. */
  private peakWanted = 0;
  private refusedAt: number[] = [];
  private signalled: SignalledLimits | null = null;
  /** Wall-clock ms when the configured limit was last set (the coordinator keeps the newest setting). */
  limitSetAt = Date.now();
  readonly stats: LimiterStats;

  constructor(
    readonly key: string,
    private limitValue: EndpointLimit,
    private readonly clock: Clock = realClock,
  ) {
    this.ceiling = limitValue.maxInFlight;
    this.refilledAt = clock.now();
    this.requestBucket = this.requestCapacity();
    this.tokenBucket = this.tokenCapacity();
    this.stats = { calls: 0, peakInFlight: 0, rateLimited: 0, decreases: 0, lowestCeiling: limitValue.maxInFlight };
  }

  get limit(): EndpointLimit {
    return this.limitValue;
  }
  /** What this process may use: the coordinator's share when there is one, else the configured limit. */
  get effective(): EndpointLimit {
    return this.shareValue ?? this.limitValue;
  }
  get share(): EndpointLimit | null {
    return this.shareValue;
  }
  /** The ceiling in force now (AIMD's current value, whole; 0 while a coordinated share is 0: the worker lent it). */
  get currentCeiling(): number {
    if (this.shareValue?.maxInFlight === 0) return 0;
    return Math.max(1, Math.floor(Math.min(this.ceiling, this.effective.maxInFlight)));
  }
  get active(): number {
    return this.inFlight;
  }
  get queued(): number {
    return this.waiterCount;
  }
  private get waiterCount(): number {
    return this.waiting.foreground.length + this.waiting.background.length;
  }

  /** A new configured limit (a run's input changed it): the ceiling restarts from the new maximum. */
  configure(limit: EndpointLimit): void {
    if (JSON.stringify(limit) === JSON.stringify(this.limitValue)) return;
    this.limitValue = limit;
    this.limitSetAt = Date.now();
    this.ceiling = limit.maxInFlight;
    this.requestBucket = Math.min(this.requestBucket, this.requestCapacity());
    this.tokenBucket = Math.min(this.tokenBucket, this.tokenCapacity());
    this.pump();
  }

  /**
   * The coordinator's share for this process (null: back to the configured limit). A larger share is used at
   * once; a smaller one stops new calls until those in flight are under it (none is cut short).
   */
  setShare(share: EndpointLimit | null): void {
    if (JSON.stringify(share) === JSON.stringify(this.shareValue)) return;
    this.shareValue = share;
    // AIMD works under the share; the coordinator already folds refusals into it, so the ceiling starts full.
    this.ceiling = Math.max(1, this.effective.maxInFlight);
    this.requestBucket = Math.min(this.requestBucket, this.requestCapacity());
    this.tokenBucket = Math.min(this.tokenBucket, this.tokenCapacity());
    this.pump();
  }

  /** Records what a refused call's response headers announced (rate-limit headers), for the next report. */
  noteSignalled(limits: SignalledLimits | null): void {
    if (limits) this.signalled = { ...this.signalled, ...limits };
  }

  /** What the coordinator hears at a renewal; the counters start again from now. */
  takeReport(): { wanted: number; active: number; refusedAt: number[]; signalled: SignalledLimits | null } {
    const report = { wanted: Math.max(this.peakWanted, this.inFlight + this.waiterCount), active: this.inFlight, refusedAt: this.refusedAt, signalled: this.signalled };
    this.peakWanted = this.inFlight + this.waiterCount;
    this.refusedAt = [];
    this.signalled = null;
    return report;
  }
  /**
   * Waits for a slot under the ceiling and the rate buckets: FIFO within a priority, and a background call
   * only when no foreground call is waiting. Work a run starts early (aegis/overlap.ts) is background: it
   * fills the slots the stage that waits for it leaves free (its long tail) instead of sharing the endpoint
   * with it and leaving nothing for the tail.
   */
  acquire(priority: CallPriority = 'foreground'): Promise<Permit> {
    const ahead = priority === 'foreground' ? this.waiting.foreground.length : this.waiterCount;
    if (ahead === 0 && this.canStart()) return Promise.resolve(this.take());
    return new Promise<Permit>((resolve) => {
      this.waiting[priority].push(resolve);
      this.peakWanted = Math.max(this.peakWanted, this.inFlight + this.waiterCount);
      this.onWaiting?.();
      this.pump();
    });
  }

  /** Told when a call has to wait (the coordination client renews early when its share is short). */
  onWaiting?: () => void;

  /** Takes a slot now (the caller checked canStart) and returns its permit. */
  private take(): Permit {
    this.inFlight++;
    const inFlightAtSend = this.inFlight;
    this.peakWanted = Math.max(this.peakWanted, this.inFlight + this.waiterCount);
    if (this.effective.requestsPerMinute) this.requestBucket -= 1;
    this.stats.calls++;
    this.stats.peakInFlight = Math.max(this.stats.peakInFlight, this.inFlight);
    const generation = this.generation;
    let released = false;
    return {
      release: (outcome) => {
        if (released) throw new Error(`endpoint limiter ${this.key}: a permit was released twice`);
        released = true;
        this.inFlight--;
        if (outcome.ok) {
          if (outcome.usage && this.effective.tokensPerMinute) this.tokenBucket -= outcome.usage.inputTokens + outcome.usage.outputTokens;
          this.ceiling = Math.min(Math.max(1, this.effective.maxInFlight), this.ceiling + 1 / this.ceiling);
        } else if (outcome.rateLimited) {
          this.stats.rateLimited++;
          this.refusedAt.push(inFlightAtSend);
          if (generation === this.generation) {
            this.generation++;
            // Straight to the calls the endpoint took when it refused this one (a concurrency cap is found in
            // one step, not by halving down to it), but at least a quarter and at most half of the ceiling.
            const ceiling = Math.min(this.ceiling, this.effective.maxInFlight);
            this.ceiling = Math.max(1, ceiling / 4, Math.min(ceiling / 2, inFlightAtSend - 1));
            this.stats.decreases++;
            this.stats.lowestCeiling = Math.min(this.stats.lowestCeiling, this.currentCeiling);
          }
        }
        this.pump();
      },
    };
  }

  private requestCapacity(): number {
    const rpm = this.effective.requestsPerMinute;
    // At most a second's worth at once: requests are paced, not burst at the top of a minute.
    return rpm ? Math.max(1, rpm / 60) : Infinity;
  }
  private tokenCapacity(): number {
    const tpm = this.effective.tokensPerMinute;
    return tpm ? Math.max(1, tpm / 6) : Infinity;
  }

  private refill(): void {
    const now = this.clock.now();
    const minutes = (now - this.refilledAt) / 60_000;
    this.refilledAt = now;
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.effective;
    if (rpm) this.requestBucket = Math.min(this.requestCapacity(), this.requestBucket + minutes * rpm);
    if (tpm) this.tokenBucket = Math.min(this.tokenCapacity(), this.tokenBucket + minutes * tpm);
  }

  private canStart(): boolean {
    if (this.inFlight >= this.currentCeiling) return false;
    if (!this.effective.requestsPerMinute && !this.effective.tokensPerMinute) return true;
    this.refill();
    return this.requestBucket >= 1 - 1e-9 && this.tokenBucket > 0;
  }

  private pump(): void {
    for (;;) {
      const queue = this.waiting.foreground.length ? this.waiting.foreground : this.waiting.background;
      if (!queue.length || !this.canStart()) break;
      queue.shift()!(this.take());
    }
    if (this.waiterCount && !this.timer && this.inFlight < this.currentCeiling) this.waitForBuckets();
  }

  /** Rate-bound (not slot-bound) waiters: look again when the buckets have refilled enough. */
  private waitForBuckets(): void {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.effective;
    const needRequests = rpm && this.requestBucket < 1 ? ((1 - this.requestBucket) / rpm) * 60_000 : 0;
    const needTokens = tpm && this.tokenBucket <= 0 ? ((1 - this.tokenBucket) / tpm) * 60_000 : 0;
    const ms = Math.max(1, Math.ceil(Math.max(needRequests, needTokens)));
    this.timer = true;
    void this.clock.sleep(ms).then(() => {
      this.timer = false;
      this.pump();
    });
  }
}

export interface RetryPolicy {
  /** Total time one call may spend waiting out 429/503 answers before the error propagates. */
  maxTotalWaitMs: number;
  /** Backoff without retry-after: full jitter over base·2^n, capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxTotalWaitMs: 120_000, baseDelayMs: 500, maxDelayMs: 20_000 };

/** The answers a single call waits out: rate limits and "overloaded, try later". Other errors pass at once. */
export function isBackpressure(error: unknown): error is ProviderError {
  return error instanceof ProviderError && (error.kind === 'rate_limited' || (error.kind === 'unavailable' && (error.status === 503 || error.status === 529)));
}

export interface LimitedModelOptions {
  retry?: Partial<RetryPolicy>;
  /** Jitter source; seed it (seededRandom) for reproducible waits. */
  random?: () => number;
  clock?: Clock;
  /** Told before each wait (the activity can heartbeat or log here). */
  onBackoff?: (info: { key: string; attempt: number; waitMs: number; error: ProviderError }) => void;
  /** The calls' priority at the limiter (default foreground). */
  priority?: CallPriority;
}

/**
 * Every call of `model` goes through `limiter`. A 429/503 frees the slot, lowers the limiter's ceiling,
 * and the same call waits (retry-after, else jittered exponential backoff) and tries again; once the
 * waits would pass the policy's total, the last error propagates unchanged, for the activity boundary to
 * classify. Any other error propagates at once.
 */
export function withEndpointLimit(model: Model, limiter: EndpointLimiter, options: LimitedModelOptions = {}): Model {
  const fromEnv = parseRateLimitWaitSeconds(process.env[RATE_LIMIT_WAIT_ENV]);
  const policy = { ...DEFAULT_RETRY_POLICY, ...(fromEnv !== null ? { maxTotalWaitMs: fromEnv * 1000 } : {}), ...options.retry };
  const random = options.random ?? seededRandom(model.id);
  const clock = options.clock ?? realClock;
  return {
    id: model.id,
    async generate(request: ModelRequest): Promise<ModelResponse> {
      let waited = 0;
      for (let attempt = 0; ; attempt++) {
        const permit = await limiter.acquire(options.priority);
        let response: ModelResponse;
        try {
          response = await model.generate(request);
        } catch (e) {
          const backpressure = isBackpressure(e);
          if (backpressure) limiter.noteSignalled(e.signalled);
          permit.release({ ok: false, rateLimited: backpressure });
          if (!backpressure) throw e;
          const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
          // retry-after is the provider's word; a little jitter keeps a crowd of waiters from returning at once.
          const waitMs = e.retryAfterMs !== null ? e.retryAfterMs * (1 + 0.1 * random()) : backoff * random();
          if (waited + waitMs > policy.maxTotalWaitMs) throw e;
          options.onBackoff?.({ key: limiter.key, attempt, waitMs, error: e });
          waited += waitMs;
          await clock.sleep(waitMs);
          continue;
        }
        permit.release({ ok: true, usage: response.usage });
        return response;
      }
    },
  };
}

/**
 * Shares one process's limiters with the rest of the cluster (workers/endpoint-coordination.ts): told of
 * every limiter whose limit is the cluster's (a run's input or the default), and of one that leaves it.
 */
export interface EndpointCoordination {
  attach(limiter: EndpointLimiter, configured: boolean): void;
  detach(limiter: EndpointLimiter): void;
}

/**
 * Whether a limit is the whole cluster's: a run's input and the defaults are; HARNESSX_ENDPOINT_LIMITS is
 * this process's own (the per-process override), and the in-process simulator takes no slot anywhere.
 */
export function isClusterLimit(modelId: string, source: string): boolean {
  return !modelId.startsWith('sim:') && !source.startsWith('environment');
}

export interface LimitInForce {
  key: string;
  limit: EndpointLimit;
  /** The coordinator's share of it for this process, when coordinated. */
  share?: EndpointLimit | null;
  /** Where the limit came from: "default", `environment "openai-compatible"`, `run input "…"`. */
  source: string;
  ceiling: number;
  inFlight: number;
  stats: LimiterStats;
}

/**
 * The limiters of one process, one per endpoint (model id: provider, model and base URL). Created on first
 * use from the environment's HARNESSX_ENDPOINT_LIMITS (parsed once, a bad value throws
 * EndpointLimitsError naming the variable) and a run's input, which overrides the environment key by key.
 */
export class EndpointLimiters {
  private readonly limiters = new Map<string, { limiter: EndpointLimiter; source: string; coordinated: boolean }>();
  private coordination: EndpointCoordination | null = null;
  private readonly env: EndpointLimits;
  private readonly cpus: number;
  private readonly clock: Clock;

  constructor(options: { env?: EndpointLimits; cpus?: number; clock?: Clock } = {}) {
    this.env = options.env ?? {};
    this.cpus = options.cpus ?? availableParallelism();
    this.clock = options.clock ?? realClock;
  }

  /** The limit a model id would get, without creating its limiter. */
  resolve(modelId: string, run?: EndpointLimits): { limit: EndpointLimit; source: string } {
    return resolveEndpointLimit(modelId, { run, env: this.env }, { cpus: this.cpus });
  }

  /** The shared limiter of a model id's endpoint; a run's limits reconfigure it (the last run to ask wins). */
  limiterFor(modelId: string, run?: EndpointLimits): EndpointLimiter {
    const { limit, source } = this.resolve(modelId, run);
    const entry = this.limiters.get(modelId);
    if (entry) {
      entry.limiter.configure(limit);
      entry.source = source;
      this.coordinate(entry);
      return entry.limiter;
    }
    const created = { limiter: new EndpointLimiter(modelId, limit, this.clock), source, coordinated: false };
    this.limiters.set(modelId, created);
    this.coordinate(created);
    return created.limiter;
  }

  /** From now on, limits that are the cluster's are shared through `coordination` (once per process, at worker start). */
  useCoordination(coordination: EndpointCoordination): void {
    this.coordination = coordination;
    for (const entry of this.limiters.values()) this.coordinate(entry);
  }

  private coordinate(entry: { limiter: EndpointLimiter; source: string; coordinated: boolean }): void {
    if (!this.coordination) return;
    const cluster = isClusterLimit(entry.limiter.key, entry.source);
    if (cluster) this.coordination.attach(entry.limiter, entry.source !== 'default');
    else if (entry.coordinated) {
      this.coordination.detach(entry.limiter);
      entry.limiter.setShare(null);
    }
    entry.coordinated = cluster;
  }

  /** What status and the audit log show: every endpoint this process has talked to, and its limiter now. */
  inForce(): LimitInForce[] {
    return [...this.limiters.values()].map(({ limiter, source, coordinated }) => ({ key: limiter.key, limit: limiter.limit, ...(coordinated ? { share: limiter.share } : {}), source, ceiling: limiter.currentCeiling, inFlight: limiter.active, stats: { ...limiter.stats } }));
  }
}

/**
 * Checks HARNESSX_ENDPOINT_LIMITS and HARNESSX_RATE_LIMIT_WAIT_S as a worker or the CLI starts, before any
 * run: a bad value throws EndpointLimitsError naming the variable and what is allowed.
 */
export function checkEndpointEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  parseEndpointLimitsText(env[ENDPOINT_LIMITS_ENV]);
  parseRateLimitWaitSeconds(env[RATE_LIMIT_WAIT_ENV]);
}

let shared: EndpointLimiters | null = null;

/** The process-wide limiters: every episode of every activity in this worker shares them. */
export function sharedEndpointLimiters(): EndpointLimiters {
  shared ??= new EndpointLimiters({ env: parseEndpointLimitsText(process.env[ENDPOINT_LIMITS_ENV]) });
  return shared;
}

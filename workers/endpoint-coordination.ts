import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Client, type ClientOptions, WithStartWorkflowOperation } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { EndpointCoordination, EndpointLimiter } from '../models/endpoint-limiter';
import { sharedEndpointLimiters } from '../models/endpoint-limiter';
import { EndpointReport, LEARNED_CAPS_MEMO, LEASE_MS, RENEW_MS, RENEW_SOON_MS, ShareGrant, startingShareFromMemo } from '../models/endpoint-shares';
import { type endpointCoordinator, endpointCoordinatorId, renewEndpointLeasesUpdate } from '../workflows/endpoint-coordinator';

/** How long one renewal may take before the coordinator counts as unreachable for it. */
const RENEWAL_TIMEOUT_MS = 5_000;
/** With no grant this long after attaching, the learned cap is read from the coordinator's memo (describe). */
const MEMO_AFTER_MS = 1_000;

interface Attached {
  limiter: EndpointLimiter;
  configured: boolean;
  version: number;
  grant: number;
  /** The coordinator's last word on what this worker may use alone (0: never heard from it). */
  fallback: number;
}

/**
 * This process's side of the cluster-wide endpoint limits: renews its shares with the task queue's
 * coordinator workflow (workflows/endpoint-coordinator.ts) and applies them to its limiters. A share holds
 * for its lease (10 s from the renewal that granted it); a worker that cannot renew for that long falls back
 * to its fair part of the cap as last heard (one call if it never heard), and takes its share again once the
 * coordinator answers.
 */
export class EndpointCoordinationClient implements EndpointCoordination {
  private readonly attached = new Map<string, Attached>();
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;
  /** Asked to renew while a renewal was under way: renew again right after it. */
  private again = false;
  private dueAt = Infinity;
  private stopped = false;
  /** When the last successful renewal was sent: leases run from there (the coordinator's clock starts later). */
  private leaseFrom = 0;
  private lastRenewal = 0;
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  attach(limiter: EndpointLimiter, configured: boolean): void {
    if (this.stopped) return;
    const known = this.attached.get(limiter.key);
    if (known) {
      known.configured = configured;
      return;
    }
    this.attached.set(limiter.key, { limiter, configured, version: 0, grant: 0, fallback: 0 });
    // Nothing is sent until the coordinator grants a share (or the lease of silence passes).
    limiter.setShare({ maxInFlight: 0 });
    limiter.onWaiting = () => this.renewSoon();
    this.schedule(0);
    const memoTimer = setTimeout(() => void this.startFromMemo(limiter.key), MEMO_AFTER_MS);
    memoTimer.unref();
  }

  /**
   * No grant yet (the coordinator's workflow task is slow: its last worker died and the task waits out the
   * sticky queue): start at the fair part of the learned cap its memo records, as a worker cut off would.
   * Endpoints with a configured limit, or nothing learned, keep waiting for their grant.
   */
  private async startFromMemo(key: string): Promise<void> {
    const entry = this.attached.get(key);
    if (!entry || entry.version !== 0 || this.stopped) return;
    let memo: Record<string, unknown> | undefined;
    try {
      memo = (await withTimeout(this.client.workflow.getHandle(endpointCoordinatorId(this.taskQueue)).describe(), RENEWAL_TIMEOUT_MS)).memo;
    } catch {
      return;
    }
    const share = startingShareFromMemo(memo?.[LEARNED_CAPS_MEMO], key);
    // A grant that arrived meanwhile wins.
    if (share === null || entry.version !== 0 || this.stopped) return;
    entry.fallback = share;
    // What it applies now, so the coordinator counts it when it hears from this worker.
    entry.grant = share;
    entry.version = -1;
    entry.limiter.setShare({ maxInFlight: share });
  }

  detach(limiter: EndpointLimiter): void {
    if (this.attached.delete(limiter.key)) limiter.onWaiting = undefined;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A call is waiting: renew early if the last renewal is not recent (at most every RENEW_SOON_MS). */
  private renewSoon(): void {
    const since = Date.now() - this.lastRenewal;
    this.schedule(Math.max(0, RENEW_SOON_MS - since));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    const due = Date.now() + ms;
    // A renewal already due sooner stands; a later one is brought forward.
    if (this.timer && this.dueAt <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.renew();
    }, ms);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.renewing) {
      this.again = true;
      return;
    }
    if (this.stopped || this.attached.size === 0) return;
    this.renewing = true;
    const sentAt = Date.now();
    this.lastRenewal = sentAt;
    let next = RENEW_MS;
    try {
      const entries = [...this.attached.values()];
      const endpoints: EndpointReport[] = entries.map(({ limiter, configured, version, grant }) => {
        const taken = limiter.takeReport();
        return { key: limiter.key, limit: limiter.limit, configured, limitSetAt: limiter.limitSetAt, wanted: taken.wanted, active: taken.active, appliedVersion: version, appliedGrant: grant, refusedAt: taken.refusedAt, ...(taken.signalled ? { signalled: taken.signalled } : {}) };
      });
      const sentVersions = new Map(entries.map((e) => [e.limiter.key, e.version]));
      const grants = await withTimeout(this.send(endpoints), RENEWAL_TIMEOUT_MS);
      this.leaseFrom = sentAt;
      for (const grant of grants) next = Math.min(next, this.apply(grant, sentVersions.get(grant.key)));
    } catch {
      // Unreachable (or too slow): shares hold for their lease, then the fallback; renewals go on.
      this.fallBackIfExpired();
    } finally {
      this.renewing = false;
      this.schedule(this.again ? RENEW_SOON_MS : next);
      this.again = false;
    }
  }

  private send(endpoints: EndpointReport[]): Promise<ShareGrant[]> {
    const workflowId = endpointCoordinatorId(this.taskQueue);
    return this.client.workflow.executeUpdateWithStart(renewEndpointLeasesUpdate, {
      args: [{ workerId: this.workerId, endpoints }],
      startWorkflowOperation: new WithStartWorkflowOperation<typeof endpointCoordinator>('endpointCoordinator', { workflowId, taskQueue: this.taskQueue, args: [{}], workflowIdConflictPolicy: 'USE_EXISTING' }),
    });
  }

  private apply(grant: ShareGrant, sentVersion: number | undefined): number {
    const entry = this.attached.get(grant.key);
    if (!entry) return RENEW_MS;
    // The worker moved to a share of its own (the memo's) after this renewal was sent: the grant answers a
    // report that no longer holds (it may be 0: nothing was wanted then). Tell the coordinator what it applies now.
    if (sentVersion !== undefined && entry.version !== sentVersion) return RENEW_SOON_MS;
    entry.version = grant.version;
    entry.grant = grant.share.maxInFlight;
    entry.fallback = grant.fallback;
    entry.limiter.setShare(grant.share);
    return grant.renewInMs;
  }

  private fallBackIfExpired(): void {
    if (Date.now() - this.leaseFrom <= LEASE_MS && this.leaseFrom > 0) return;
    for (const entry of this.attached.values()) {
      const alone = Math.max(1, entry.fallback);
      entry.limiter.setShare({ maxInFlight: alone });
      // What it applies now, so a coordinator that comes back counts it.
      entry.grant = alone;
      entry.version = -1;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

export const ENDPOINT_COORDINATION_ENV = 'HARNESSX_ENDPOINT_COORDINATION';
let installed: EndpointCoordinationClient | null = null;

/**
 * Shares this process's cluster-wide endpoint limits through the task queue's coordinator
 * (HARNESSX_ENDPOINT_COORDINATION=off keeps every limit per process, as before). The limiters are the
 * process's, so the latest worker created in a process is the one that coordinates them (tests and the
 * bench create several, one after another).
 */
export function installEndpointCoordination(options: { connection: NativeConnection; namespace: string; taskQueue: string; dataConverter?: ClientOptions['dataConverter'] }): EndpointCoordinationClient | null {
  if (process.env[ENDPOINT_COORDINATION_ENV] === 'off') return null;
  installed?.stop();
  const client = new Client({ connection: options.connection, namespace: options.namespace, ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}) });
  installed = new EndpointCoordinationClient(client, options.taskQueue);
  sharedEndpointLimiters().useCoordination(installed);
  return installed;
}

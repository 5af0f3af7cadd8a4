import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { heartbeat, noteStoreWait } from '../../activities/activity-context';
import { activityOutagePolicy } from '../../activities/store-outage';
import { progressLine, storeWaitOf } from '../../cli/progress-line';
import { statusLines } from '../../cli/status-lines';
import { isTransientStoreError, OutagePolicy, outageBudgetMs, retryDelay, StoreUnavailableError, transientReason, waitOutOutage } from '../../store/outage';
import { describeS3Error, S3Store } from '../../store/s3-store';

/** A fake clock whose sleep advances it: a 10-minute outage is waited out in microseconds. */
function fakeClock(start = Date.parse('2026-12-07T05:00:00Z')) {
  const clock = { t: start, slept: [] as number[] };
  return { clock, now: () => clock.t, sleep: async (ms: number) => void (clock.slept.push(ms), (clock.t += ms)) };
}

/** A call that fails with `failure()` until the clock reaches `until`, then answers "ok". */
function failingUntil(clockRef: { t: number }, until: number, failure: () => Error) {
  let calls = 0;
  const call = async () => {
    calls++;
    if (clockRef.t < until) throw failure();
    return 'ok';
  };
  return { call, calls: () => calls };
}

const refused = () => new StoreUnavailableError('cannot reach the S3 endpoint http://127.0.0.1:9 (ECONNREFUSED) to write s3://b/k: check AWS_ENDPOINT_URL_S3', 'ECONNREFUSED');
const MIN = 60_000;

describe('waitOutOutage (pure, with a fake clock)', () => {
  test('a 10-minute outage is waited out within a 15-minute budget: the call answers, with backoff capped at 5 s', async () => {
    const { clock, now, sleep } = fakeClock();
    const start = clock.t;
    const target = failingUntil(clock, start + 10 * MIN, refused);
    const waits: number[] = [];
    let recovered = 0;
    const result = await waitOutOutage(target.call, { budgetMs: 15 * MIN, now, sleep, onWait: (w) => waits.push(w.sinceMs), onRecovered: () => recovered++ });
    expect(result).toBe('ok');
    expect(clock.t - start).toBeGreaterThanOrEqual(10 * MIN);
    expect(clock.t - start).toBeLessThan(10 * MIN + 5_001);
    expect(clock.slept.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 5000]);
    expect(Math.max(...clock.slept)).toBe(5000);
    // Every wait reports the same start (the status line's "since"), and recovery is reported once.
    expect(new Set(waits)).toEqual(new Set([start]));
    expect(recovered).toBe(1);
  });

  test('past the budget the call fails with `exhausted`; without one, with the store error itself', async () => {
    const { clock, now, sleep } = fakeClock();
    const start = clock.t;
    const never = failingUntil(clock, Infinity, refused);
    const policy: OutagePolicy = { budgetMs: 10 * MIN, now, sleep, exhausted: (e, since) => new Error(`gave up after ${(now() - since) / MIN} min: ${e.reason}`) };
    await expect(waitOutOutage(never.call, policy)).rejects.toThrow(/^gave up after 10 min: ECONNREFUSED$/);
    expect(clock.t - start).toBe(10 * MIN);
    const plain = failingUntil(clock, Infinity, refused);
    await expect(waitOutOutage(plain.call, { budgetMs: MIN, now, sleep })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  test('a non-transient failure (403, missing bucket) fails at once: one call, no wait', async () => {
    const { clock, now, sleep } = fakeClock();
    const denied = failingUntil(clock, Infinity, () => new Error('the S3 endpoint http://x denied access (AccessDenied) to write s3://b/k'));
    await expect(waitOutOutage(denied.call, { budgetMs: 15 * MIN, now, sleep })).rejects.toThrow(/denied access \(AccessDenied\)/);
    expect(denied.calls()).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  test('an attempt stops waiting before its deadline (retryable), and the next one continues from the earlier start', async () => {
    const { clock, now, sleep } = fakeClock();
    const start = clock.t;
    const target = failingUntil(clock, start + 3 * MIN, refused);
    // Attempt 1 may wait one minute: it fails with the store's (retryable) error before its deadline.
    await expect(waitOutOutage(target.call, { budgetMs: 2 * MIN, now, sleep, attemptDeadline: () => start + MIN })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(clock.t).toBeLessThanOrEqual(start + MIN);
    // Attempt 2 knows the outage began at `start` (the heartbeat details): the 2-minute budget ends at start + 2 min.
    clock.t = start + 70_000;
    await expect(waitOutOutage(target.call, { budgetMs: 2 * MIN, now, sleep, since: () => start, exhausted: () => new Error('budget spent') })).rejects.toThrow('budget spent');
    expect(clock.t).toBe(start + 2 * MIN);
  });

  test('a cancelled attempt stops waiting; no policy means one call (the CLI fails fast)', async () => {
    const { clock, now, sleep } = fakeClock();
    const target = failingUntil(clock, Infinity, refused);
    await expect(waitOutOutage(target.call, { budgetMs: 15 * MIN, now, sleep, cancelled: () => true })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(target.calls()).toBe(1);
    const once = failingUntil(clock, Infinity, refused);
    await expect(waitOutOutage(once.call, null)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(once.calls()).toBe(1);
  });

  test('retryDelay doubles from 0.5 s and stays at 5 s', () => {
    expect([0, 1, 2, 3, 4, 5, 50].map(retryDelay)).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });
});

describe('which store failures are transient', () => {
  test('connection refused or reset, timeouts, 5xx, 507 and slow-downs are; 403, 404, a missing bucket and DNS failures are not', () => {
    expect(transientReason('ECONNREFUSED', '', undefined)).toBe('ECONNREFUSED');
    expect(transientReason('ECONNRESET', '', undefined)).toBe('ECONNRESET');
    expect(transientReason('ETIMEDOUT', 'TimeoutError', undefined)).toBe('ETIMEDOUT');
    expect(transientReason(undefined, 'ServiceUnavailable', 503)).toBe('HTTP 503 ServiceUnavailable');
    expect(transientReason(undefined, 'InternalError', 500)).toBe('HTTP 500 InternalError');
    expect(transientReason(undefined, '', 507)).toMatch(/^HTTP 507 \(the store's disk is full\)$/);
    expect(transientReason(undefined, 'SlowDown', undefined)).toBe('SlowDown');
    expect(transientReason('ENOTFOUND', '', undefined)).toBeNull();
    expect(transientReason(undefined, 'AccessDenied', 403)).toBeNull();
    expect(transientReason(undefined, 'NoSuchBucket', 404)).toBeNull();
    expect(transientReason(undefined, 'SignatureDoesNotMatch', 403)).toBeNull();
  });

  const settings = { bucket: 'b', prefix: 'p', endpoint: 'http://127.0.0.1:9', region: 'us-east-1' };
  const s3Error = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  test('describeS3Error keeps its messages and marks only transient failures', () => {
    const refusedError = describeS3Error(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), settings, 'write', 's3://b/p/k');
    expect(refusedError.message).toMatch(/^cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\) to write s3:\/\/b\/p\/k: check AWS_ENDPOINT_URL_S3/);
    expect(isTransientStoreError(refusedError)).toBe(true);
    const full = describeS3Error(s3Error('InsufficientStorage', 507), settings, 'write', 's3://b/p/k');
    expect(full.message).toMatch(/HTTP 507: its disk is full\)$/);
    expect(isTransientStoreError(full)).toBe(true);
    const denied = describeS3Error(s3Error('AccessDenied', 403), settings, 'write', 's3://b/p/k');
    expect(denied.message).toMatch(/denied access \(AccessDenied\) to write s3:\/\/b\/p\/k/);
    expect(isTransientStoreError(denied)).toBe(false);
    const noBucket = describeS3Error(s3Error('NoSuchBucket', 404), settings, 'write', 's3://b/p/k');
    expect(noBucket.message).toMatch(/the bucket "b" does not exist/);
    expect(isTransientStoreError(noBucket)).toBe(false);
    // A plain error that merely claims to be transient is not taken for one unless it is an Error with the flag.
    expect(isTransientStoreError({ transient: true, message: 'x' })).toBe(false);
  });

  test('an S3Store with an outage policy retries each request on its own through an outage; a 403 fails at once', async () => {
    const { clock, now, sleep } = fakeClock();
    const start = clock.t;
    const sent: string[] = [];
    let mode: 'down' | 'up' | 'denied' = 'down';
    const client = {
      send: async (command: { constructor: { name: string } }) => {
        sent.push(command.constructor.name);
        if (mode === 'denied') throw s3Error('AccessDenied', 403);
        if (clock.t < start + 2 * MIN) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
        if (command.constructor.name === 'HeadObjectCommand') throw s3Error('NotFound', 404);
        return {};
      },
    };
    const base = new S3Store(client as never, settings);
    // Without a policy (the CLI) the first refusal is the error, at once.
    await expect(base.cacheSet('ns', 'k', { v: 1 })).rejects.toThrow(/ECONNREFUSED/);
    expect(sent).toEqual(['PutObjectCommand']);
    sent.length = 0;
    const waits: string[] = [];
    const store = base.withOutagePolicy({ budgetMs: 15 * MIN, now, sleep, onWait: (w) => waits.push(w.reason) });
    await store.put({ a: 1 });
    // The HEAD was retried through the outage, then the PUT went once.
    expect(sent.filter((c) => c === 'PutObjectCommand')).toHaveLength(1);
    expect(sent.filter((c) => c === 'HeadObjectCommand').length).toBeGreaterThan(10);
    expect(new Set(waits)).toEqual(new Set(['ECONNREFUSED']));
    mode = 'denied';
    sent.length = 0;
    await expect(store.cacheSet('ns', 'k', { v: 1 })).rejects.toThrow(/denied access \(AccessDenied\)/);
    expect(sent).toHaveLength(1);
  });

  test('HARNESSX_STORE_OUTAGE_MINUTES: default 15, 0 allowed, nonsense named', () => {
    expect(outageBudgetMs({})).toBe(15 * MIN);
    expect(outageBudgetMs({ HARNESSX_STORE_OUTAGE_MINUTES: '30' })).toBe(30 * MIN);
    expect(outageBudgetMs({ HARNESSX_STORE_OUTAGE_MINUTES: '0' })).toBe(0);
    expect(() => outageBudgetMs({ HARNESSX_STORE_OUTAGE_MINUTES: 'ten' })).toThrow(/^HARNESSX_STORE_OUTAGE_MINUTES="ten" is not a number of minutes/);
    expect(() => outageBudgetMs({ HARNESSX_STORE_OUTAGE_MINUTES: '-5' })).toThrow(/HARNESSX_STORE_OUTAGE_MINUTES/);
  });
});

describe('in an activity: heartbeats while waiting, the wait in the details, the progress kept', () => {
  test('noteStoreWait adds the wait to the last progress details and removes it on recovery', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const progress = { rollouts: { key: { done: 3, total: 8, finished: [] } } };
    await env.run(async () => {
      heartbeat(progress);
      noteStoreWait({ since: '2026-12-07T05:00:00.000Z', reason: 'ECONNREFUSED' });
      heartbeat(progress); // the progress reporter's timer, during the wait
      noteStoreWait(null);
    });
    expect(beats).toEqual([
      progress,
      { ...progress, storeWait: { since: '2026-12-07T05:00:00.000Z', reason: 'ECONNREFUSED' } },
      { ...progress, storeWait: { since: '2026-12-07T05:00:00.000Z', reason: 'ECONNREFUSED' } },
      progress,
    ]);
  });

  test("a retried attempt's first wait keeps the previous attempt's progress and its outage start", async () => {
    const earlier = { rollouts: { key: { done: 5, total: 8, finished: [] } }, storeWait: { since: '2026-12-07T05:00:00.000Z', reason: 'ECONNREFUSED' } };
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: earlier, startToCloseTimeoutMs: 600_000, currentAttemptScheduledTimestampMs: Date.now() });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const policy = activityOutagePolicy(15 * MIN);
    const { since, attemptDeadline } = (await env.run(async () => ({ since: policy.since!(), attemptDeadline: policy.attemptDeadline!() }))) as { since: number | null; attemptDeadline: number | null };
    expect(since).toBe(Date.parse('2026-12-07T05:00:00.000Z'));
    expect(attemptDeadline).toBeGreaterThan(Date.now() + 590_000);
    await env.run(async () => policy.onWait!({ sinceMs: since!, reason: 'HTTP 503', message: 'm', retries: 1 }));
    expect(beats).toEqual([{ rollouts: earlier.rollouts, storeWait: { since: '2026-12-07T05:00:00.000Z', reason: 'HTTP 503' } }]);
  });

  test("a bare keep-alive heartbeat re-sends the progress (this attempt's last, else the previous attempt's) instead of wiping it", async () => {
    const earlier = { rollouts: { key: { done: 5, total: 8, finished: [] } }, storeWait: { since: '2026-12-07T05:00:00.000Z', reason: 'ECONNREFUSED' } };
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: earlier });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const now = { rollouts: { key: { done: 6, total: 8, finished: [] } } };
    await env.run(async () => {
      heartbeat();
      heartbeat(now);
      heartbeat();
    });
    expect(beats).toEqual([{ rollouts: earlier.rollouts }, now, now]);
  });

  test('past the budget the activity fails for good (non-retryable), naming the setting', () => {
    const failure = activityOutagePolicy(10 * MIN).exhausted!(refused(), Date.now() - 10 * MIN);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).nonRetryable).toBe(true);
    expect(failure.message).toMatch(/^the artifact store has been unavailable since .* \(10 min; HARNESSX_STORE_OUTAGE_MINUTES=10 on the worker allows longer\): cannot reach the S3 endpoint/);
  });
});

describe('the run shows the wait', () => {
  const wait = { since: '2026-12-07T05:12:03.000Z', reason: 'ECONNREFUSED' };

  test('the progress line and `status` say "waiting for the artifact store since …"', () => {
    expect(storeWaitOf({ rollouts: {}, storeWait: wait })).toEqual(wait);
    expect(storeWaitOf({ rollouts: {} })).toBeNull();
    expect(storeWaitOf({ storeWait: { since: 'yesterday', reason: 'x' } })).toBeNull();
    const line = progressLine({ elapsedSeconds: 83, where: 'round 2/4 · gate', flight: null, etaSeconds: null, counts: 'shipped 1', storeWait: wait }, 120);
    expect(line).toBe('[1:23] round 2/4 · gate · waiting for the artifact store since 05:12:03 UTC (ECONNREFUSED) · shipped 1');
    const lines = statusLines({ workflowId: 'r', workflowStatus: 'RUNNING', startTime: new Date('2026-12-07T05:00:00Z'), elapsedSeconds: 60, live: null, result: null, note: null, storeWait: wait, webUi: 'http://ui' });
    expect(lines).toContain('waiting for the artifact store since 05:12:03 UTC (ECONNREFUSED): the run goes on once it answers');
    expect(statusLines({ workflowId: 'r', workflowStatus: 'RUNNING', startTime: new Date(), elapsedSeconds: 60, live: null, result: null, note: null, webUi: 'u' }).join('\n')).not.toMatch(/artifact store/);
  });
});

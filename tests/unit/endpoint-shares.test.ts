import { hashUniform } from '../../harness/canonical';
import { EndpointLimiter } from '../../models/endpoint-limiter';
import { capOf, divide, emptyShareState, EndpointReport, EndpointShareState, learnedCapsMemo, LEASE_MS, parseSignalledLimits, PROBE_UP_MS, RECLAIM_MARGIN_MS, renewShare, shareOf, startingShareFromMemo } from '../../models/endpoint-shares';
import { classifyProviderError } from '../../models/errors';

const KEY = 'openai-compatible:m@http://10.0.0.1:8000/v1';

/** A worker as the coordinator sees it: what it applies, what it runs, what it wants. */
interface SimWorker {
  id: string;
  version: number;
  grant: number;
  active: number;
  wanted: number;
  refusedAt: number[];
  /** A grant answered but not applied yet (the reply is still on its way). */
  pending: { version: number; grant: number } | null;
  alive: boolean;
}

function report(w: SimWorker, limit = 64, configured = true): EndpointReport {
  return { key: KEY, limit: { maxInFlight: limit }, configured, limitSetAt: 1, wanted: w.wanted, active: w.active, appliedVersion: w.version, appliedGrant: w.grant, refusedAt: w.refusedAt.splice(0) };
}

function worker(id: string, wanted: number): SimWorker {
  return { id, version: 0, grant: 0, active: 0, wanted, refusedAt: [], pending: null, alive: true };
}

/**
 * Random interleavings of renewals, delayed replies and calls starting and ending: a worker starts calls
 * only under the grant it applies, and the calls in flight across the cluster never pass the cap.
 */
function simulate(seed: string, steps: number, workers: SimWorker[], state: EndpointShareState, startAt = 0): { peak: number; now: number } {
  let now = startAt;
  let peak = 0;
  const cap = capOf(state);
  const lastRenewal = new Map<string, number>();
  const renew = (w: SimWorker) => {
    // A reply is applied before the worker renews again (the client never overlaps renewals).
    if (w.pending) {
      w.version = w.pending.version;
      w.grant = w.pending.grant;
      w.pending = null;
    }
    const g = renewShare(state, w.id, report(w), now);
    w.pending = { version: g.version, grant: g.share.maxInFlight };
    lastRenewal.set(w.id, now);
  };
  for (let step = 0; step < steps; step++) {
    now += Math.floor(hashUniform('dt', seed, step) * 300);
    // A live worker renews well within its lease (every second; here at the latest after half of it).
    for (const x of workers) if (x.alive && now - (lastRenewal.get(x.id) ?? now) > LEASE_MS / 2) renew(x);
    const w = workers[Math.floor(hashUniform('who', seed, step) * workers.length)];
    if (!w.alive) continue;
    const action = hashUniform('what', seed, step);
    if (action < 0.3) renew(w);
    else if (action < 0.45 && w.pending) {
      w.version = w.pending.version;
      w.grant = w.pending.grant;
      w.pending = null;
    } else if (action < 0.75) {
      // Calls start, up to what the applied grant and the demand allow.
      w.active = Math.max(w.active, Math.min(w.grant, w.wanted));
    } else {
      w.active = Math.floor(w.active * hashUniform('end', seed, step));
    }
    if (hashUniform('demand', seed, step) < 0.05) w.wanted = Math.floor(hashUniform('wanted', seed, step) * 100);
    const inFlight = workers.filter((x) => x.alive).reduce((s, x) => s + x.active, 0);
    peak = Math.max(peak, inFlight);
    expect(inFlight).toBeLessThanOrEqual(cap);
  }
  return { peak, now };
}

describe('cluster-wide endpoint shares', () => {
  test('water-filling: equal parts up to each demand, the rest to the busy, nothing to the idle; by id, not arrival', () => {
    expect(divide(64, { a: 100, b: 100, c: 100, d: 100 })).toEqual({ a: 16, b: 16, c: 16, d: 16 });
    expect(divide(64, { a: 4, b: 100, c: 0 })).toEqual({ a: 4, b: 60, c: 0 });
    // Nobody wants all of it: the leftover stays with the busy workers.
    expect(divide(64, { a: 4, b: 10 })).toEqual({ a: 29, b: 35 });
    expect(divide(3, { d: 9, c: 9, b: 9, a: 9 })).toEqual({ a: 1, b: 1, c: 1, d: 0 });
    expect(divide(10, { a: 0 })).toEqual({ a: 0 });
  });

  test.each(['s1', 's2', 's3', 's4'])('never above the cap in any interleaving of renewals, replies and calls (%s)', (seed) => {
    const workers = ['h1-p1', 'h1-p2', 'h2-p1', 'h2-p2'].map((id, i) => worker(id, 10 + 30 * i));
    const state = emptyShareState(report(workers[0]), 0);
    const { peak } = simulate(seed, 3000, workers, state);
    // The cluster did use the endpoint (an empty run would pass the bound trivially).
    expect(peak).toBeGreaterThan(48);
  });

  test('four busy workers converge to equal shares that add up to the limit', () => {
    const workers = ['a', 'b', 'c', 'd'].map((id) => worker(id, 200));
    const state = emptyShareState(report(workers[0]), 0);
    for (let round = 0; round < 4; round++)
      for (const w of workers) {
        const g = renewShare(state, w.id, report(w), round * 1000);
        w.version = g.version;
        w.grant = g.share.maxInFlight;
        w.active = w.grant;
      }
    expect(workers.map((w) => w.grant)).toEqual([16, 16, 16, 16]);
  });

  test('a worker that joins gets a share once the others hand theirs back; a dead one’s share goes to the rest after its lease', () => {
    const [a, b] = [worker('a', 200), worker('b', 200)];
    const state = emptyShareState(report(a), 0);
    const renew = (w: SimWorker, now: number) => {
      const g = renewShare(state, w.id, report(w), now);
      w.version = g.version;
      w.grant = g.share.maxInFlight;
      w.active = w.grant;
      return g;
    };
    expect(renew(a, 0).share.maxInFlight).toBe(64);
    // b joins while a holds everything: nothing for b yet, and it is told to ask again soon.
    const first = renew(b, 100);
    expect(first.share.maxInFlight).toBe(0);
    expect(first.renewInMs).toBeLessThan(1000);
    expect(renew(a, 1000).share.maxInFlight).toBe(32); // a shrinks; its bound stays 64 until it acknowledges
    expect(renew(b, 1100).share.maxInFlight).toBe(0);
    a.active = 30;
    renew(a, 2000);
    expect(renew(b, 2100).share.maxInFlight).toBe(32);
    // b dies: a gets everything back only after b's lease and the margin.
    expect(renew(a, 2100 + LEASE_MS).share.maxInFlight).toBe(32);
    expect(renew(a, 2200 + LEASE_MS + RECLAIM_MARGIN_MS).share.maxInFlight).toBe(64);
    expect(Object.keys(state.workers)).toEqual(['a']);
  });

  test('an idle worker lends its share, and takes part of it back when it needs calls again', () => {
    const [a, b] = [worker('a', 200), worker('b', 0)];
    const state = emptyShareState(report(a), 0);
    for (const now of [0, 500, 1000]) for (const w of [a, b]) {
      const g = renewShare(state, w.id, report(w), now);
      [w.version, w.grant, w.active] = [g.version, g.share.maxInFlight, Math.min(g.share.maxInFlight, w.wanted)];
    }
    expect([a.grant, b.grant]).toEqual([64, 0]);
    b.wanted = 100;
    for (const now of [1500, 2000, 2500]) for (const w of [b, a]) {
      const g = renewShare(state, w.id, report(w), now);
      [w.version, w.grant, w.active] = [g.version, g.share.maxInFlight, Math.min(g.share.maxInFlight, w.wanted)];
    }
    expect([a.grant, b.grant]).toEqual([32, 32]);
  });

  test('a restarted coordinator (empty state) counts the grants workers still apply, and stays under the cap', () => {
    const workers = ['a', 'b', 'c'].map((id) => worker(id, 100));
    const before = emptyShareState(report(workers[0]), 0);
    const { now } = simulate('restart-1', 500, workers, before);
    // The coordinator's state is lost; workers keep what they apply and report it.
    const after = emptyShareState(report(workers[0]), now);
    simulate('restart-2', 1500, workers, after, now);
    for (const w of workers) w.wanted = 100;
    // Each worker keeps its grant through the restart: the first renewal to the new coordinator does not take it away.
    const fresh = emptyShareState(report(workers[0]), 0);
    const w = workers[0];
    if (w.pending) [w.version, w.grant, w.pending] = [w.pending.version, w.pending.grant, null];
    w.active = w.grant;
    expect(renewShare(fresh, w.id, report(w), 0).share.maxInFlight).toBeGreaterThanOrEqual(Math.min(w.grant, 64));
  });

  test('refusals teach the cluster the endpoint’s cap in one step, and later renewals start at it', () => {
    const [a, b] = [worker('a', 200), worker('b', 200)];
    const state = emptyShareState(report(a, 32, false), 0);
    renewShare(state, 'a', report(a, 32, false), 0);
    renewShare(state, 'b', { ...report(b, 32, false), active: 4 }, 0);
    // a had 5 in flight (with b's 4) when its call was refused: the endpoint takes 8.
    a.refusedAt.push(5);
    const g = renewShare(state, 'a', { ...report(a, 32, false), active: 4 }, 100);
    expect(state.learned.maxInFlight).toBe(8);
    expect(g.cap).toBe(8);
    expect(capOf(state)).toBe(8);
  });

  test('a learned cap outlives the worker, the run and continue-as-new: the next run’s first grant is the cap, not the default', () => {
    const a = worker('a', 200);
    const state = emptyShareState(report(a, 32, false), 0);
    renewShare(state, 'a', report(a, 32, false), 0);
    a.refusedAt.push(9, 12, 20);
    renewShare(state, 'a', report(a, 32, false), 500);
    expect(capOf(state)).toBe(8);
    // Continue-as-new: the state is the next run's input (plain JSON through the data converter).
    const carried = JSON.parse(JSON.stringify(state)) as EndpointShareState;
    // Worker a is gone (killed with its process); a new process starts a new run, with no limit set either
    // (a later limitSetAt: the newest setting wins, and it is still the default).
    const b = worker('b', 200);
    const later = LEASE_MS + RECLAIM_MARGIN_MS + 1000;
    const first = renewShare(carried, 'b', { ...report(b, 32, false), limitSetAt: 2 }, later);
    expect(Object.keys(carried.workers)).toEqual(['b']);
    expect(first.cap).toBe(8);
    expect(first.share.maxInFlight).toBe(8);
    // A state that learned nothing grants the default: the cap above came from what was learned.
    const fresh = emptyShareState(report(b, 32, false), later);
    expect(renewShare(fresh, 'b', report(b, 32, false), later).share.maxInFlight).toBe(32);
    // A configured limit above the learned cap stays under it (a limit set above the provider's cap is what learning corrects).
    expect(renewShare(carried, 'b', { ...report(b, 64, true), limitSetAt: 3 }, later + 100).cap).toBe(8);
  });

  test('an idle spell between runs is not quiet saturation: the next run starts at the learned cap, and probes only after 10 s full', () => {
    const a = worker('a', 200);
    const state = emptyShareState(report(a, 32, false), 0);
    renewShare(state, 'a', report(a, 32, false), 0);
    a.refusedAt.push(9);
    renewShare(state, 'a', report(a, 32, false), 500);
    // The run ends: a wants nothing for a while, then a new run keeps it full.
    a.wanted = 0;
    for (let t = 1000; t <= 30_000; t += 1000) renewShare(state, 'a', report(a, 32, false), t);
    a.wanted = 200;
    renewShare(state, 'a', report(a, 32, false), 31_000);
    expect(capOf(state)).toBe(8);
    // Quiet time runs from the last renewal that did not keep the endpoint full (30 s).
    renewShare(state, 'a', report(a, 32, false), 30_000 + PROBE_UP_MS - 1);
    expect(capOf(state)).toBe(8);
    renewShare(state, 'a', report(a, 32, false), 30_000 + PROBE_UP_MS + 1);
    expect(capOf(state)).toBe(10);
  });

  test('the memo carries learned caps of endpoints nobody set a limit for; a new worker starts at its fair part of one', () => {
    const a = worker('a', 200);
    const unset = emptyShareState(report(a, 32, false), 0);
    renewShare(unset, 'a', report(a, 32, false), 0);
    renewShare(unset, 'b', report(worker('b', 200), 32, false), 0);
    a.refusedAt.push(13);
    renewShare(unset, 'a', report(a, 32, false), 100);
    const set = emptyShareState(report(a, 64, true), 0);
    renewShare(set, 'a', report(a, 64, true), 0);
    a.refusedAt.push(20);
    renewShare(set, 'a', report(a, 64, true), 100);
    expect(capOf(set)).toBe(19);
    const nothing = emptyShareState(report(a, 32, false), 0);
    const memo = JSON.parse(JSON.stringify(learnedCapsMemo({ 'x:unset': unset, 'x:set': set, 'x:nothing': nothing })));
    // Only what was learned where nobody set a limit: a configured limit is never passed on a guess.
    expect(memo).toEqual({ 'x:unset': { cap: 12, workers: 2 } });
    expect(startingShareFromMemo(memo, 'x:unset')).toBe(6);
    expect(startingShareFromMemo(memo, 'x:set')).toBeNull();
    // Whatever else a memo holds is not taken for a cap.
    for (const bad of [undefined, null, 'x', { 'x:unset': { cap: 0, workers: 1 } }, { 'x:unset': { cap: 8.5, workers: 1 } }, { 'x:unset': { cap: '8', workers: 1 } }, { 'x:unset': { cap: 8 } }]) expect(startingShareFromMemo(bad, 'x:unset')).toBeNull();
    expect(startingShareFromMemo({ k: { cap: 3, workers: 8 } }, 'k')).toBe(1);
  });

  test('a default cap is probed upward only after a quiet, saturated while; a configured one is never passed', () => {
    const a = worker('a', 200);
    const unset = emptyShareState(report(a, 32, false), 0);
    renewShare(unset, 'a', report(a, 32, false), 1000);
    expect(capOf(unset)).toBe(32);
    renewShare(unset, 'a', report(a, 32, false), PROBE_UP_MS + 1);
    expect(capOf(unset)).toBe(40);
    const set = emptyShareState(report(a, 32, true), 0);
    for (const now of [PROBE_UP_MS + 1, 3 * PROBE_UP_MS]) renewShare(set, 'a', report(a, 32, true), now);
    expect(capOf(set)).toBe(32);
  });

  test('per-minute limits are shared in proportion; announced ones (headers) cap configured ones', () => {
    const state = emptyShareState({ ...report(worker('a', 1)), limit: { maxInFlight: 8, requestsPerMinute: 600, tokensPerMinute: 80_000 } }, 0);
    expect(shareOf(state, 2)).toEqual({ maxInFlight: 2, requestsPerMinute: 150, tokensPerMinute: 20_000 });
    state.learned.tokensPerMinute = 40_000;
    expect(shareOf(state, 4)).toEqual({ maxInFlight: 4, requestsPerMinute: 300, tokensPerMinute: 20_000 });
    expect(shareOf(state, 0)).toEqual({ maxInFlight: 0, requestsPerMinute: 0, tokensPerMinute: 0 });
  });

  test('rate-limit headers of OpenAI and Anthropic reach the provider error', () => {
    expect(parseSignalledLimits({ 'x-ratelimit-limit-requests': '500', 'x-ratelimit-limit-tokens': '30000' })).toEqual({ requestsPerMinute: 500, tokensPerMinute: 30_000 });
    expect(parseSignalledLimits(new Headers({ 'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-input-tokens-limit': '40000', 'anthropic-ratelimit-output-tokens-limit': '8000' }))).toEqual({ requestsPerMinute: 50, tokensPerMinute: 48_000 });
    expect(parseSignalledLimits({ 'retry-after': '1' })).toBeNull();
    expect(parseSignalledLimits({ 'x-ratelimit-limit-requests': 'lots' })).toBeNull();
    const error = classifyProviderError({ status: 429, message: 'slow down', headers: { 'retry-after-ms': '200', 'anthropic-ratelimit-tokens-limit': '90000' } }, 'anthropic', 'claude');
    expect(error.signalled).toEqual({ tokensPerMinute: 90_000 });
    expect(error.retryAfterMs).toBe(200);
  });

  test('a limiter under a share: nothing while it is 0, more at once when it grows, a report of what it wanted', async () => {
    const limiter = new EndpointLimiter(KEY, { maxInFlight: 64 });
    limiter.setShare({ maxInFlight: 0 });
    let waited = 0;
    limiter.onWaiting = () => waited++;
    const permits = Array.from({ length: 5 }, () => limiter.acquire());
    await Promise.resolve();
    expect(limiter.active).toBe(0);
    expect(waited).toBe(5);
    expect(limiter.takeReport()).toMatchObject({ wanted: 5, active: 0 });
    limiter.setShare({ maxInFlight: 3 });
    expect(limiter.active).toBe(3);
    limiter.setShare({ maxInFlight: 1 });
    // A smaller share cuts nothing short: the three run on, and no new call starts until fewer than one remain.
    const granted = await Promise.all(permits.slice(0, 3));
    granted[0].release({ ok: true });
    granted[1].release({ ok: true });
    expect(limiter.active).toBe(1);
    granted[2].release({ ok: false, rateLimited: true });
    expect(limiter.active).toBe(1);
    expect(limiter.takeReport()).toMatchObject({ refusedAt: [3] });
    limiter.setShare(null);
    expect(limiter.active).toBe(2);
    for (const p of await Promise.all(permits.slice(3))) p.release({ ok: true });
  });
});

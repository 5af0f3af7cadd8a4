import type { AuditRecord } from '../aegis/types';
import type { WindowSummary } from '../aegis/live/deployment-state';

/**
 * What a deployment's audit log says happened, read back for its report: the closed windows with their live
 * pass rates and intervals, the champion each ran under, every canary start, promotion and rollback (with
 * where it falls on the windows' axis), the versions and the live rounds. Pure: the report renders it and
 * unit tests call it directly. Read defensively: a field missing or of the wrong type is left out (null),
 * never fatal, so a log from an older or newer deployment still draws.
 */

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Whether the audit log is a deployment's (deployHarness writes `deployment: true` in its setup record). */
export function isDeploymentAudit(audit: readonly AuditRecord[]): boolean {
  return audit.some((r) => r.stage === 'setup' && r.payload?.deployment === true);
}

/**
 * One closed window as its audit record gives it: the deployment's WindowSummary, read back leniently (any
 * outcome source name; times null when a record predates them).
 */
export type LiveWindow = Omit<WindowSummary, 'bySource' | 'startedAt' | 'endedAt'> & {
  bySource: Record<string, number>;
  /** Milliseconds since the epoch (the workflow's clock); null when not recorded. */
  startedAt: number | null;
  endedAt: number | null;
};

export type EventKind = 'canary' | 'promoted' | 'rolled_back' | 'pulled' | 'manual_rollback';

/** A canary start, a canary's end, or an operator's rollback. */
export interface DeploymentEvent {
  kind: EventKind;
  /** The version the event is about: the canary (start, promotion, rollback, pull) or, for a manual rollback of the champion, the version now served. */
  harnessId: string;
  /** For a manual rollback of the champion: the champion it replaced (null when unknown). */
  replaced: string | null;
  round: number;
  /** An operator did it (a manual canary, a manual rollback or a manual pull of the canary). */
  manual: boolean;
  reason: string;
  /** The record's time (ISO) and its place on the windows' axis (see eventPosition). */
  ts: string;
  x: number;
  /** A canary start's offline check, or a canary end's evidence, as a sentence; empty when none was recorded. */
  evidence: string;
  editKey: string | null;
  /** A canary end's canary runs (its sample's size). */
  canaryRuns: number | null;
}

export type VersionStatus = 'serving' | 'canary' | 'retired' | 'rolled back' | 'pulled';

export interface VersionRow {
  harnessId: string;
  seed: boolean;
  status: VersionStatus;
  round: number;
  parentId: string | null;
  editKey: string | null;
  canaryRuns: number | null;
  /** The canary's start reason (its offline check or the operator's reason), then its end's reason. */
  reason: string;
  /** Runs-weighted live pass rate over the windows it ran as champion, and how many windows and runs. */
  live: { passRate: number | null; windows: number; runs: number };
}

export interface LiveRoundRow {
  round: number;
  evidenceRuns: number | null;
  passRate: number | null;
  weakEvidenceOnly: boolean;
  gatesPassed: number;
  gatesRejected: number;
  /** What came of it: the canary it put out, its no-op reason, its failure, or "in progress". */
  outcome: string;
}

export interface DeploymentTimeline {
  name: string;
  input: Record<string, unknown>;
  seedHarnessId: string | null;
  windows: LiveWindow[];
  events: DeploymentEvent[];
  versions: VersionRow[];
  rounds: LiveRoundRow[];
  /** The champion at the end of the log. */
  champion: string | null;
  /** A canary still deciding at the end of the log. */
  openCanary: string | null;
  stopped: boolean;
  counts: {
    /** Reports the deployment accepted (the final record's count; else the closed windows' runs). */
    reports: number;
    reportsFromFinal: boolean;
    promotions: number;
    rollbacks: number;
    pulls: number;
    rounds: number;
    lateFeedback: number;
    /** Evolution tokens and USD when a record carries them; null when the log has none. */
    evolutionTokens: number | null;
    evolutionUsd: number | null;
  };
}

/** A harness id shortened for labels: `hx-` and its first 8 hex digits. */
export const shortId = (id: string) => (/^hx-[0-9a-f]{9,}$/.test(id) ? id.slice(0, 11) : id);

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function windowOf(p: Record<string, unknown>): LiveWindow | null {
  const w = obj(p.window);
  const index = num(w.index);
  if (index === null) return null;
  const bySource: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj(w.bySource))) if (num(v) !== null) bySource[k] = v as number;
  return {
    index,
    runs: num(w.runs) ?? 0,
    passRate: num(w.passRate),
    low: num(w.low),
    high: num(w.high),
    harnessId: str(w.harnessId) ?? '?',
    bySource,
    startedAt: num(w.startedAt),
    endedAt: num(w.endedAt) ?? num(w.closedAt),
  };
}

/**
 * Where a moment falls on the windows' axis: window i is drawn at x = i, its runs span (i − 1, i]; a moment
 * inside window i's time is placed in proportion; before the first window at its start; after the last closed
 * window at last + 0.5 (the window still open). Without times, after the last window closed before it in the log.
 */
export function eventPosition(at: number | null, windows: readonly LiveWindow[], windowsBefore: number): number {
  const timed = windows.filter((w) => w.startedAt !== null && w.endedAt !== null);
  if (at !== null && timed.length) {
    for (const w of timed) {
      if (at > w.endedAt!) continue;
      if (at < w.startedAt!) return w.index - 1;
      const span = w.endedAt! - w.startedAt!;
      return w.index - 1 + (span > 0 ? (at - w.startedAt!) / span : 1);
    }
    return timed[timed.length - 1].index + 0.5;
  }
  const before = windows.filter((w) => w.index <= windowsBefore);
  return before.length ? before[before.length - 1].index + 0.5 : windows.length ? windows[0].index - 1 : 0;
}

function evidenceText(e: Record<string, unknown>): string {
  const arm = (a: unknown) => {
    const r = obj(a);
    const rate = num(r.rate);
    return rate === null ? 'n/a' : `${pct(rate)} of ${num(r.runs) ?? '?'} runs`;
  };
  if (!Object.keys(e).length) return '';
  const d = num(e.difference);
  const lo = num(e.low);
  const hi = num(e.high);
  const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
  const diff = d === null ? '' : `; difference ${points(d)} points${lo !== null && hi !== null ? ` (${points(lo)} … ${points(hi)})` : ''}`;
  const failures = num(e.canaryFailures) ? `; ${e.canaryFailures} canary runs failed` : '';
  return `canary ${arm(e.canary)} vs champion ${arm(e.champion)}${diff}${failures}`;
}

function offlineCheckText(p: Record<string, unknown>): string {
  const inc = num(p.incumbentPassed);
  const cand = num(p.candidatePassed);
  const of = num(p.gateTasks);
  if (cand === null) return '';
  const parts = [`offline check: champion ${inc ?? '?'} → candidate ${cand} of ${of ?? '?'} tasks`];
  const sets = [num(p.replayTasks) ? `${p.replayTasks} replayed live` : '', num(p.regressionTasks) ? `${p.regressionTasks} regression` : '', num(p.heldOutTasks) ? `${p.heldOutTasks} held out` : ''].filter(Boolean);
  if (sets.length) parts.push(`(${sets.join(', ')})`);
  if (p.weakEvidenceOnly === true) parts.push('· the round rested on weak signals only');
  return parts.join(' ');
}

export function deploymentTimeline(audit: readonly AuditRecord[]): DeploymentTimeline {
  const setup = audit.find((r) => r.stage === 'setup');
  const input = obj(setup?.payload.input);
  const seedHarnessId = setup?.harnessId ?? null;

  // Windows, once each (a retried append never duplicates, but a hand-merged log might), in index order.
  const byIndex = new Map<number, LiveWindow>();
  for (const r of audit) if (r.stage === 'rollout' && r.payload.live === true) {
    const w = windowOf(r.payload);
    if (w && !byIndex.has(w.index)) byIndex.set(w.index, w);
  }
  const windows = [...byIndex.values()].sort((a, b) => a.index - b.index);

  const versions = new Map<string, VersionRow>();
  const version = (harnessId: string, init: Partial<VersionRow>): VersionRow => {
    const v = versions.get(harnessId) ?? { harnessId, seed: false, status: 'retired' as VersionStatus, round: 0, parentId: null, editKey: null, canaryRuns: null, reason: '', live: { passRate: null, windows: 0, runs: 0 } };
    versions.set(harnessId, Object.assign(v, init));
    return v;
  };
  let champion = seedHarnessId;
  if (seedHarnessId) version(seedHarnessId, { seed: true, status: 'serving', reason: 'the seed harness' });
  let canary: string | null = null;

  const events: DeploymentEvent[] = [];
  let windowsBefore = 0;
  let lateFeedback = 0;
  for (const r of audit) {
    const p = r.payload ?? {};
    if (r.stage === 'rollout' && p.live === true) windowsBefore = Math.max(windowsBefore, num(obj(p.window).index) ?? 0);
    if (r.stage === 'rollout' && p.lateFeedback) lateFeedback++;
    if (r.stage !== 'ship') continue;
    const at = Date.parse(r.ts);
    const x = eventPosition(Number.isNaN(at) ? null : at, windows, windowsBefore);
    const base = { ts: r.ts, x, round: r.round, editKey: str(p.editKey), canaryRuns: null as number | null, replaced: null as string | null };
    if (p.canary === true && r.harnessId) {
      // A canary goes out: the round's candidate after its offline check, or an operator's.
      const manual = p.manual === true;
      const reason = manual ? `an operator's canary: ${str(p.reason) ?? 'no reason given'}` : str(p.reason) ?? 'passed the offline check';
      const evidence = manual ? 'no offline check (an operator chose it)' : offlineCheckText(p);
      events.push({ ...base, kind: 'canary', harnessId: r.harnessId, manual, reason, evidence });
      version(r.harnessId, { status: 'canary', round: r.round, parentId: str(p.from) ?? champion, editKey: str(p.editKey), reason: [reason, evidence].filter(Boolean).join('; ') });
      canary = r.harnessId;
    } else if (p.live === true && (p.decision === 'promote' || p.decision === 'rollback') && r.harnessId) {
      // The sequential test decided the canary.
      const ev = obj(p.evidence);
      const canaryRuns = num(obj(ev.canary).runs);
      const kind: EventKind = p.decision === 'promote' ? 'promoted' : p.pulled === true ? 'pulled' : 'rolled_back';
      const reason = str(p.reason) ?? p.decision;
      events.push({ ...base, kind, harnessId: r.harnessId, manual: false, reason, evidence: evidenceText(ev), canaryRuns });
      const v = version(r.harnessId, { canaryRuns });
      v.reason = [v.reason, `${kind === 'promoted' ? 'promoted' : kind === 'pulled' ? 'pulled' : 'rolled back'}: ${reason}`].filter(Boolean).join(' → ');
      if (kind === 'promoted') {
        if (champion && champion !== r.harnessId) version(champion, { status: 'retired' });
        v.status = 'serving';
        champion = r.harnessId;
      } else v.status = kind === 'pulled' ? 'pulled' : 'rolled back';
      if (canary === r.harnessId) canary = null;
    } else if (p.manual === true && r.kind === 'rollback') {
      // An operator's rollback: it withdraws the canary when one is out, else puts the previous champion back.
      const reason = str(p.reason) ?? 'rolled back by an operator';
      const to = str(p.to) ?? r.harnessId ?? '?';
      if (canary) {
        events.push({ ...base, kind: 'pulled', harnessId: canary, manual: true, reason: `manual: ${reason}`, evidence: '' });
        const v = version(canary, { status: 'pulled' });
        v.reason = [v.reason, `pulled by an operator: ${reason}`].filter(Boolean).join(' → ');
        canary = null;
      } else {
        events.push({ ...base, kind: 'manual_rollback', harnessId: to, replaced: champion, manual: true, reason, evidence: '' });
        if (champion && champion !== to) {
          const old = version(champion, { status: 'rolled back' });
          old.reason = [old.reason, `rolled back by an operator: ${reason}`].filter(Boolean).join(' → ');
        }
        version(to, { status: 'serving' });
        champion = to;
      }
    }
  }

  for (const v of versions.values()) {
    const mine = windows.filter((w) => w.harnessId === v.harnessId && w.passRate !== null);
    const runs = mine.reduce((s, w) => s + w.runs, 0);
    v.live = { passRate: runs ? mine.reduce((s, w) => s + w.passRate! * w.runs, 0) / runs : null, windows: mine.length, runs };
  }

  const final = audit.find((r) => r.stage === 'final');
  const finalCounts = obj(final?.payload.counts);
  const reportsFinal = num(finalCounts.reports);
  const spend = obj(obj(final?.payload.spend).total);

  return {
    name: str(input.name) ?? (audit[0]?.runId ?? '').replace(/^deploy-/, ''),
    input,
    seedHarnessId,
    windows,
    events,
    versions: [...versions.values()],
    rounds: liveRounds(audit),
    champion,
    openCanary: canary,
    stopped: !!final,
    counts: {
      reports: reportsFinal ?? windows.reduce((s, w) => s + w.runs, 0),
      reportsFromFinal: reportsFinal !== null,
      promotions: events.filter((e) => e.kind === 'promoted').length,
      rollbacks: events.filter((e) => e.kind === 'rolled_back' || e.kind === 'pulled' || e.kind === 'manual_rollback').length,
      pulls: events.filter((e) => e.kind === 'pulled').length,
      rounds: num(finalCounts.rounds) ?? new Set(audit.filter((r) => r.stage === 'digest' || (r.stage === 'round_end' && r.round > 0)).map((r) => r.round)).size,
      lateFeedback,
      evolutionTokens: num(spend.tokens) ?? num(final?.payload.tokens),
      evolutionUsd: num(spend.usd) ?? num(final?.payload.costUsd),
    },
  };
}

/** Each live round: its evidence (from the digest record), its offline checks, and what came of it. */
export function liveRounds(audit: readonly AuditRecord[]): LiveRoundRow[] {
  const rounds = new Map<number, LiveRoundRow>();
  const row = (round: number) => rounds.get(round) ?? rounds.set(round, { round, evidenceRuns: null, passRate: null, weakEvidenceOnly: false, gatesPassed: 0, gatesRejected: 0, outcome: 'in progress' }).get(round)!;
  for (const r of audit) {
    const p = r.payload ?? {};
    if (r.stage === 'digest') Object.assign(row(r.round), { evidenceRuns: num(p.runs), passRate: num(p.passRate), weakEvidenceOnly: p.weakEvidenceOnly === true });
    else if (r.stage === 'gate') {
      const x = row(r.round);
      if (r.kind === 'rollback') x.gatesRejected++;
      else x.gatesPassed++;
    } else if (r.stage === 'ship' && p.canary === true && p.manual !== true && r.harnessId) row(r.round).outcome = `canary ${shortId(r.harnessId)}`;
    else if (r.stage === 'round_end' && r.round > 0) {
      if (p.noop) row(r.round).outcome = `no change: ${String(p.noop)}`;
      else if (p.failed) row(r.round).outcome = `failed: ${String(p.failed)}`;
    }
  }
  return [...rounds.values()].sort((a, b) => a.round - b.round);
}

import { grouped, percent } from '../aegis/run-labels';
import type { AuditRecord } from '../aegis/types';

/**
 * `history` as a person reads it: one aligned line per audit record (time, round, stage, what kind of
 * record, what happened) with rounded numbers and thousands separators. Pure: the CLI prints the lines,
 * unit tests read them. `--json` prints the records themselves.
 */

/** What kind of record it is, in words: a gate rejection is a rejection, not a rollback; only the guard rolls back. */
export function recordKind(r: Pick<AuditRecord, 'stage' | 'kind' | 'payload'>): string {
  const p = r.payload ?? {};
  if (p.noop) return 'no-op';
  if (r.stage === 'gate') {
    if (p.approval === 'rejected') return 'reviewer rejected';
    if (p.approval === 'approved') return 'reviewer approved';
    if (r.kind === 'rollback') return 'rejected';
    if (p.notNeeded) return 'not needed';
    if (p.budgetStopped) return 'undecided';
    return 'passed';
  }
  if (r.stage === 'ship' && p.decision) return p.decision === 'promote' ? 'promoted' : p.pulled ? 'pulled' : 'rolled back';
  if (r.stage === 'ship' && p.canary) return 'canary';
  if (r.stage === 'ship' && p.manual) return 'rolled back';
  if (r.stage === 'ship') return p.fork ? 'forked' : 'shipped';
  if (r.stage === 'regression') return r.kind === 'rollback' ? 'rollback' : 'checked';
  return r.kind === 'commit' ? 'commit' : 'info';
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? grouped(v) : '?');
const rate = (v: unknown) => percent(typeof v === 'number' ? v : null);
const tok = (v: unknown) => (typeof v === 'number' ? ` · ${grouped(v)} tok` : '');
const usd = (v: unknown) => (typeof v === 'number' && v > 0 ? ` · $${v.toFixed(v < 1 ? 4 : 2)}` : '');
const metaTok = (p: Record<string, unknown>) => {
  const spend = p.metaSpend as { tokens?: number; costUsd?: number | null } | undefined;
  return spend ? `${tok(spend.tokens)}${usd(spend.costUsd)}` : '';
};

/** What happened, in one short phrase with rounded numbers. */
export function whatHappened(r: Pick<AuditRecord, 'stage' | 'kind' | 'payload' | 'candidateId' | 'harnessId'>): string {
  const p = (r.payload ?? {}) as Record<string, unknown>;
  if (p.noop) return `round ended without a ship: ${String(p.noop)}`;
  const live = liveRecord(r, p);
  if (live !== null) return live;
  switch (r.stage) {
    case 'setup': {
      const input = p.input as Record<string, unknown> | undefined;
      if (input) return `${input.benchmark} · task model ${input.model} · meta-agent ${input.metaAgent} · ${input.rounds} rounds · seed harness ${r.harnessId ?? '?'}`;
      if (p.endpointLimits) return `endpoint limits: ${(p.endpointLimits as unknown[]).length} in force`;
      return 'setup';
    }
    case 'rollout':
      return p.budgetStopped
        ? `rollout stopped by the budget after ${num(p.tasks)} of ${num(p.batchTasks)} batch tasks${tok(p.tokens)}`
        : `batch pass ${num(p.passed)}/${num(p.tasks)} (${rate(p.passRate)}) · ${num(p.episodes)} episodes${tok(p.tokens)}${usd(p.costUsd)}`;
    case 'digest':
      return `${num(p.failing)} failing tasks · actionability ${typeof p.actionability === 'number' ? p.actionability.toFixed(2) : '?'}${typeof p.compression === 'number' ? ` · traces compressed ${Math.round(p.compression)}×` : ''}${metaTok(p)}`;
    case 'plan':
      return `${num(p.options)} edit options${Array.isArray(p.categories) ? ` (${p.categories.join(', ')})` : ''}${metaTok(p)}`;
    case 'evolve': {
      const candidates = Array.isArray(p.candidates) ? (p.candidates as Array<{ candidateId?: string; editKey?: string }>) : [];
      return `${candidates.length} candidate(s): ${candidates.map((c) => c.candidateId ?? '?').join(', ')}${metaTok(p)}`;
    }
    case 'critique':
      return `${p.decision === 'no_op' ? `no-op: ${String(p.reason ?? '')}` : `ranked ${Array.isArray(p.ranking) ? p.ranking.join(' > ') : '?'}`}${metaTok(p)}`;
    case 'gate': {
      const who = `${r.candidateId ?? '?'} ${String(p.editKey ?? '')}`.trim();
      if (p.approval) return `${who}: reviewer ${String(p.approval)}${p.reason ? ` — ${String(p.reason)}` : ''}`;
      if (p.budgetStopped) return `${who}: stopped undecided (evolution budget spent)${tok(p.tokens)}`;
      if (p.notNeeded) return `${who}: not needed (the round was decided by a higher-ranked candidate)${tok(p.tokens)}`;
      return `${who}${r.kind === 'rollback' ? `: ${String(p.reason ?? 'rejected')}` : ': passed the gate'}${tok(p.tokens)}`;
    }
    case 'ship': {
      const g = p.gate as { incumbentPassed?: number; candidatePassed?: number; gateTasks?: number } | undefined;
      const gate = g && typeof g.gateTasks === 'number' ? ` · gate ${num(g.incumbentPassed)} → ${num(g.candidatePassed)} of ${num(g.gateTasks)}` : '';
      return `${p.fork ? `forked variant ${String(p.variant)}` : 'shipped'} ${String(p.editKey ?? '')} → ${String(p.to ?? r.harnessId ?? '?')}${gate}`;
    }
    case 'round_end':
      return `batch ${rate(p.passRate)} · validation ${rate(p.validation)} · test ${rate(p.test)} · evolution ${num(p.tokens)} tok${usd(p.costUsd)} · measurement ${num(p.measurementTokens)} tok`;
    case 'regression':
      if (p.budgetStopped) return `guard stopped by the budget on ${num(p.suite)} tasks`;
      return r.kind === 'rollback'
        ? `rolled back ${String(p.from)} → ${String(p.to)}: solved ${num(p.solved)} < best ${num(p.bestSolved)} (round ${num(p.bestRound)}) of ${num(p.suite)}`
        : `no drift: solved ${num(p.solved)} (best ${num(p.bestSolved)}) of ${num(p.suite)}${tok(p.tokens)}`;
    case 'final':
      return `${String(p.stopReason ?? 'done')} · train ${rate(p.seedPassRate)} → ${rate(p.evolvedPassRate)} · test ${rate(p.seedTestPassRate)} → ${rate(p.evolvedTestPassRate)} · evolution ${num(p.tokens)} tok${usd(p.costUsd)}`;
    default:
      return '';
  }
}

/** A deployment's own records (deployHarness): windows, canaries and their ends, manual rollbacks; null for any other. */
function liveRecord(r: Pick<AuditRecord, 'stage' | 'harnessId'>, p: Record<string, unknown>): string | null {
  const short = (id: unknown) => (typeof id === 'string' ? id.slice(0, 11) : '?');
  if (r.stage === 'setup' && p.deployment) {
    const input = (p.input ?? {}) as Record<string, unknown>;
    const window = input.window as { runs?: number } | undefined;
    const canary = input.canary as { share?: number } | undefined;
    return `deployment ${String(input.name)} · ${String(input.benchmark)} · task model ${String(input.model)} · meta-agent ${String(input.metaAgent)} · windows of ${num(window?.runs)} · canary ${rate(canary?.share)} · seed ${short(r.harnessId)}`;
  }
  if (r.stage === 'rollout' && p.live && p.window) {
    const w = p.window as { index?: number; runs?: number; passRate?: number | null; low?: number | null; high?: number | null; harnessId?: string };
    return `window ${num(w.index)}: ${num(w.runs)} runs · pass ${rate(w.passRate)} [${rate(w.low)}–${rate(w.high)}] under ${short(w.harnessId)}`;
  }
  if (r.stage === 'ship' && p.decision) return `${p.decision === 'promote' ? 'promoted' : 'rolled back'} ${short(r.harnessId)}: ${String(p.reason ?? '')}`;
  if (r.stage === 'ship' && p.canary) return `canary ${short(p.to ?? r.harnessId)} from ${short(p.from)} on ${rate(p.share)} of run keys${p.manual ? ` (an operator's: ${String(p.reason ?? '')})` : ''}`;
  if (r.stage === 'ship' && p.manual) return `manual rollback to ${short(p.to)}: ${String(p.reason ?? '')}`;
  if (r.stage === 'final' && p.stopped) return `deployment stopped · ${num((p.counts as { reports?: number } | undefined)?.reports)} reports`;
  return null;
}

/** Cuts a line to `width` columns with an ellipsis (never silently). */
export function fitWidth(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(1, width - 1)).join('')}…`;
}

/**
 * The aligned table: a header, then one line per record. Times are local clock times (the date once, in
 * the header); `width` cuts each line (with an ellipsis); Infinity keeps everything.
 */
export function historyLines(records: readonly AuditRecord[], width = Infinity): string[] {
  const kinds = records.map(recordKind);
  const kindWidth = Math.max(6, ...kinds.map((k) => k.length));
  const date = records[0]?.ts.slice(0, 10) ?? '';
  const head = `${'time'.padEnd(8)}  ${'round'.padStart(5)}  ${'stage'.padEnd(10)} ${'record'.padEnd(kindWidth)}  what happened (${date} UTC)`;
  return [head, ...records.map((r, i) => `${r.ts.slice(11, 19).padEnd(8)}  ${String(r.round).padStart(5)}  ${r.stage.padEnd(10)} ${kinds[i].padEnd(kindWidth)}  ${whatHappened(r)}`)].map((l) => fitWidth(l, width));
}

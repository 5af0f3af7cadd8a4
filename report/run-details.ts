import type { LineageNode } from '../aegis/lineage';
import type { AuditRecord, Candidate, Digest } from '../aegis/types';
import type { HarnessConfig } from '../harness/config';
import { diffHarnesses, formatDiff } from '../harness/diff';

/**
 * What the run report says about each shipped edit, each task and each harness version, computed from the
 * audit log, the digests, the shipped candidates and the harnesses (pure: the report renders it, tests call
 * it directly).
 */

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A measure before and after a ship (either side null when it was not measured). */
export interface BeforeAfter {
  before: number | null;
  after: number | null;
}

export interface ShippedEffect {
  round: number;
  candidateId: string;
  editKey: string;
  bucket: string;
  from: string | null;
  to: string | null;
  /** The gate's verdict on its tasks: tasks the incumbent and the candidate passed, of how many. */
  gate: { incumbentPassed: number | null; candidatePassed: number | null; gateTasks: number | null; unlocked: string[] };
  /** Train batch pass rate: this round's batch (the harness before) → the next round's (after; null when none). */
  train: BeforeAfter;
  /** Validation and held-out test at the end of the previous round (the seed's test for round 1) → this round's end. */
  validation: BeforeAfter;
  test: BeforeAfter;
  /** Another ship or a rollback in the same round: the end-of-round measures are not this edit's alone. */
  shared: boolean;
  /** The manifest's reasoning: the failure it targets and the fix (attribution), and the trace evidence it cites. */
  rationale: string | null;
  evidence: string[];
  predictedUnlocks: string[];
}

/**
 * The manifest's attribution signature read as a sentence: the rules agent writes "cause→remedy|remedy…: why"
 * ("no_progress→plan_then_act|step_budget: more steps" → "more steps (against no_progress failures)"); any
 * other signature (an LLM meta-agent's) is shown as written.
 */
function rationaleOf(c: Candidate | undefined): string | null {
  const sig = c?.manifest.attributionSignature?.trim();
  if (!sig) return null;
  const m = sig.match(/^([a-z_]+)→[^:]*(?::\s*(.*))?$/s);
  if (!m) return sig;
  return m[2] ? `${m[2]} (against ${m[1]} failures)` : `against ${m[1]} failures`;
}

export function shippedEffects(audit: readonly AuditRecord[], candidates: ReadonlyMap<string, Candidate> = new Map()): ShippedEffect[] {
  const final = audit.find((r) => r.stage === 'final')?.payload ?? {};
  const rolloutOf = (round: number) => audit.find((r) => r.stage === 'rollout' && r.round === round && !r.payload.budgetStopped);
  const endOf = (round: number) => audit.find((r) => r.stage === 'round_end' && r.round === round);
  const lastEndBefore = (round: number) => [...audit].reverse().find((r) => r.stage === 'round_end' && r.round < round);
  return audit
    .filter((r) => r.stage === 'ship')
    .map((r) => {
      const p = r.payload;
      const g = (p.gate ?? {}) as Record<string, unknown>;
      const c = r.candidateId ? candidates.get(r.candidateId) : undefined;
      const prevEnd = lastEndBefore(r.round)?.payload;
      const end = endOf(r.round)?.payload;
      const sameRound = audit.filter((x) => x.round === r.round && ((x.stage === 'ship' && x !== r) || (x.stage === 'regression' && x.kind === 'rollback')));
      return {
        round: r.round,
        candidateId: r.candidateId ?? '',
        editKey: String(p.editKey ?? ''),
        bucket: String(p.bucket ?? c?.bucket ?? ''),
        from: typeof p.from === 'string' ? p.from : null,
        to: r.harnessId ?? (typeof p.to === 'string' ? p.to : null),
        gate: { incumbentPassed: num(g.incumbentPassed), candidatePassed: num(g.candidatePassed), gateTasks: num(g.gateTasks), unlocked: Array.isArray(g.unlocked) ? g.unlocked.map(String) : [] },
        train: { before: num(rolloutOf(r.round)?.payload.passRate), after: num(rolloutOf(r.round + 1)?.payload.passRate) },
        validation: { before: num(prevEnd?.validation), after: num(end?.validation) },
        test: { before: prevEnd ? num(prevEnd.test) : num(final.seedTestPassRate), after: num(end?.test) },
        shared: sameRound.length > 0,
        rationale: rationaleOf(c),
        evidence: c?.manifest.capabilityEvidence ?? [],
        predictedUnlocks: c?.manifest.predictedImpact.tasksWillUnlock ?? [],
      };
    });
}

/** One piece of a text diff. */
export interface DiffPart {
  op: 'same' | 'add' | 'del';
  text: string;
}

/** Most tokens on either side the diff aligns (an LCS table of at most this squared); longer texts show as replaced. */
const MAX_DIFF_TOKENS = 1500;

/**
 * A text diff of two prompts: by line when either has several lines, else by word; adjacent parts of the
 * same kind are merged. Texts too long to align are one deletion and one addition.
 */
export function textDiff(before: string, after: string): DiffPart[] {
  const byLine = before.includes('\n') || after.includes('\n');
  const split = (s: string) => (s === '' ? [] : byLine ? s.split(/(?<=\n)/) : s.split(/(?<=\s)(?=\S)/));
  const a = split(before);
  const b = split(after);
  const parts: DiffPart[] = [];
  const push = (op: DiffPart['op'], text: string) => {
    const last = parts[parts.length - 1];
    if (last?.op === op) last.text += text;
    else parts.push({ op, text });
  };
  if (a.length > MAX_DIFF_TOKENS || b.length > MAX_DIFF_TOKENS) {
    if (before) push('del', before);
    if (after) push('add', after);
    return parts;
  }
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      push('same', a[i]);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) push('del', a[i++]);
    else push('add', b[j++]);
  }
  while (i < a.length) push('del', a[i++]);
  while (j < b.length) push('add', b[j++]);
  return parts;
}

/** A shipped edit's change to the harness: the `diff` command's lines, and a text diff per prompt text changed or added. */
export interface EditDiff {
  lines: string;
  texts: Array<{ where: string; parts: DiffPart[] }>;
}

export function editDiff(from: HarnessConfig, to: HarnessConfig): EditDiff {
  const diff = diffHarnesses(from, to);
  const texts: EditDiff['texts'] = [];
  const strings = (params: Record<string, unknown>) => Object.entries(params).filter(([, v]) => typeof v === 'string') as Array<[string, string]>;
  for (const c of diff.processors) {
    if (c.change === 'reconfigured') {
      for (const [k, v] of Object.entries(c.params))
        if (typeof v.from === 'string' || typeof v.to === 'string') texts.push({ where: `${c.hook}: ${c.id}.${k}`, parts: textDiff(typeof v.from === 'string' ? v.from : '', typeof v.to === 'string' ? v.to : '') });
    } else if (c.change === 'added') {
      for (const [k, v] of strings(c.processor.params)) texts.push({ where: `${c.hook}: ${c.processor.id}.${k} (added)`, parts: textDiff('', v) });
    } else if (c.change === 'replaced') {
      const before = Object.fromEntries(strings(c.from.params));
      for (const [k, v] of strings(c.to.params)) texts.push({ where: `${c.hook}: ${c.to.id}.${k}`, parts: textDiff(before[k] ?? '', v) });
    }
  }
  return { lines: formatDiff(diff), texts };
}

export type TaskOutcome = 'unlocked' | 'regressed' | 'flaky' | 'never solved' | 'always solved';
/** The order the heat map lists tasks in: what changed first, then what never did. */
export const OUTCOME_ORDER: readonly TaskOutcome[] = ['unlocked', 'regressed', 'flaky', 'never solved', 'always solved'];

export interface TaskCell {
  round: number;
  passed: boolean;
  successes: number;
  attempts: number;
  category: string | null;
  /** Where a failed attempt went wrong: the first evidence line's step and text. */
  failure: { step: number | null; text: string } | null;
}

export interface TaskRow {
  taskId: string;
  name: string;
  goal: string | null;
  outcome: TaskOutcome;
  cells: TaskCell[];
}

/** Most characters of a task's readable name (the full goal is on hover). */
const NAME_CHARS = 80;

/**
 * A task's readable name: its goal's sentence that states the goal ("My goal is …", "I need …") or else its
 * first line, shortened; the id's last part when there is no goal and the id is not a hash; the id otherwise.
 */
export function readableTaskName(taskId: string, goal?: string | null): string {
  const text = (goal ?? '').trim();
  if (text) {
    const sentences = text.split(/(?<=[.!?])\s+|\n+/).map((s) => s.trim()).filter(Boolean);
    const stated = sentences.find((s) => /^(my goal is|your goal is|goal:|i need|i want|i am looking|i'm looking|find|buy)/i.test(s)) ?? sentences[0];
    const clean = stated.replace(/^my goal is to have that,?\s*/i, '').replace(/^(my|your) goal is( to)?\s*/i, '').replace(/\s+/g, ' ');
    const short = clean.length > NAME_CHARS ? `${clean.slice(0, NAME_CHARS - 1).trimEnd()}…` : clean;
    return short.charAt(0).toUpperCase() + short.slice(1);
  }
  const last = taskId.split('/').pop() ?? taskId;
  return /[0-9a-f]{8}/i.test(last) ? taskId : last;
}

/** The step a failed attempt went wrong at, from the digest's evidence ("attempt 0: step 3: …"). */
export function failureOf(evidence: readonly string[]): TaskCell['failure'] {
  const line = evidence.find((e) => /step \d+/.test(e)) ?? evidence[0];
  if (!line) return null;
  const m = line.match(/step (\d+):?\s*(.*)$/);
  return m ? { step: Number(m[1]), text: m[2] || line } : { step: null, text: line };
}

/** The outcome of a task's rounds in order: unlocked (failed, then solved last), regressed (solved, then failed last), flaky, or unchanged. */
export function classifyOutcome(passes: readonly boolean[]): TaskOutcome {
  if (passes.every(Boolean)) return 'always solved';
  if (!passes.some(Boolean)) return 'never solved';
  if (passes[passes.length - 1]) {
    // Failed first, solved from some round on.
    const k = passes.lastIndexOf(false);
    return passes.slice(0, k + 1).some(Boolean) ? 'flaky' : 'unlocked';
  }
  // Solved first, failed from some round on.
  const k = passes.lastIndexOf(true);
  return passes.slice(0, k + 1).every(Boolean) ? 'regressed' : 'flaky';
}

/** Every task the digests saw, with its per-round outcome, sorted by outcome then name. */
export function taskRows(digests: ReadonlyMap<number, Digest>): TaskRow[] {
  const byTask = new Map<string, { goal: string | null; cells: TaskCell[] }>();
  for (const [round, d] of [...digests].sort((x, y) => x[0] - y[0]))
    for (const t of d.tasks) {
      const row = byTask.get(t.taskId) ?? byTask.set(t.taskId, { goal: null, cells: [] }).get(t.taskId)!;
      row.goal ??= t.goal ?? null;
      row.cells.push({ round, passed: t.passed, successes: t.successes, attempts: t.attempts, category: t.category, failure: t.passed && t.successes === t.attempts ? null : failureOf(t.evidence) });
    }
  const rows = [...byTask].map(([taskId, r]) => ({ taskId, name: readableTaskName(taskId, r.goal), goal: r.goal, outcome: classifyOutcome(r.cells.map((c) => c.passed)), cells: r.cells }));
  return rows.sort((a, b) => OUTCOME_ORDER.indexOf(a.outcome) - OUTCOME_ORDER.indexOf(b.outcome) || a.name.localeCompare(b.name, 'en', { numeric: true }) || a.taskId.localeCompare(b.taskId));
}

/** A harness version's scores: its gate verdict when shipped, and validation / test at the end of that round (the seed: its test). */
export interface HarnessScores {
  gate: { incumbentPassed: number | null; candidatePassed: number | null; gateTasks: number | null } | null;
  validation: number | null;
  test: number | null;
}

export function lineageScores(audit: readonly AuditRecord[], root: LineageNode | null): Map<string, HarnessScores> {
  const scores = new Map<string, HarnessScores>();
  if (!root) return scores;
  const final = audit.find((r) => r.stage === 'final')?.payload ?? {};
  scores.set(root.harnessId, { gate: null, validation: null, test: num(final.seedTestPassRate) });
  for (const r of audit.filter((x) => x.stage === 'ship' && x.harnessId)) {
    const g = (r.payload.gate ?? {}) as Record<string, unknown>;
    const end = audit.find((x) => x.stage === 'round_end' && x.round === r.round)?.payload;
    // A later ship in the same round replaced this harness before the round's end measured it.
    const lastOfRound = [...audit].reverse().find((x) => x.stage === 'ship' && x.round === r.round) === r;
    scores.set(r.harnessId!, { gate: { incumbentPassed: num(g.incumbentPassed), candidatePassed: num(g.candidatePassed), gateTasks: num(g.gateTasks) }, validation: lastOfRound ? num(end?.validation) : null, test: lastOfRound ? num(end?.test) : null });
  }
  return scores;
}

/** Each round's first and last record time and its duration in seconds (rounds with unparseable stamps left out). */
export function roundTimes(audit: readonly AuditRecord[]): Array<{ round: number; start: string; end: string; seconds: number }> {
  const by = new Map<number, number[]>();
  for (const r of audit) {
    const t = Date.parse(r.ts);
    if (Number.isNaN(t) || r.stage === 'setup' || r.stage === 'final') continue;
    (by.get(r.round) ?? by.set(r.round, []).get(r.round)!).push(t);
  }
  return [...by]
    .sort((a, b) => a[0] - b[0])
    .map(([round, ts]) => ({ round, start: new Date(Math.min(...ts)).toISOString(), end: new Date(Math.max(...ts)).toISOString(), seconds: Math.round((Math.max(...ts) - Math.min(...ts)) / 1000) }));
}

import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { Model } from '../harness/processor';
import { callStructured } from '../harness/structured-output';
import { resolveFrom } from './load-tasks';
import type { EpisodeRecord, SuiteScore, SuiteVerifier, VerifierConfig } from './types';

/** Milliseconds a verifier may take per episode unless the suite says otherwise. */
export const DEFAULT_VERIFIER_TIMEOUT_MS = 30_000;

/** A verifier's output as accepted: a number, or { score, breakdown?, reason? }; score a finite number in [0, 1]. */
const ScoreSchema = z.union([
  z.number(),
  z
    .object({ score: z.number(), breakdown: z.record(z.string(), z.unknown()).optional(), reason: z.string().optional() })
    .strict(),
]);

/**
 * A verifier's output as a SuiteScore, or why it is not one. NaN, infinities and scores outside [0, 1] are
 * refused: a score of 1.5 or NaN would count as solved (or break pass rates) where it should count as broken.
 */
export function scoreFrom(value: unknown): { ok: true; score: SuiteScore } | { ok: false; reason: string } {
  // zod refuses NaN as "not a number"; the reason should say what it is.
  const raw = typeof value === 'object' && value !== null ? (value as { score?: unknown }).score : value;
  if (typeof raw === 'number' && !Number.isFinite(raw)) return { ok: false, reason: `score ${raw} is outside [0, 1]` };
  const parsed = ScoreSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: `not a score: expected a number or { score, breakdown?, reason? }, got ${preview(value)}` };
  const score = typeof parsed.data === 'number' ? { score: parsed.data } : parsed.data;
  if (!Number.isFinite(score.score) || score.score < 0 || score.score > 1) return { ok: false, reason: `score ${score.score} is outside [0, 1]` };
  return { ok: true, score };
}

/** Where a verifier was declared and what it may use, for its messages and its child processes. */
export interface VerifierSource {
  suite: string;
  configDir: string;
  timeoutMs?: number;
}

/** The verifier a suite's config declares: a function, a command or an LLM judge. */
export function createVerifier(config: VerifierConfig, source: VerifierSource): SuiteVerifier {
  if (typeof config === 'function') return functionVerifier(config);
  if ('command' in config) return commandVerifier(config, source);
  if ('judge' in config) return judgeVerifier(config.judge.rubric);
  throw new Error(`suite "${source.suite}": verifier: expected a function, {command} or {judge}`);
}

/**
 * Runs a verifier so that nothing it does can break the run: a throw, a timeout, a non-score become score 0
 * with the reason (which reaches the episode's trace through the reward breakdown), never an exception.
 */
export async function verifySafely(verifier: SuiteVerifier, record: EpisodeRecord, context: { judge?: Model; timeoutMs?: number }): Promise<SuiteScore> {
  const timeoutMs = context.timeoutMs ?? DEFAULT_VERIFIER_TIMEOUT_MS;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const outcome = await Promise.race([verifier.verify(record, { judge: context.judge, signal: abort.signal }), timedOut]);
    if (outcome === 'timeout') {
      abort.abort();
      return { score: 0, reason: `verifier ${verifier.label} timed out after ${timeoutMs} ms` };
    }
    const checked = scoreFrom(outcome);
    return checked.ok ? checked.score : { score: 0, reason: `verifier ${verifier.label}: ${checked.reason}` };
  } catch (e) {
    return { score: 0, reason: `verifier ${verifier.label} failed: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    clearTimeout(timer);
  }
}

/** A TypeScript function: (record) → number | SuiteScore, possibly async. */
function functionVerifier(fn: Extract<VerifierConfig, (...args: never[]) => unknown>): SuiteVerifier {
  return {
    label: 'function',
    async verify(record) {
      // A copy: a verifier that mutates the record must not change what the trace or a second verifier sees.
      const value = await fn(structuredClone(record));
      const checked = scoreFrom(value);
      if (!checked.ok) throw new Error(checked.reason);
      return checked.score;
    },
  };
}

const MAX_OUTPUT_CHARS = 1_000_000;

/**
 * A command (spawned without a shell, so no argument is ever interpreted): gets the episode record as one
 * JSON document on stdin, prints one JSON score on stdout (the whole output, or its last line when it logs
 * before). It runs in its own process group, so a timeout kills whatever it started too.
 */
function commandVerifier(config: Extract<VerifierConfig, { command: string }>, source: VerifierSource): SuiteVerifier {
  const label = `command \`${[config.command, ...(config.args ?? [])].join(' ')}\``;
  const cwd = config.cwd ? resolveFrom(source.configDir, config.cwd) : source.configDir;
  return {
    label,
    verify(record, { signal }) {
      return new Promise<SuiteScore>((resolve, reject) => {
        const child = spawn(config.command, config.args ?? [], { cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: process.env });
        let stdout = '';
        let stderr = '';
        let settled = false;
        const killGroup = () => {
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        };
        const finish = (f: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          f();
        };
        const onAbort = () => {
          killGroup();
          finish(() => reject(new Error('aborted')));
        };
        const timeoutMs = config.timeoutMs ?? source.timeoutMs ?? DEFAULT_VERIFIER_TIMEOUT_MS;
        const timer = setTimeout(() => {
          killGroup();
          finish(() => reject(new Error(`timed out after ${timeoutMs} ms (process group killed)`)));
        }, timeoutMs);
        signal?.addEventListener('abort', onAbort);
        child.stdout.on('data', (d: Buffer) => {
          if (stdout.length < MAX_OUTPUT_CHARS) stdout += d.toString('utf8');
        });
        child.stderr.on('data', (d: Buffer) => {
          if (stderr.length < MAX_OUTPUT_CHARS) stderr += d.toString('utf8');
        });
        child.on('error', (e) => finish(() => reject(new Error(`could not start: ${e.message}`))));
        child.on('close', (code, sig) => {
          killGroup();
          finish(() => {
            if (code !== 0) return reject(new Error(`exited with ${code === null ? `signal ${sig}` : `code ${code}`}${stderr.trim() ? `: ${tail(stderr)}` : ''}`));
            const parsed = parseScoreOutput(stdout);
            if (!parsed.ok) return reject(new Error(parsed.reason));
            resolve(parsed.score);
          });
        });
        // A verifier that does not read its stdin must not fail with EPIPE: what it prints still counts.
        child.stdin.on('error', () => undefined);
        child.stdin.end(JSON.stringify(record) + '\n');
      });
    },
  };
}

/** A command's stdout as a score: all of it as JSON, else its last non-empty line. */
function parseScoreOutput(stdout: string): { ok: true; score: SuiteScore } | { ok: false; reason: string } {
  const text = stdout.trim();
  if (!text) return { ok: false, reason: 'printed nothing; expected one JSON score on stdout' };
  for (const candidate of [text, text.split('\n').filter((l) => l.trim()).pop()!]) {
    let value: unknown;
    try {
      value = JSON.parse(candidate);
    } catch {
      continue;
    }
    return scoreFrom(value);
  }
  return { ok: false, reason: `printed no JSON score on stdout: ${preview(text)}` };
}

const JudgeVerdictSchema = z.object({
  score: z.number().min(0).max(1).describe('1 if the episode fully meets the rubric, 0 if not; partial credit in between'),
  reason: z.string().describe('one or two sentences: what decided the score'),
});

/**
 * An LLM judge: the harness's judge role reads the task, the rubric and what the episode did (tool calls
 * with results, the final state, the answer) and returns a JSON verdict. Without a judge model there is no
 * verdict: score 0, and the reason says how to configure one.
 */
function judgeVerifier(rubric: string): SuiteVerifier {
  return {
    label: 'judge',
    async verify(record, { judge }) {
      if (!judge) return { score: 0, reason: 'this suite is scored by an LLM judge, but the harness names no judge model (set model.judge in the harness config)' };
      const result = await callStructured({
        model: judge,
        stage: 'judge',
        system:
          'You are a strict evaluator of an AI agent. Judge only from what the agent actually did: its tool calls, their results and the final tool state. ' +
          'A claim in the final answer that is not borne out by the tool calls and state earns nothing. Reply with a JSON object {"score": number in [0,1], "reason": string}.',
        user: [
          `Rubric:\n${rubric}`,
          `Task (${record.task.id}):\n${record.task.instruction}`,
          ...(record.task.metadata ? [`Task metadata (for you, not shown to the agent):\n${JSON.stringify(record.task.metadata)}`] : []),
          `Tool calls, in order:\n${record.toolCalls.length ? record.toolCalls.map((c, i) => `${i + 1}. ${c.name}(${JSON.stringify(c.args)}) → ${c.ok ? 'ok' : 'error'}: ${c.output.slice(0, 2000)}`).join('\n') : '(none)'}`,
          ...(record.dialogue.length ? [`Dialogue:\n${record.dialogue.map((d) => `agent: ${d.agent}\nuser: ${d.user}`).join('\n')}`] : []),
          `Final tool state:\n${JSON.stringify(record.state ?? null).slice(0, 20_000)}`,
          `Final answer:\n${record.answer ?? '(none)'}`,
        ].join('\n\n'),
        schema: JudgeVerdictSchema,
        maxTokens: 1024,
      });
      if (!result.ok) throw new Error(`the judge gave no usable verdict: ${result.error}`);
      return { score: result.value.score, reason: result.value.reason, breakdown: { judge: judge.id } };
    },
  };
}

function tail(text: string): string {
  const t = text.trim();
  return t.length > 500 ? `…${t.slice(-500)}` : t;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

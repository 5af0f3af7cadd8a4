import { ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRewardHacking } from '../../aegis/gate';
import { makePreGateChecker } from '../../aegis/pre-gate';
import { evolveInputSchema, inputProblems } from '../../aegis/run-input';
import { readHarnessFile } from '../../cli/options';
import { editKey } from '../../aegis/remedies';
import type { AuditRecord } from '../../aegis/types';
import { getBenchmark } from '../../benchmarks/registry';
import type { Benchmark } from '../../benchmarks/types';
import { applyEdits, Edit } from '../../harness/builder';
import { harnessId } from '../../harness/config';
import { callSandboxed, verifyCodeProcessor } from '../../harness/processors/code';
import { compileProcessor, sandboxProgram, transpile } from '../../harness/sandbox/compile-processor';
import { DEFAULT_SANDBOX_LIMITS, workLimitsFor } from '../../harness/sandbox/quickjs-sandbox';
import { runInSandboxThread } from '../../harness/sandbox/sandbox-host';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
import { attempt, beforeModel, GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';

/** Issue 28: whatever a candidate contains ends in a verdict, the same on any machine; stored files verify and heal. */
jest.setTimeout(300_000);

const input = { event: beforeModel([]), instruction: 'x', admissibleActions: null, state: {} };
const call = (body: string, timeoutMs = 100) => callSandboxed(sandboxProgram(transpile(attempt(body))), input, timeoutMs);

/** A processor that hands the host JSON nested 200,000 deep (it swaps the JSON its entry point uses). */
const DEEP_NOTES = `import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
const g: any = globalThis;
const real = g.JSON;
g.JSON = { parse: (s: string) => real.parse(s), stringify: () => '{"result":null,"state":{},"notes":[{"kind":"x","data":' + '['.repeat(200000) + ']'.repeat(200000) + '}]}' };
export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult { return null; }
`;

describe('one boundary: a check that throws is a rejection with its reason', () => {
  test('output nested 200,000 deep is refused before the host parses it, as a reason', async () => {
    const r = await callSandboxed(sandboxProgram(transpile(DEEP_NOTES)), input, 100);
    expect(r).toEqual({ ok: false, reason: 'sandbox output is nested deeper than 64 levels' });
    const verdict = await verifyCodeProcessor('before_model', { source: DEEP_NOTES, smokeTests: GUARD_SMOKE_TESTS });
    expect(verdict).toMatchObject({ ok: false, stage: 'smoke_test', reason: expect.stringMatching(/nested deeper than 64 levels/) });
  });

  test('a 1,500-deep parenthesised type is a verdict from the checker thread, never an exception here', async () => {
    const source = `import type { HookEvent } from 'harnessx';
type Deep = ${'('.repeat(1500)}string${')'.repeat(1500)};
export function processEvent(e: HookEvent) { const d: Deep = 'x'; return d.length > 5 ? null : null; }
`;
    const verdict = await verifyCodeProcessor('before_model', { source, smokeTests: [{ name: 'n', event: beforeModel([]), expect: 'unchanged' }] });
    // Either way it is a verdict (the checker thread has the stack for it); the program it runs was compiled there.
    expect(verdict.ok ? typeof verdict.program : verdict.stage).toMatch(/string|compile|smoke_test/);
  });

  test('the pre-gate turns an exception inside any check into that check failing, naming the error', async () => {
    const real = getBenchmark('blocksworld');
    const broken: Benchmark = Object.create(real, { tasks: { value: () => { throw new RangeError('Maximum call stack size exceeded'); } }, name: { value: 'blocksworld-broken' } });
    const seed = seedHarness();
    const changes: Edit[] = [{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }];
    const built = applyEdits(seed, changes);
    if (!built.ok) throw new Error(built.error.message);
    const verdict = await makePreGateChecker(seed, broken, { seed: 'b' })({
      candidateId: 'c1',
      editKey: editKey(changes),
      bucket: 'processor',
      config: built.config,
      manifest: { candidateId: 'c1', bucket: 'processor', capabilityEvidence: ['e'], changes, predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] }, attributionSignature: 's' },
    });
    expect(verdict).toMatchObject({ passed: false, reason: 'reward_hacking: internal error while checking: RangeError: Maximum call stack size exceeded' });
  });
});

describe('deterministic sandbox work', () => {
  test.each([
    ['Array(1e9).join', "g.out = Array(1e9).join('x');"],
    ['a sparse indexOf', 'const a: number[] = []; a.length = 1e9; g.out = a.indexOf(1);'],
    ['repeat without end', "for (;;) 'x'.repeat(1 << 20);"],
    ['indexOf on a long string without end', "const s = 'x'.repeat(1 << 20); for (;;) s.indexOf('y');"],
    ['the metering error caught', 'const a: number[] = []; a.length = 1e9; try { a.indexOf(1); } catch (e) {}'],
  ])('%s, which ticks no work units, is stopped by its work budget', async (_name, body) => {
    const r = await call(body);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/^sandbox work: exceeded the work limit of 400 ticks/) });
  });

  test('the program cannot replace a metered builtin, nor reach the unmetered one', async () => {
    const r = await call("try { Array.prototype.join = () => 'free'; } catch (e) {} g.String.prototype.repeat = null; ctx.state.j = [1, 2].join('-'); ctx.state.r = typeof 'a'.repeat;");
    expect(r).toMatchObject({ ok: true, state: { j: '1-2', r: 'function' } });
  });

  test('the code’s own budget cannot stretch the host’s backstop', () => {
    expect(workLimitsFor(1000).backstopMs).toBe(workLimitsFor(1).backstopMs);
  });

  test('Date and Math.random are the same for the same input', async () => {
    const body = 'ctx.state.t = [Date.now(), new Date().toISOString(), Math.random(), Math.random()];';
    const a = await call(body);
    const b = await call(body);
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(a.state).toEqual(b.state);
    expect((a.state.t as unknown[])[0]).toBe(Date.UTC(2026, 0, 1));
  });

  test('a slow call does not hold up another: the short call finishes first', async () => {
    const order: string[] = [];
    const slow = runInSandboxThread('function f() { for (;;) {} }', 'f', '', { ...DEFAULT_SANDBOX_LIMITS, workTicks: 1e9, backstopMs: 5000 }).then(() => order.push('slow'));
    const quick = runInSandboxThread("function f() { return 'ok'; }", 'f', '', DEFAULT_SANDBOX_LIMITS).then(() => order.push('quick'));
    await Promise.all([slow, quick]);
    expect(order).toEqual(['quick', 'slow']);
  });

  describe('under CPU load', () => {
    const busy: ChildProcess[] = [];
    beforeAll(() => {
      for (let i = 0; i < 2; i++) busy.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    });
    afterAll(() => {
      for (const child of busy) child.kill('SIGKILL');
    });

    test('20 verifications of each builtin-heavy processor give one verdict each', async () => {
      const sources = {
        join: attempt("ctx.state.n = Array(1e9).join('x').length;"),
        passing: attempt("let n = 0; for (let i = 0; i < 200; i++) n += 'abc'.repeat(500).indexOf('cab'); ctx.state.n = n;"),
      };
      for (const [name, source] of Object.entries(sources)) {
        const verdicts = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const v = await verifyCodeProcessor('before_model', { source, smokeTests: [{ name: 'n', event: beforeModel([]), expect: 'unchanged' }] });
          verdicts.add(v.ok ? `ok ${v.detail}` : `${v.stage}: ${v.reason}`);
        }
        expect({ name, verdicts: [...verdicts] }).toEqual({ name, verdicts: [expect.any(String)] });
        expect([...verdicts][0]).toMatch(name === 'join' ? /sandbox work: exceeded/ : /^ok type-checked/);
      }
    });

    test('the type-check bomb is refused by a count, the same verdict each time', async () => {
      const bomb = (n: number) => `import type { HookEvent } from 'harnessx';
export function processEvent(e: HookEvent) { return null; }
type Build<N extends number, A extends unknown[] = []> = A['length'] extends N ? A : Build<N, [...A, A['length']]>;
type T1 = Build<999>; type T2 = Build<998>; type T3 = Build<997>; type T4 = Build<996>;
export const x: [T1, T2, T3, T4] extends [T4, T3, T2, T1] ? 1 : 0 = 0; // variant ${n}
`;
      const verdicts = new Set<string>();
      // Different sources (a comment apart), so each is checked afresh rather than answered from the cache.
      for (let i = 0; i < 3; i++) verdicts.add(JSON.stringify(await compileProcessor(bomb(i))));
      expect([...verdicts]).toEqual([JSON.stringify({ ok: false, stage: 'typecheck', errors: ['the type check exceeded its work limit of 50000 checker objects (types and signatures)'] })]);
    });
  });

  test('a verdict the clock gave is not cached: the next ask checks again', async () => {
    const source = REPEATED_STATE_GUARD + '\n// clock';
    const first = compileProcessor(source, { timeoutMs: 1, heapMb: 512 });
    await expect(first).resolves.toMatchObject({ ok: false, errors: [expect.stringMatching(/1 ms time limit/)] });
    expect(compileProcessor(source, { timeoutMs: 1, heapMb: 512 })).not.toBe(first);
  });
});

describe('stored files verify and heal', () => {
  const fresh = () => new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-verify-')));
  const config = seedHarness();

  test('a tampered harness file is refused under its id, a truncated one is named, and putting it again repairs it', async () => {
    const store = fresh();
    const id = await store.putHarness(config);
    const path = store.harnessPath(id);
    writeFileSync(path, JSON.stringify({ ...config, name: 'tampered' }));
    await expect(store.getHarness(id)).rejects.toThrow(new RegExp(`harness file ${id}.json is corrupt: its content is harness hx-[0-9a-f]{16}, not ${id}`));
    await store.putHarness(config);
    await expect(store.getHarness(id)).resolves.toEqual(config);
    truncateSync(path, 40);
    const error = await store.getHarness(id).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(`harness file ${id}.json is corrupt: it is not valid JSON`);
    expect((error as Error).message).not.toContain(readFileSync(join(store.root, 'harnesses', readdirSync(join(store.root, 'harnesses')).find((f) => f.includes('.corrupt-'))!), 'utf8').slice(0, 20));
    expect(await store.putHarness(config)).toBe(harnessId(config));
    await expect(store.getHarness(id)).resolves.toEqual(config);
  });

  test('a torn last line in audit.jsonl is set aside with a warning; appends and reads go on', async () => {
    const store = fresh();
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const record = (key: string): AuditRecord => ({ runId: 'r1', key, round: 1, stage: 'gate', kind: 'info', payload: {}, ts: '2026-12-06T00:00:00Z' }) as unknown as AuditRecord;
      await store.appendAudit(record('a'));
      appendFileSync(join(store.root, 'runs', 'r1', 'audit.jsonl'), '{"runId":"r1","key":"torn","rou');
      expect((await store.readAudit('r1')).map((r) => r.key)).toEqual(['a']);
      expect(await store.appendAudit(record('b'))).toBe(true);
      expect(await store.appendAudit(record('a'))).toBe(false);
      expect((await store.readAudit('r1')).map((r) => r.key)).toEqual(['a', 'b']);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/torn last line .* was set aside/));
      // A damaged line in the middle (written by an older version) is skipped with a warning, not fatal.
      appendFileSync(join(store.root, 'runs', 'r1', 'audit.jsonl'), 'not json\n');
      expect(await new ArtifactStore(store.root).appendAudit(record('c'))).toBe(true);
      expect((await store.readAudit('r1')).map((r) => r.key)).toEqual(['a', 'b', 'c']);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/line 3 is damaged/));
    } finally {
      warn.mockRestore();
    }
  });
});

describe('memorisation is reward hacking', () => {
  const gsm8k = getBenchmark('gsm8k');
  const fnv = (text: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (h >>> 0).toString(16).padStart(8, '0');
  };
  const answerOf = (id: string) => String(gsm8k.referenceSolution(id).at(-1)!.args.answer);
  const processorWith = (source: string) => {
    const seed = seedHarness();
    const built = applyEdits(seed, [{ op: 'insert', hook: 'before_tool', processor: { id: 'lookup', type: 'code', params: { source, smokeTests: [{ name: 'n', event: { hook: 'before_tool' }, expect: 'unchanged' }] } } }]);
    if (!built.ok) throw new Error(built.error.message);
    return { seed, candidate: built.config };
  };

  test('a before_tool processor holding a hash → answer table of the train tasks is rejected', async () => {
    const train = gsm8k.tasks().filter((t) => t.split === 'train');
    const table = train.map((t) => `'${fnv(t.instruction)}': '${answerOf(t.id)}'`).join(', ');
    const source = `import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
const TABLE: { [key: string]: string } = { ${table} };
export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult { return null; }
`;
    const { seed, candidate } = processorWith(source);
    const verdict = checkRewardHacking(gsm8k, seed, candidate);
    expect(verdict).toMatchObject({ check: 'reward_hacking', passed: false, detail: expect.stringMatching(/memorised_answers.*(final answers of \d+ tasks|hash-like literals)/) });
  });

  test('the answers alone, without hashes, are rejected too; ordinary code is not', async () => {
    // Twenty distinctive answers (three characters or more, not round numbers such as 100 or 250).
    const answers = gsm8k.tasks().filter((t) => t.split === 'train').map((t) => answerOf(t.id)).filter((a) => a.length >= 3 && !/^\d{1,2}0+$/.test(a)).slice(0, 20);
    const { seed, candidate } = processorWith(`export function processEvent() { const known = [${answers.map((a) => JSON.stringify(a)).join(', ')}]; return known.length ? null : null; }`);
    expect(checkRewardHacking(gsm8k, seed, candidate)).toMatchObject({ passed: false, detail: expect.stringMatching(/final answers of \d+ tasks/) });
    const plain = processorWith(REPEATED_STATE_GUARD);
    expect(checkRewardHacking(gsm8k, plain.seed, plain.candidate)).toMatchObject({ passed: true });
  });
});

describe('bounded inputs', () => {
  test('--harness /dev/zero is refused after a bounded read; a file that is not JSON is not echoed', () => {
    expect(() => readHarnessFile('/dev/zero', 'sim:small')).toThrow(/--harness \/dev\/zero: the file is larger than 8388608 bytes/);
    const secret = join(mkdtempSync(join(tmpdir(), 'hx-secret-')), 'passwd');
    writeFileSync(secret, 'root:x:0:0:root:/root:/bin/bash\n');
    const error = (() => {
      try {
        readHarnessFile(secret, 'sim:small');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/is not valid JSON/);
    expect(error?.message).not.toContain('root:x');
  });

  test('a run seed longer than 200 characters is refused, naming the field', () => {
    const parsed = evolveInputSchema().safeParse({ benchmark: 'blocksworld', seed: 'x'.repeat(2_000_000) });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(inputProblems(parsed.error)).toContain('seed: seed is longer than 200 characters');
  });
});

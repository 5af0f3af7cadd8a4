import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { withoutHostPaths } from '../../activities/boundary';
import { checkTaskIds } from '../../activities/services';
import { evolveInputSchema, inputProblems, workflowIdProblem } from '../../aegis/run-input';
import { verifyCodeProcessors } from '../../aegis/gate';
import { getBenchmark } from '../../benchmarks/registry';
import { HarnessConfigError, parseHarnessConfig } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { callSandboxed } from '../../harness/processors/code';
import { compileProcessor, sandboxProgram, transpile } from '../../harness/sandbox/compile-processor';
import { capProblems, jsonBoundsProblem, runIdProblem, scrubHostPaths, taskIdProblem } from '../../harness/sandbox/input-bounds';
import { DEFAULT_SANDBOX_LIMITS, SandboxLimits } from '../../harness/sandbox/quickjs-sandbox';
import { runInSandboxThread } from '../../harness/sandbox/sandbox-host';
import { UsageError } from '../../cli/errors';
import { readVerifiedHarness } from '../../cli/options';
import { ArtifactStore } from '../../store/artifact-store';
import { runProcessor } from '../helpers/processor-harness';
import { attempt, beforeModel, GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';

/**
 * The attacks of issue 17, through the project's own functions: each must be stopped with a reason, and
 * the host must stay small, live and consistent. Cases that need a real worker (heartbeats of a running
 * activity, the worker's RSS after a seed-harness attack) belong in the integration suite.
 */
const ROOT = resolve(__dirname, '../..');
const TSX = require.resolve('tsx/cjs');
jest.setTimeout(120_000);

/** Runs `code` in a fresh Node process that loads TypeScript through tsx; resolves with its stdout. */
function nodeChild(code: string, args: string[] = []): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(process.execPath, ['--require', TSX, ...args, '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<string>((resolveDone, reject) => child.on('exit', (c) => (c === 0 ? resolveDone(out) : reject(new Error(`child exited ${c}: ${err.slice(-2000)}`)))));
  return { child, done };
}

describe('sandbox limits hold for every kind of allocation', () => {
  // The largest work budget a processor may ask for: these bombs charge their builtins' work too, and must reach the memory limit first.
  const call = (body: string) => callSandboxed(sandboxProgram(transpile(attempt(body))), { event: beforeModel([]), instruction: 'x', admissibleActions: null, state: {} }, 1000);

  test.each([
    ['a hundred 1 MiB strings', "const keep: string[] = []; for (let i = 0; i < 100; i++) keep.push('x'.repeat(1 << 20) + i);"],
    ['a hundred arrays of 256k numbers', 'const keep: number[][] = []; for (let i = 0; i < 100; i++) keep.push(new Array(1 << 18).fill(i));'],
    ['objects without end', 'const keep: unknown[] = []; while (true) keep.push({ a: 1, b: [1, 2, 3] });'],
    ['a hundred 1 MiB ArrayBuffers', 'const keep: ArrayBuffer[] = []; for (let i = 0; i < 100; i++) keep.push(new ArrayBuffer(1 << 20));'],
    ['a doubling string bomb', "let s = 'x'; const keep: string[] = []; while (true) { keep.push(s); s = s + s; }"],
  ])('stops %s at the memory limit', async (_name, body) => {
    const r = await call(body);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/sandbox memory: exceeded the 16 MiB memory limit/) });
  });

  test('the same allocations within the limit still run (the limit is not a blanket refusal)', async () => {
    const r = await call("const keep: string[] = []; for (let i = 0; i < 4; i++) keep.push('x'.repeat(1 << 20) + i); ctx.state.n = keep.length;");
    expect(r).toMatchObject({ ok: true, state: { n: 4 } });
  });

  test('a busy loop is stopped by its work budget, with the ticks it used', async () => {
    const r = await runInSandboxThread('function f() { while (true) {} }', 'f', '', DEFAULT_SANDBOX_LIMITS);
    expect(r).toMatchObject({ ok: false, kind: 'work', ticks: DEFAULT_SANDBOX_LIMITS.workTicks + 1, message: expect.stringMatching(/work limit of 400 ticks/) });
  });

  test('the backstop still ends a call that outlives it, and the sandbox works afterwards', async () => {
    const limits: SandboxLimits = { ...DEFAULT_SANDBOX_LIMITS, workTicks: 1e9, backstopMs: 1000 };
    const r = await runInSandboxThread('function f() { for (;;) {} }', 'f', '', limits);
    expect(r).toMatchObject({ ok: false, kind: 'backstop', message: expect.stringMatching(/1000 ms backstop/) });
    await expect(runInSandboxThread("function f() { return 'fine'; }", 'f', '', DEFAULT_SANDBOX_LIMITS)).resolves.toMatchObject({ ok: true, output: 'fine' });
  });

  test('host RSS grows by less than 256 MiB over twenty memory bombs (measured in a fresh process)', async () => {
    const { done } = nodeChild(`
      const { loadSandbox, runInSandbox, DEFAULT_SANDBOX_LIMITS } = require('./harness/sandbox/quickjs-sandbox');
      const bombs = [
        "function f(){ const k=[]; for(let i=0;i<100;i++) k.push('x'.repeat(1<<20)+i); return ''; }",
        "function f(){ const k=[]; for(let i=0;i<100;i++) k.push(new Array(1<<18).fill(i)); return ''; }",
        "function f(){ const k=[]; while(true) k.push({a:1,b:[1,2,3]}); }",
        "function f(){ const k=[]; for(let i=0;i<100;i++) k.push(new ArrayBuffer(1<<20)); return ''; }",
      ];
      (async () => {
        await loadSandbox();
        const rss0 = process.memoryUsage().rss; let peak = rss0; const kinds = [];
        for (let round = 0; round < 5; round++) for (const b of bombs) {
          const r = runInSandbox(await loadSandbox(), b, 'f', '', { ...DEFAULT_SANDBOX_LIMITS, workTicks: 100000 });
          kinds.push(r.ok ? 'ok' : r.kind);
          peak = Math.max(peak, process.memoryUsage().rss);
        }
        console.log(JSON.stringify({ kinds, growthMiB: (peak - rss0) / 2 ** 20 }));
      })();`);
    const { kinds, growthMiB } = JSON.parse(await done) as { kinds: string[]; growthMiB: number };
    expect(kinds).toEqual(Array(20).fill('memory'));
    // Before the fix one such loop took the host from 0.3 to 2.5 GB (+2.2 GB). Measured after it: about 60 MiB
    // alone, 129.6 MiB in a clean-clone CI run with the other unit suites beside it (a peak of RSS, which
    // garbage not yet collected and the sandbox's wasm memory inflate under load): 256 keeps an 8× margin
    // below the bug and is not a coin toss under load.
    expect(growthMiB).toBeLessThan(256);
  });
});

describe('the same candidate gets the same verdict whatever the load', () => {
  const busy: ChildProcess[] = [];
  beforeAll(() => {
    for (let i = 0; i < 2; i++) busy.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  });
  afterAll(() => {
    for (const child of busy) child.kill('SIGKILL');
  });

  test('20 runs at a budget of exactly its ticks all pass with the same count; 20 at one tick less all fail', async () => {
    const program = 'function f() { let s = 0; for (let i = 0; i < 300000; i++) s += i % 7; return String(s); }';
    const probe = await runInSandboxThread(program, 'f', '', { ...DEFAULT_SANDBOX_LIMITS, workTicks: 100_000 });
    expect(probe.ok).toBe(true);
    const needed = probe.ticks;
    const verdicts: string[] = [];
    for (let i = 0; i < 20; i++) {
      const pass = await runInSandboxThread(program, 'f', '', { ...DEFAULT_SANDBOX_LIMITS, workTicks: needed });
      const fail = await runInSandboxThread(program, 'f', '', { ...DEFAULT_SANDBOX_LIMITS, workTicks: needed - 1 });
      verdicts.push(`${pass.ok ? 'ok' : pass.kind}:${pass.ticks}|${fail.ok ? 'ok' : fail.kind}:${fail.ticks}`);
    }
    expect(new Set(verdicts)).toEqual(new Set([`ok:${needed}|work:${needed}`]));
  });
});

describe('the type-check is isolated and bounded', () => {
  // About 700 characters of recursive tuple types: ~30 s and ~0.5 GB of checking on the test machine.
  const PATHOLOGICAL = `import type { HookEvent } from 'harnessx';
export function processEvent(e: HookEvent) { return null; }
type Build<N extends number, A extends unknown[] = []> = A['length'] extends N ? A : Build<N, [...A, A['length']]>;
type T1 = Build<999>; type T2 = Build<998>; type T3 = Build<997>; type T4 = Build<996>;
export const x: [T1, T2, T3, T4] extends [T4, T3, T2, T1] ? 1 : 0 = 0;
`;

  test('the event loop keeps ticking while a pathological type is checked; the check is rejected at its work limit', async () => {
    let beats = 0;
    const heartbeat = setInterval(() => beats++, 20);
    try {
      const verdict = compileProcessor(PATHOLOGICAL);
      const r = await verdict;
      // A count of the checker's types and signatures decides, never the clock (issue 27 item 6).
      expect(r).toMatchObject({ ok: false, stage: 'typecheck', errors: [expect.stringMatching(/exceeded its work limit of 50000 checker objects/)] });
      // Before, the check ran on this thread and nothing else ran for 11 s; here the timer fired throughout.
      expect(beats).toBeGreaterThanOrEqual(5);
      // A deterministic verdict is cached by source hash: asking again gives the same answer without checking again.
      expect(compileProcessor(PATHOLOGICAL)).toBe(verdict);
    } finally {
      clearInterval(heartbeat);
    }
    // The checker thread was replaced: ordinary code still checks.
    await expect(compileProcessor(REPEATED_STATE_GUARD)).resolves.toMatchObject({ ok: true });
  });
});

describe('every code processor is verified wherever it came from', () => {
  const bench = getBenchmark('blocksworld');
  const withCode = (params: Record<string, unknown>) => {
    const base = seedHarness('sim:small');
    return parseHarnessConfig({ ...base, hooks: { ...base.hooks, before_model: [...base.hooks.before_model, { id: 'evolved', type: 'code', params }] } });
  };

  test('accepts a processor that passes the gate checks', async () => {
    await expect(verifyCodeProcessors(withCode({ source: REPEATED_STATE_GUARD, smokeTests: GUARD_SMOKE_TESTS }), bench)).resolves.toMatchObject({ passed: true, detail: '1 code processor(s) verified' });
    await expect(verifyCodeProcessors(seedHarness('sim:small'), bench)).resolves.toMatchObject({ passed: true, detail: 'no code processors' });
  });

  test('rejects code that never type-checks, loops, or reaches for host files, naming the processor', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ source: 'export const processEvent = 3;', smokeTests: GUARD_SMOKE_TESTS }, 'compile', /typecheck/],
      [{ source: attempt('while (true) {}'), smokeTests: [GUARD_SMOKE_TESTS[0]] }, 'smoke_test', /work limit/],
      [{ source: attempt("const f = 'readFileSync'; if (g[f]) return null;"), smokeTests: [GUARD_SMOKE_TESTS[0]] }, 'reward_hacking', /host modules/],
    ];
    for (const [params, stage, reason] of cases) {
      const v = await verifyCodeProcessors(withCode(params), bench);
      expect(v).toMatchObject({ passed: false, problems: [{ hook: 'before_model', processorId: 'evolved', stage, reason: expect.stringMatching(reason) }] });
    }
  });
});

describe('code that skipped the gate never runs unchecked', () => {
  test('a code processor refuses its first event until its code passes the checks, and says why', async () => {
    const looping = { source: attempt('while (true) {}'), smokeTests: [GUARD_SMOKE_TESTS[0]] };
    await expect(runProcessor('code', looping, beforeModel(['a on b']))).rejects.toThrow(/unverified code processor refused to run: smoke_test: .*work limit/);
    const untyped = { source: 'export function processEvent(e: number): string { return "x"; }', smokeTests: [GUARD_SMOKE_TESTS[0]] };
    await expect(runProcessor('code', untyped, beforeModel(['a on b']))).rejects.toThrow(/unverified code processor refused to run: compile: typecheck/);
    const { out } = await runProcessor('code', { source: REPEATED_STATE_GUARD, smokeTests: GUARD_SMOKE_TESTS }, beforeModel(['a on b']));
    expect(out).toEqual([beforeModel(['a on b'])]);
  });
});

describe('inputs are bounded at the edge', () => {
  test.each(['..', '.', '.hidden', 'a/b', 'a..b', 'x'.repeat(129), '', 'run id', 'a\\b'])('the run id %j is refused', (id) => {
    expect(runIdProblem(id)).not.toBeNull();
    expect(workflowIdProblem(id)).toMatch(/^workflow id/);
    expect(() => new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-rt-'))).runDir(id)).toThrow(/unsafe run id/);
  });

  test('ordinary run and task ids pass', () => {
    for (const id of ['it-2rounds', 'run-1', 'evolve-gsm8k-2026.11.30', 'A_b-9']) expect(runIdProblem(id)).toBeNull();
    for (const id of ['gsm8k/12', 'tau2-retail/3', 'humaneval/HumanEval:7']) expect(taskIdProblem(id)).toBeNull();
    for (const id of ['gsm8k/../x', '/etc/passwd', 'a//b', 'gsm8k/.x']) expect(taskIdProblem(id)).not.toBeNull();
  });

  const nested = (depth: number) => {
    let v: unknown = 'leaf';
    for (let i = 0; i < depth; i++) v = { v };
    return v;
  };

  test('params nested 10,000 deep are a validation problem, not a stack overflow', () => {
    const base = seedHarness('sim:small');
    const deep = { ...base, hooks: { ...base.hooks, before_model: [{ id: 'deep', type: 'code', params: nested(10_000) }] } };
    let error: unknown;
    try {
      parseHarnessConfig(deep);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HarnessConfigError);
    expect((error as HarnessConfigError).issues).toEqual(['the harness config is nested deeper than 32 levels']);
    const input = evolveInputSchema().safeParse({ benchmark: 'gsm8k', seedHarness: deep });
    expect(input.success).toBe(false);
    if (!input.success) expect(inputProblems(input.error)).toEqual(['seedHarness: seedHarness is nested deeper than 32 levels']);
    const resume = evolveInputSchema().safeParse({ benchmark: 'gsm8k', resume: nested(10_000) });
    expect(resume.success).toBe(false);
  });

  test('size bounds: wide values and huge strings are refused too', () => {
    expect(jsonBoundsProblem(Array(200_000).fill(1))).toMatch(/more than 100000 values/);
    expect(jsonBoundsProblem({ s: 'x'.repeat(3_000_000) })).toMatch(/larger than 2000000 characters/);
    expect(jsonBoundsProblem(nested(31))).toBeNull();
  });

  test('failure messages carry the first problems and a count, without host paths', () => {
    const many = Array.from({ length: 9999 }, (_, i) => `hooks.x${i}: bad at /work/secret/dir/file${i}.ts:12`);
    const capped = capProblems(many);
    expect(capped).toHaveLength(21);
    expect(capped[20]).toBe('… and 9979 more problem(s)');
    expect(capped.join('\n')).not.toMatch(/\/work|secret/);
    expect(scrubHostPaths("ENOENT: open '/home/u/.harnessx/data/x.json' at file:///srv/app/a.js")).toBe("ENOENT: open '<path>' at <path>");
    expect(scrubHostPaths('hooks.before_model.0.params: expected string, not a/b')).toBe('hooks.before_model.0.params: expected string, not a/b');
    const wide = evolveInputSchema().safeParse(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`bogus${i}`, i])));
    expect(wide.success).toBe(false);
    if (!wide.success) expect(JSON.stringify(inputProblems(wide.error)).length).toBeLessThan(8000);
  });
});

describe('the store never trusts its own bytes', () => {
  const blobFile = (root: string, ref: string) => {
    const hex = ref.slice('sha256:'.length);
    return join(root, 'artifacts', hex.slice(0, 2), `${hex}.json.gz`);
  };

  test('a truncated blob is named on read and rewritten by the next put of the same content', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hx-rt-store-'));
    const store = new ArtifactStore(root);
    const value = { traces: Array.from({ length: 500 }, (_, i) => ({ i, text: `step ${i}` })) };
    const ref = await store.put(value);
    truncateSync(blobFile(root, ref), Math.floor(statSync(blobFile(root, ref)).size / 2));
    await expect(store.get(ref)).rejects.toThrow(new RegExp(`artifact ${ref} is corrupt in the store`));
    expect(await store.put(value)).toBe(ref);
    expect(await store.get(ref)).toEqual(value);
    // Partial again and never read: the put notices on its own (the gzip trailer does not match).
    truncateSync(blobFile(root, ref), 10);
    expect(await store.put(value)).toBe(ref);
    expect(await store.get(ref)).toEqual(value);
  });

  test('a blob whose bytes decompress to other content is refused, not returned', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hx-rt-store-'));
    const store = new ArtifactStore(root);
    const ref = await store.put({ answer: 42 });
    const forged = await store.put({ answer: 41 });
    writeFileSync(blobFile(root, ref), readFileSync(blobFile(root, forged)));
    await expect(store.get(ref)).rejects.toThrow(/its content hashes to sha256:/);
    expect(await store.put({ answer: 42 })).toBe(ref);
    expect(await store.get(ref)).toEqual({ answer: 42 });
  });

  test('a corrupt array blob is rewritten by the next arrayWriter of the same elements', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hx-rt-store-'));
    const store = new ArtifactStore(root);
    const write = async () => {
      const w = store.arrayWriter();
      for (let i = 0; i < 100; i++) w.add({ i });
      return w.finish();
    };
    const ref = await write();
    truncateSync(blobFile(root, ref), 20);
    await expect(write()).resolves.toBe(ref);
    expect(await store.get<unknown[]>(ref)).toHaveLength(100);
  });

  test('two processes appending the same audit keys at once write each key exactly once', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hx-rt-audit-'));
    const N = 1500;
    const appender = `
      const { ArtifactStore } = require('./store/artifact-store');
      const store = new ArtifactStore(${JSON.stringify(root)});
      (async () => {
        let appended = 0;
        for (let i = 0; i < ${N}; i++)
          if (await store.appendAudit({ key: 'k' + i, runId: 'race', round: i, stage: 'ship', kind: 'info', payload: { by: process.pid }, evidenceRefs: [], ts: 't' })) appended++;
        console.log(appended);
      })();`;
    const runs = [nodeChild(appender), nodeChild(appender)];
    const appended = (await Promise.all(runs.map((r) => r.done))).map((out) => Number(out.trim()));
    const keys = (await new ArtifactStore(root).readAudit('race')).map((r) => r.key);
    expect(keys).toHaveLength(N);
    expect(new Set(keys).size).toBe(N);
    expect(appended[0] + appended[1]).toBe(N);
    expect(readdirSync(join(root, 'runs', 'race'))).toEqual(['audit.jsonl']); // the lock is released
  });
});

describe('the wiring: activity boundary and CLI', () => {
  const failureOf = (f: () => void): { type?: string; nonRetryable?: boolean; message: string } | null => {
    try {
      f();
      return null;
    } catch (e) {
      return e as { type?: string; nonRetryable?: boolean; message: string };
    }
  };

  test('task ids: the benchmark\'s own pass; unknown, malformed and a wrong benchmark fail non-retryably, capped and named', () => {
    const ids = getBenchmark('blocksworld').tasks().slice(0, 3).map((t) => t.id);
    expect(failureOf(() => checkTaskIds({ benchmark: 'blocksworld', taskIds: ids }, ['taskIds']))).toBeNull();
    const unknown = failureOf(() => checkTaskIds({ benchmark: 'blocksworld', taskIds: [...ids, 'blocksworld/nope'] }, ['taskIds']));
    expect(unknown).toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: expect.stringContaining('blocksworld has no task "blocksworld/nope"') });
    expect(unknown!.message).not.toContain(ids[0]);
    const many = failureOf(() => checkTaskIds({ benchmark: 'blocksworld', gateTaskIds: Array.from({ length: 5000 }, (_, i) => `../${i}`) }, ['gateTaskIds']));
    expect(many!.message).toMatch(/gateTaskIds: task id "\.\.\/0" is not safe[\s\S]*… and 4980 more problem\(s\)/);
    expect(many!.message.length).toBeLessThan(8000);
    // A task of another benchmark is unknown here too.
    expect(failureOf(() => checkTaskIds({ benchmark: 'gsm8k', taskIds: [ids[0]] }, ['taskIds']))).toMatchObject({ type: 'InvalidInput' });
    expect(failureOf(() => checkTaskIds({ benchmark: 'no-such', taskIds: [] }, ['taskIds']))).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/unknown suite "no-such"; this worker knows: blocksworld/) });
  });

  test('failures leave the boundary without host paths, keeping their type', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-rt-')));
    let error: unknown;
    try {
      await store.get(`sha256:${'0'.repeat(64)}`);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toMatch(/\/tmp\//);
    const cleaned = withoutHostPaths(error) as Error;
    expect(cleaned).toBe(error);
    expect(cleaned.message).toMatch(/^artifact sha256:0+ is not in the store at <path>$/);
    expect(cleaned.stack).not.toMatch(new RegExp(ROOT.replace(/[/.]/g, '\\$&')));
    expect(cleaned.name).toBe('ArtifactUnavailable');
  });

  test('--harness: a harness whose code fails verification is a usage error naming the file; a good one loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-rt-'));
    const base = seedHarness('sim:small');
    const withCode = (params: Record<string, unknown>) => ({ ...base, hooks: { ...base.hooks, before_model: [...base.hooks.before_model, { id: 'evolved', type: 'code', params }] } });
    const bad = join(dir, 'bomb.json');
    writeFileSync(bad, JSON.stringify(withCode({ source: attempt("let s = 'x'; const keep: string[] = []; while (true) { keep.push(s); s = s + s; }"), smokeTests: [GUARD_SMOKE_TESTS[0]] })));
    const error = await readVerifiedHarness(bad, 'sim:small', 'blocksworld').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(new RegExp(`^--harness ${bad.replace(/[/.]/g, '\\$&')}: code processors fail verification:\\n  - hooks\\.before_model\\.evolved: smoke_test: .*memory limit`));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(withCode({ source: REPEATED_STATE_GUARD, smokeTests: GUARD_SMOKE_TESTS })));
    await expect(readVerifiedHarness(good, 'sim:small', 'blocksworld')).resolves.toMatchObject({ hooks: { before_model: expect.arrayContaining([expect.objectContaining({ id: 'evolved' })]) } });
  });
});

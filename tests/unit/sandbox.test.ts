import { compileProcessor, sandboxProgram, transpile } from '../../harness/sandbox/compile-processor';
import { loadSandbox, runInSandbox } from '../../harness/sandbox/quickjs-sandbox';
import { callSandboxed, verifyCodeProcessor } from '../../harness/processors/code';
import { runProcessor } from '../helpers/processor-harness';
import { attempt, beforeModel, GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';

const guardParams = { source: REPEATED_STATE_GUARD, smokeTests: GUARD_SMOKE_TESTS };
// The first type-check starts the checker thread (TypeScript and its libs load there): seconds on a loaded machine.
jest.setTimeout(60_000);

describe('compiling evolved processor code', () => {
  test('a processor that matches the interface type-checks and compiles', async () => {
    const r = await compileProcessor(REPEATED_STATE_GUARD);
    expect(r).toMatchObject({ ok: true });
    expect(r.ok && r.js).toContain('exports.processEvent');
  });

  test.each([
    ['a wrong signature', 'export function processEvent(event: number): string { return "x"; }', 'typecheck', /processor interface/],
    ['no processEvent export', 'export function handle() { return null; }', 'typecheck', /processEvent/],
    ['Node globals', "import type { HookEvent } from 'harnessx';\nexport function processEvent(e: HookEvent) { process.exit(1); return null; }", 'typecheck', /Cannot find name 'process'/],
    ['fetch (no DOM typings)', "import type { HookEvent } from 'harnessx';\nexport function processEvent(e: HookEvent) { fetch('http://x'); return null; }", 'typecheck', /Cannot find name 'fetch'/],
    ['a module import', "import { readFileSync } from 'fs';\nexport function processEvent() { readFileSync('/etc/passwd'); return null; }", 'imports', /only "import type/],
    ['a dynamic import', "export function processEvent() { import('fs'); return null; }", 'imports', /dynamic import/],
    ['a syntax error', 'export function processEvent( {', 'syntax', /expected/],
  ])('rejects %s', async (_name, source, stage, message) => {
    const r = await compileProcessor(source);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.stage).toBe(stage);
    expect(r.errors.join('\n')).toMatch(message);
  });
});

describe('the QuickJS sandbox', () => {
  const run = async (body: string, timeoutMs = 100) => callSandboxed(sandboxProgram(transpile(attempt(body))), { event: beforeModel([]), instruction: 'x', admissibleActions: null, state: {} }, timeoutMs);

  // The escape suite: each attempt either finds nothing to use or ends as a guest error; the host is untouched.
  test.each<[string, string, RegExp, number?]>([
    ['file system via require', "g.require('fs').readFileSync('/etc/passwd');", /require is not a function|not a function|undefined/],
    ['file system via process.binding', "g.process.binding('fs');", /undefined/],
    ['child processes', "g.process.mainModule.require('child_process').execSync('id');", /undefined/],
    ['network via fetch', "g.fetch('http://127.0.0.1:1');", /not a function/],
    ['environment variables', "if (g.process.env.HOME) throw new Error('leak');", /undefined/],
    ['the host Function via a constructor chain', "const P = (({}).constructor.constructor('return this.process'))(); P.exit(1);", /undefined/],
    ['QuickJS std/os modules', "g.std.loadFile('/etc/passwd');", /undefined/],
    ['an infinite loop', 'while (true) {}', /work limit/],
    ['a memory bomb', "let s = 'x'; const keep = []; while (true) { keep.push(s); s = s + s; }", /memory limit/],
    ['a memory bomb of small objects', 'const keep: unknown[] = []; while (true) keep.push({ a: 1, b: [1, 2, 3] });', /memory limit/, 2000],
    ['a huge allocation', 'new ArrayBuffer(2 ** 30);', /memory limit/],
    ['runaway recursion', 'const f = (n: number): number => f(n + 1) + 1; f(0);', /stack limit/],
  ])('stops %s', async (_name, body, reason, timeoutMs = 100) => {
    const r = await run(body as string, timeoutMs as number);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  test('host prototype pollution inside the guest does not reach the host', async () => {
    const r = await run("(Object.prototype as any).polluted = 'yes'; (Array.prototype as any).push = null; ctx.state.done = true;");
    expect(r).toMatchObject({ ok: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(typeof [].push).toBe('function');
    // Each call gets a fresh runtime: the next call sees clean prototypes too.
    const next = await run("if ((Object.prototype as any).polluted) throw new Error('shared state between calls');");
    expect(next).toMatchObject({ ok: true });
  });

  test('the guest sees only JSON: no functions or host objects cross the boundary', async () => {
    const quickjs = await loadSandbox();
    const r = runInSandbox(quickjs, 'function probe(s) { return JSON.stringify([typeof globalThis.process, typeof require, typeof setTimeout, typeof s]); }', 'probe', '{}');
    expect(r).toMatchObject({ ok: true, output: '["undefined","undefined","undefined","string"]' });
  });

  test('after every escape attempt the sandbox still runs good code', async () => {
    const ok = await callSandboxed(sandboxProgram(transpile(REPEATED_STATE_GUARD)), { event: beforeModel(['a', 'b', 'a']), instruction: 'x', admissibleActions: null, state: { seen: ['Current state:\n- a', 'Current state:\n- b'] } }, 100);
    expect(ok).toMatchObject({ ok: true, changed: true });
  });

  test('a result that breaks the hook contract is refused', async () => {
    const r = await run("return { ...event, request: { ...event.request, purpose: 'plan' } } as any;");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/request.purpose may not be modified/);
  });

  test('the program wrapper requires processEvent', async () => {
    const quickjs = await loadSandbox();
    const r = runInSandbox(quickjs, sandboxProgram('exports.other = 1;'), '__hx_call', JSON.stringify({ event: {}, state: {} }));
    expect(r).toMatchObject({ ok: false, kind: 'error' });
  });
});

describe('verifying a code processor before it ships', () => {
  test('accepts a processor whose smoke tests pass', async () => {
    await expect(verifyCodeProcessor('before_model', guardParams)).resolves.toMatchObject({ ok: true });
  });

  test('rejects a processor without smoke tests, with a failing smoke test, or on the wrong hook', async () => {
    await expect(verifyCodeProcessor('before_model', { source: REPEATED_STATE_GUARD, smokeTests: [] })).resolves.toMatchObject({ ok: false, stage: 'params', reason: expect.stringMatching(/at least one smoke test/) });
    const wrongExpectation = [{ ...GUARD_SMOKE_TESTS[0], expect: 'changed' }];
    await expect(verifyCodeProcessor('before_model', { source: REPEATED_STATE_GUARD, smokeTests: wrongExpectation })).resolves.toMatchObject({ ok: false, stage: 'smoke_test', reason: expect.stringMatching(/expected changed, got unchanged/) });
    await expect(verifyCodeProcessor('after_model', guardParams)).resolves.toMatchObject({ ok: false, stage: 'smoke_test', reason: expect.stringMatching(/before_model event to a processor on after_model/) });
  });

  test('rejects code that loops forever, with the reason', async () => {
    const looping = { source: attempt('while (true) {}'), smokeTests: [GUARD_SMOKE_TESTS[0]] };
    await expect(verifyCodeProcessor('before_model', looping)).resolves.toMatchObject({ ok: false, stage: 'smoke_test', reason: expect.stringMatching(/work limit/) });
  });

  test('rejects code that does not type-check', async () => {
    await expect(verifyCodeProcessor('before_model', { source: 'export const processEvent = 3;', smokeTests: GUARD_SMOKE_TESTS })).resolves.toMatchObject({ ok: false, stage: 'compile' });
  });
});

describe('the code processor in a harness', () => {
  test('keeps its state across events of an episode and writes notes to the trace', async () => {
    const { out: first, instance, ctx } = await runProcessor('code', guardParams, beforeModel(['a on b']));
    expect(first[0]).toEqual(beforeModel(['a on b']));
    const second: unknown[] = [];
    for await (const e of instance.process(beforeModel(['a on b', 'b on a', 'a on b']), ctx)) second.push(e);
    const parts = (second[0] as ReturnType<typeof beforeModel>).request.parts as Array<{ kind: string }>;
    expect(parts.map((p) => p.kind)).toEqual(['loop_warning']);
    expect(ctx.notes.map(([k]) => k)).toEqual(['code:repeat']);
  });
});

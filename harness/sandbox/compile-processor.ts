import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { workerSource } from './sandbox-host';
import { boundedMemo } from '../bounded-memo';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type ts from 'typescript';

/** Loaded on first use: most processes that import the harness never compile code (~300 ms saved). */
let tsModule: typeof ts | null = null;
const T = (): typeof ts => (tsModule ??= meterChecker(require('typescript') as typeof ts));

/**
 * The type-checker's work, counted deterministically: every type and signature the checker creates
 * goes through TypeScript's object allocator, which is wrapped here to count them. A check that creates
 * more than its budget is stopped by an exception from inside the allocator, so the verdict on a
 * pathological type is a count (the same on a busy and an idle machine), reached in seconds, where a wall
 * clock limit gave ok, FAIL, ok for one source near the limit. (TypeScript's own cancellation token is
 * polled only at function and class declarations, never inside one type alias, so it cannot do this.)
 */
export const checkerWork = { used: 0, limit: Infinity };
class CheckerBudgetExceeded extends Error {}

function meterChecker(typescript: typeof ts): typeof ts {
  type Allocator = Record<'getTypeConstructor' | 'getSignatureConstructor', () => new (...args: unknown[]) => object>;
  const internals = typescript as unknown as { objectAllocator: Allocator; setObjectAllocator(a: Partial<Allocator>): void };
  const counted = (base: new (...args: unknown[]) => object) => {
    // Reflect.construct: the base may be a class (TypeScript's services install class constructors).
    function Counted(this: object, ...args: unknown[]): object {
      if (++checkerWork.used > checkerWork.limit) throw new CheckerBudgetExceeded(`the type check exceeded its work limit of ${checkerWork.limit} checker objects (types and signatures)`);
      return Reflect.construct(base, args, Counted);
    }
    Counted.prototype = base.prototype;
    return Counted as unknown as new (...args: unknown[]) => object;
  };
  const allocator = internals.objectAllocator;
  const Type = counted(allocator.getTypeConstructor());
  const Signature = counted(allocator.getSignatureConstructor());
  // Symbols are not counted: the binder makes them for the lib files once per thread (their parsed files are
  // cached), so their count would depend on what the thread checked before. Types and signatures belong to
  // one check's checker only.
  internals.setObjectAllocator({ getTypeConstructor: () => Type, getSignatureConstructor: () => Signature });
  return typescript;
}

/**
 * Checker objects (types and signatures) one check may create. Measured: the loop-guard processor of the
 * tests needs 566; the recursive-tuple bomb grows with the square of its tuple length (Build<200>: 22,292;
 * Build<400>: 84,192 and 8 s on a loaded machine; Build<999>: ~500,000, ~50 s and 714 MB), so it is refused
 * after 50,000, a few seconds in, with the same verdict on any machine.
 */
export const DEFAULT_CHECKER_WORK = 50_000;

/**
 * Evolved processor code: a TypeScript module that exports
 *
 *   export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult
 *
 * and may import types (only types) from "harnessx". It is type-checked against the real harness types
 * (harness/types.ts, read at run time so the contract cannot drift) with no DOM or Node typings: code that
 * names process, require, fetch or timers does not compile. What does compile still runs only in the
 * QuickJS sandbox (quickjs-sandbox.ts).
 */
export const SANDBOX_API = `
/** What sandboxed processor code sees besides the event. JSON values only; no host objects. */
export interface SandboxContext {
  /** The task statement (never the task id: evolved code must work for any task). */
  readonly instruction: string;
  /** Actions valid in the current state where the environment offers them, else null. */
  readonly admissibleActions: string[] | null;
  /** Per-episode state: what this processor stored on its earlier calls. Mutate it to keep values. */
  state: { [key: string]: unknown };
  /** Records a note in the episode trace. */
  note(kind: string, data?: unknown): void;
}
/** null/undefined: pass the event on unchanged; an event of the same hook: replace it; an Interrupt: end the episode. */
export type SandboxResult = HookEvent | Interrupt | null | undefined | void;
`;

export type CompileResult = { ok: true; js: string } | { ok: false; stage: 'imports' | 'typecheck' | 'syntax'; errors: string[] };

const API_FILE = '/hx/harnessx.ts';
const SOURCE_FILE = '/hx/processor.ts';
const CHECK_FILE = '/hx/check.ts';
const CHECK_TEXT = `import { processEvent } from './processor';
import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
export const conformsToProcessorInterface: (event: HookEvent, ctx: SandboxContext) => SandboxResult = processEvent;
`;

let apiText: string | null = null;
/**
 * The module code processors compile against: harness/types.ts plus the sandbox API. In the built package
 * (dist/, compiled JavaScript) the source is not beside this file; its declaration file (types.d.ts)
 * declares the same types and is valid in a .ts module.
 */
export function harnessApiText(): string {
  const source = join(__dirname, '..', 'types.ts');
  apiText ??= readFileSync(existsSync(source) ? source : join(__dirname, '..', 'types.d.ts'), 'utf8') + SANDBOX_API;
  return apiText;
}

const options = (): ts.CompilerOptions => ({
  target: T().ScriptTarget.ES2020,
  module: T().ModuleKind.CommonJS,
  lib: ['lib.es2022.d.ts'],
  types: [],
  strict: true,
  noEmit: true,
  baseUrl: '/hx',
  paths: { harnessx: ['./harnessx.ts'] },
  skipLibCheck: true,
});

/** Parsed lib files are immutable: keep them across checks (the first check takes ~1 s, later ones ~0.1 s). */
const libCache = new Map<string, ts.SourceFile | undefined>();
const libDir = dirname(require.resolve('typescript/lib/lib.d.ts'));

function host(files: Record<string, string>): ts.CompilerHost {
  return {
    getSourceFile(fileName, languageVersion) {
      if (fileName in files) return T().createSourceFile(fileName, files[fileName], languageVersion, true);
      if (!libCache.has(fileName)) {
        let text: string | undefined;
        try {
          text = readFileSync(fileName.startsWith(libDir) ? fileName : join(libDir, fileName.replace(/^.*\//, '')), 'utf8');
        } catch {
          text = undefined;
        }
        libCache.set(fileName, text === undefined ? undefined : T().createSourceFile(fileName, text, languageVersion, true));
      }
      return libCache.get(fileName);
    },
    getDefaultLibFileName: () => join(libDir, 'lib.es2022.d.ts'),
    getDefaultLibLocation: () => libDir,
    writeFile: () => undefined,
    getCurrentDirectory: () => '/hx',
    getDirectories: () => [],
    fileExists: (f) => f in files || (f.startsWith(libDir) && libCache.has(f)) || (f.startsWith(libDir) && safeExists(f)),
    readFile: (f) => files[f] ?? (f.startsWith(libDir) ? safeRead(f) : undefined),
    getCanonicalFileName: (f) => f,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
  };
}
function safeRead(f: string): string | undefined {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return undefined;
  }
}
const safeExists = (f: string) => safeRead(f) !== undefined;

/** Only `import type … from "harnessx"` is allowed: the sandbox has no modules to load. */
function importProblems(source: ts.SourceFile): string[] {
  const problems: string[] = [];
  const visit = (node: ts.Node) => {
    if (T().isImportDeclaration(node)) {
      const from = (node.moduleSpecifier as ts.StringLiteral).text;
      const typeOnly = !!node.importClause?.isTypeOnly || (node.importClause?.namedBindings && T().isNamedImports(node.importClause.namedBindings) && node.importClause.namedBindings.elements.every((e) => e.isTypeOnly) && !node.importClause.name);
      if (from !== 'harnessx' || !typeOnly) problems.push(`line ${line(source, node)}: only "import type { … } from 'harnessx'" is allowed, not an import of "${from}"`);
    } else if (T().isImportEqualsDeclaration(node) || (T().isExportDeclaration(node) && node.moduleSpecifier)) {
      problems.push(`line ${line(source, node)}: re-exports and import = require are not allowed`);
    } else if (T().isCallExpression(node) && node.expression.kind === T().SyntaxKind.ImportKeyword) {
      problems.push(`line ${line(source, node)}: dynamic import() is not allowed`);
    }
    T().forEachChild(node, visit);
  };
  visit(source);
  return problems;
}
const line = (sf: ts.SourceFile, node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;

function describe(d: ts.Diagnostic): string {
  const text = T().flattenDiagnosticMessageText(d.messageText, ' ');
  if (!d.file || d.start === undefined) return text;
  const where = d.file.fileName === SOURCE_FILE ? 'processor.ts' : d.file.fileName === CHECK_FILE ? 'processor interface' : d.file.fileName;
  return `${where}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ${text}`;
}

const checked = boundedMemo<CompileResult>(500);
export const sourceKey = (source: string) => createHash('sha256').update(source).digest('hex');

/**
 * Type-checks against the processor interface and compiles, on the calling thread, unbounded: for the
 * checker thread below and for tests. Everything else calls compileProcessor.
 */
export function compileProcessorSync(source: string, checkerWorkLimit = DEFAULT_CHECKER_WORK): CompileResult {
  return checked(`${checkerWorkLimit}:${sourceKey(source)}`, () => {
    T();
    checkerWork.used = 0;
    checkerWork.limit = checkerWorkLimit;
    try {
      return compileUncached(source);
    } catch (e) {
      if (e instanceof CheckerBudgetExceeded) return { ok: false, stage: 'typecheck', errors: [e.message] };
      throw e;
    } finally {
      checkerWork.limit = Infinity;
    }
  });
}

export interface TypecheckLimits {
  /** Checker objects one check may create (see checkerWork): the deterministic limit that decides. */
  checkerWork?: number;
  /** Wall time for one check: only a backstop far above what the work limit allows; its verdicts are not cached. */
  timeoutMs: number;
  /** The checker thread's JavaScript heap. */
  heapMb: number;
}
export const DEFAULT_TYPECHECK_LIMITS: TypecheckLimits = { checkerWork: DEFAULT_CHECKER_WORK, timeoutMs: 60_000, heapMb: 512 };

const CHECKER_BODY = `
try {
  // Loads TypeScript and parses its libs before the first check's clock starts.
  mod.compileProcessorSync('export function processEvent() { return null; }');
} catch {}
parentPort.postMessage({ ready: true });
parentPort.on('message', (m) => {
  let result;
  try {
    result = mod.compileProcessorSync(m.source, m.checkerWork);
  } catch (e) {
    result = { ok: false, stage: 'typecheck', errors: ['the type checker failed: ' + String(e && e.message || e).split('\\n')[0]] };
  }
  parentPort.postMessage({ id: m.id, result });
});
`;

/**
 * The type-checker thread: TypeScript on its own thread and heap, so a pathological type (recursive
 * tuple types can take seconds and gigabytes) neither blocks the worker's event loop (its heartbeats,
 * timers) nor takes its memory. One check at a time; a check past its time or heap limit ends the thread
 * (the next check starts a fresh one) and rejects the candidate with the reason.
 */
class CheckerThread {
  private worker: Worker | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private nextId = 1;

  check(source: string, limits: TypecheckLimits): Promise<CompileResult> {
    const run = this.tail.then(() => this.checkNow(source, limits));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private checkNow(source: string, limits: TypecheckLimits): Promise<CompileResult> {
    if (this.worker && this.heapMb !== limits.heapMb) this.stop();
    this.heapMb = limits.heapMb;
    if (!this.worker) {
      const worker = new Worker(workerSource(require.resolve('./compile-processor'), CHECKER_BODY), {
        eval: true,
        resourceLimits: { maxOldGenerationSizeMb: limits.heapMb, maxYoungGenerationSizeMb: 32 },
        stdout: false,
        stderr: false,
      });
      this.worker = worker;
      this.ready = new Promise<boolean>((resolve) => {
        const onReady = (m: { ready?: boolean }) => m.ready && (worker.off('message', onReady), resolve(true));
        worker.on('message', onReady);
        worker.once('exit', () => resolve(false));
      });
    }
    const worker = this.worker;
    const ready = this.ready;
    worker.ref();
    const id = this.nextId++;
    return new Promise<CompileResult>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const done = (result: CompileResult, stop: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (stop) this.stop();
        else worker.unref();
        resolve(result);
      };
      const onMessage = (m: { id?: number; result?: CompileResult }) => m.id === id && done(m.result!, false);
      const onError = (e: Error) =>
        done({ ok: false, stage: 'typecheck', errors: [/heap|memory/i.test(e.message) ? `the type check exceeded its ${limits.heapMb} MB memory limit` : `the type checker failed: ${e.message.split('\n')[0]}`] }, true);
      const onExit = (code: number) => done({ ok: false, stage: 'typecheck', errors: [`the type checker thread exited (code ${code})`] }, true);
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      // The thread's start (loading TypeScript) is not the candidate's doing: its clock starts once the thread is ready.
      void ready.then((started) => {
        if (!started || settled) return;
        timer = setTimeout(() => done({ ok: false, stage: 'typecheck', errors: [`the type check exceeded its ${limits.timeoutMs} ms time limit`] }, true), limits.timeoutMs);
        worker.postMessage({ id, source, checkerWork: limits.checkerWork ?? DEFAULT_CHECKER_WORK });
      });
    });
  }

  private ready: Promise<boolean> = Promise.resolve(false);
  private heapMb = 0;
  private stop(): void {
    const worker = this.worker;
    this.worker = null;
    void worker?.terminate();
  }
}

let checker: CheckerThread | null = null;
/** Verdicts by source hash: a source gets one verdict per process, limits included. */
const verdicts = new Map<string, Promise<CompileResult>>();
const MAX_VERDICTS = 500;

/**
 * Verdicts that came from the machine, not the source (the wall-clock backstop, the heap, a dying thread):
 * never cached, so one unlucky moment cannot stick to a source until the worker restarts.
 */
const MACHINE_VERDICT = /exceeded its \d+ ms time limit|MB memory limit|type checker thread exited|the type checker failed/;

/** Type-checks and compiles on the checker thread, bounded (see CheckerThread); deterministic verdicts are cached per source text. */
export function compileProcessor(source: string, limits: TypecheckLimits = DEFAULT_TYPECHECK_LIMITS): Promise<CompileResult> {
  const key = `${limits.checkerWork ?? DEFAULT_CHECKER_WORK}:${limits.timeoutMs}:${limits.heapMb}:${sourceKey(source)}`;
  let verdict = verdicts.get(key);
  if (!verdict) {
    checker ??= new CheckerThread();
    const checking = checker.check(source, limits);
    verdict = checking;
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    verdicts.set(key, checking);
    void checking.then((r) => {
      if (!r.ok && r.errors.some((e) => MACHINE_VERDICT.test(e)) && verdicts.get(key) === checking) verdicts.delete(key);
    });
  }
  return verdict;
}

function compileUncached(source: string): CompileResult {
  const sf = T().createSourceFile(SOURCE_FILE, source, T().ScriptTarget.ES2020, true);
  const syntax = (sf as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics ?? [];
  if (syntax.length) return { ok: false, stage: 'syntax', errors: syntax.slice(0, 10).map(describe) };
  const imports = importProblems(sf);
  if (imports.length) return { ok: false, stage: 'imports', errors: imports };
  const files = { [API_FILE]: harnessApiText(), [SOURCE_FILE]: source, [CHECK_FILE]: CHECK_TEXT };
  const program = T().createProgram([SOURCE_FILE, CHECK_FILE], options(), host(files));
  const diagnostics = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics(), ...program.getGlobalDiagnostics()].filter(
    (d) => !d.file || d.file.fileName !== API_FILE,
  );
  if (diagnostics.length) return { ok: false, stage: 'typecheck', errors: diagnostics.slice(0, 10).map(describe) };
  return { ok: true, js: transpile(source) };
}

const transpiled = boundedMemo<string>(500);
/** Compiles without type-checking (rollouts run code that already passed compileProcessor: see verifyCodeProcessors). */
export function transpile(source: string): string {
  return transpiled(sourceKey(source), () => T().transpileModule(source, { compilerOptions: { target: T().ScriptTarget.ES2020, module: T().ModuleKind.CommonJS }, reportDiagnostics: false }).outputText);
}

/** The script the sandbox evaluates: the compiled module plus the JSON-in, JSON-out entry point. */
export function sandboxProgram(js: string): string {
  return `var exports = {}; var module = { exports: exports };
${js}
function __hx_call(input) {
  var p = JSON.parse(input);
  var notes = [];
  var ctx = { instruction: p.instruction, admissibleActions: p.admissibleActions, state: p.state,
    note: function (kind, data) { notes.push({ kind: String(kind), data: data === undefined ? null : data }); } };
  var fn = exports.processEvent || (module.exports && module.exports.processEvent);
  if (typeof fn !== 'function') throw new Error('the module exports no processEvent function');
  var result = fn(p.event, ctx);
  return JSON.stringify({ result: result === undefined ? null : result, state: ctx.state, notes: notes });
}`;
}

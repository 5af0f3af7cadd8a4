import { readFileSync } from 'node:fs';
import { newQuickJSWASMModuleFromVariant, newVariant, QuickJSWASMModule } from 'quickjs-emscripten-core';
import { GUEST_PRELUDE } from './guest-prelude';

/**
 * Runs untrusted JavaScript in QuickJS compiled to WebAssembly: a separate JS engine with its own heap. The
 * guest gets no host objects at all — no require, process, fetch, timers, file system, network, child
 * processes or environment — only the JSON string it is handed, and it returns a JSON string. Every call
 * gets a fresh runtime that is disposed afterwards: calls share nothing.
 *
 * Limits, and why each holds:
 * - Memory. QuickJS's own per-runtime limit cannot count what it allocates under Emscripten (its
 *   malloc_usable_size is 0 there, so it adds 8 bytes per allocation whatever the size: a hundred 1 MiB
 *   strings passed a 16 MiB limit). It still refuses any single allocation above the limit. What bounds
 *   the total is the WebAssembly memory itself: every sandbox module gets its own memory whose maximum is
 *   the module's static part plus `memoryBytes`, so no allocation of any kind (strings, arrays, objects,
 *   buffers) can take the guest past it, and the host's memory for the sandbox is that maximum, whatever
 *   the code does.
 * - Work. The verdict counts QuickJS interrupt ticks (one tick = 10,000 interrupt polls: function calls
 *   and backward jumps, regular-expression steps) plus the work builtins charge by input size (they never
 *   poll: guest-prelude.ts meters them), never wall time, so the same code on the same input gets the same
 *   verdict however loaded the machine is. A wall-clock backstop, fixed by the host and far above any
 *   budget's cost, remains as a last resort against a builtin the prelude does not meter; it is reported
 *   as its own kind and no verdict of metered code depends on it. Callers that must stay live run calls
 *   off their thread (sandbox-host.ts), where the backstop also terminates a guest stuck inside a builtin.
 * - Determinism: Date and Math.random inside the guest are a fixed clock and a PRNG seeded from the
 *   call's input (guest-prelude.ts).
 * - Stack: QuickJS's own check, kept well under the host's native stack.
 */
export interface SandboxLimits {
  /** Interrupt ticks per call (see TICKS_PER_NOMINAL_MS). */
  workTicks: number;
  /** Wall time per call after which the call is stopped whatever its tick count (builtin-heavy code). */
  backstopMs: number;
  /** Heap the guest may use beyond the engine's static part. */
  memoryBytes: number;
  /** Kept well under the host's native stack so QuickJS's check always fires before V8's. */
  stackBytes: number;
}

/**
 * Ticks a tight JavaScript loop performs per millisecond on a current x86 core (measured: 3.4–3.6 with
 * other processes loading the machine). Budgets given in milliseconds (the code processor's timeoutMs)
 * become `ms × TICKS_PER_NOMINAL_MS` ticks: a fixed amount of work, not a duration.
 */
export const TICKS_PER_NOMINAL_MS = 4;

/** Interrupt polls per tick (QuickJS's interrupt counter): builtins charge work in polls. */
export const POLLS_PER_TICK = 10_000;

/**
 * The backstop is the host's, never the code's: a processor's own config sets its work budget (timeoutMs)
 * but cannot stretch how long the host lets one call hold a thread.
 */
export const SANDBOX_BACKSTOP_MS = 30_000;

/** Work limits for a budget stated in nominal milliseconds. */
export function workLimitsFor(nominalMs: number): Pick<SandboxLimits, 'workTicks' | 'backstopMs'> {
  return { workTicks: Math.max(1, Math.round(nominalMs * TICKS_PER_NOMINAL_MS)), backstopMs: SANDBOX_BACKSTOP_MS };
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { ...workLimitsFor(100), memoryBytes: 16 << 20, stackBytes: 128 << 10 };

export type SandboxFailureKind = 'work' | 'backstop' | 'memory' | 'stack' | 'error' | 'bad_output';
export type SandboxOutcome =
  | { ok: true; output: string; ticks: number }
  | { ok: false; kind: SandboxFailureKind; message: string; ticks: number };

/** The engine's static data and stack live in its first 16 MiB (the module's declared minimum memory). */
const STATIC_BYTES = 16 << 20;
const PAGE = 65536;

/** The WebAssembly API (the project's lib settings declare no DOM types, where its typings live). */
const Wasm = (globalThis as unknown as {
  WebAssembly: { Module: new (bytes: Uint8Array) => object; Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };
}).WebAssembly;

let compiled: object | null = null;
const wasmModule = () => (compiled ??= new Wasm.Module(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'))));

const baseVariant = {
  type: 'sync',
  importFFI: async () => require('@jitl/quickjs-wasmfile-release-sync/ffi').QuickJSFFI,
  // The package's own variant loads its Emscripten module with import(), which CommonJS hosts such as
  // jest's runtime refuse; the same two files are required directly here.
  importModuleLoader: async () => {
    const loader = require('@jitl/quickjs-wasmfile-release-sync/emscripten-module');
    return loader.default ?? loader;
  },
};

/** The memory cap of each module this file created (a module's memory cannot change after it starts). */
const capOf = new WeakMap<QuickJSWASMModule, number>();
/** The module in use per memory cap; replaced after a call ends abnormally (see retire). */
const current = new Map<number, Promise<QuickJSWASMModule>>();
const currentLoaded = new Map<number, QuickJSWASMModule>();

async function newSandboxModule(memoryBytes: number): Promise<QuickJSWASMModule> {
  const memory = new Wasm.Memory({ initial: STATIC_BYTES / PAGE, maximum: Math.ceil((STATIC_BYTES + memoryBytes) / PAGE) });
  const module = await newQuickJSWASMModuleFromVariant(newVariant(baseVariant as never, { wasmModule: wasmModule(), wasmMemory: memory }) as never);
  capOf.set(module, memoryBytes);
  return module;
}

/**
 * A sandbox engine whose whole memory is capped at `memoryBytes` beyond its static part; one is shared by
 * the calls of a process (the WebAssembly module is compiled once; an instance takes about 5 ms).
 */
export function loadSandbox(memoryBytes: number = DEFAULT_SANDBOX_LIMITS.memoryBytes): Promise<QuickJSWASMModule> {
  let module = current.get(memoryBytes);
  if (!module) {
    const loading = newSandboxModule(memoryBytes);
    module = loading;
    current.set(memoryBytes, loading);
    loading.then(
      (m) => current.get(memoryBytes) === loading && currentLoaded.set(memoryBytes, m),
      () => current.get(memoryBytes) === loading && current.delete(memoryBytes),
    );
  }
  return module;
}

/**
 * After a call that ran out of memory or was interrupted, the next call gets a fresh engine: every call
 * then starts from the same engine state, so its verdict cannot depend on what ran before it.
 */
function retire(quickjs: QuickJSWASMModule): void {
  const cap = capOf.get(quickjs);
  if (cap === undefined || currentLoaded.get(cap) !== quickjs) return;
  currentLoaded.delete(cap);
  current.delete(cap);
}

/** Total bytes of the engine's WebAssembly memory (its static part plus the heap it grew). */
export function sandboxMemoryBytes(quickjs: QuickJSWASMModule): number {
  return quickjs.getWasmMemory().buffer.byteLength;
}

export const backstopMessage = (limits: SandboxLimits, ticks: number) =>
  `ran past the ${limits.backstopMs} ms backstop inside builtins (${ticks} of ${limits.workTicks} work ticks counted)`;

/** FNV-1a of the call's input: the guest's Math.random seed (the same input, the same numbers). */
function seedOf(input: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) h = Math.imul(h ^ input.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function firstLine(text: string, max = 300): string {
  const line = text.split('\n')[0];
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * Evaluates `program` (a script) and then calls the global function `entry` with `input` (a string); the
 * function must return a string. Never throws for anything the guest does.
 */
export function runInSandbox(quickjs: QuickJSWASMModule, program: string, entry: string, input: string, limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS): SandboxOutcome {
  const memoryBytes = capOf.get(quickjs) ?? limits.memoryBytes;
  const runtime = quickjs.newRuntime();
  // Refuses any single allocation above the limit (the module's memory cap bounds the total).
  runtime.setMemoryLimit(memoryBytes);
  runtime.setMaxStackSize(limits.stackBytes);
  let polled = 0;
  let charged = 0;
  // Work so far: interrupt ticks plus what builtins charged (in polls), in whole ticks.
  const work = () => polled + Math.floor(charged / POLLS_PER_TICK);
  let ticks = 0;
  let stopped: 'work' | 'backstop' | null = null;
  const started = Date.now();
  const overBudget = () => {
    ticks = work();
    if (ticks > limits.workTicks) stopped = 'work';
    return stopped !== null;
  };
  runtime.setInterruptHandler(() => {
    polled++;
    if (!overBudget() && Date.now() - started > limits.backstopMs) stopped = 'backstop';
    return stopped !== null;
  });
  const vm = runtime.newContext();
  // Once over budget, the charge keeps failing: a program that catches the wrapper's error gains nothing.
  const charge = vm.newFunction('__hx_charge', (units) => {
    const n = vm.getNumber(units);
    if (Number.isFinite(n) && n > 0) charged += n;
    else if (!(n >= 0)) charged = Infinity;
    return overBudget() ? vm.true : vm.false;
  });
  vm.setProp(vm.global, '__hx_charge', charge);
  charge.dispose();
  const seed = vm.newNumber(seedOf(input));
  vm.setProp(vm.global, '__hx_seed', seed);
  seed.dispose();
  let abnormal = false;
  const fail = (thrown: string): SandboxOutcome => {
    let message = thrown;
    if (stopped === 'work') {
      abnormal = true;
      return { ok: false, kind: 'work', message: `exceeded the work limit of ${limits.workTicks} ticks (${Math.round(limits.workTicks / TICKS_PER_NOMINAL_MS)} nominal ms)`, ticks };
    }
    if (stopped === 'backstop') {
      abnormal = true;
      return { ok: false, kind: 'backstop', message: backstopMessage(limits, ticks), ticks };
    }
    // Out of memory, QuickJS throws null (it cannot allocate an error object); a deliberate `throw null`
    // looks the same and is reported the same way, which is fine: either way the code is rejected.
    if (message === 'null' || message === '' || message === '""') message = 'out of memory (the guest threw null)';
    if (/out of memory|string too long|invalid array length|array buffer allocation failed|allocation failed/i.test(message)) {
      abnormal = true;
      return { ok: false, kind: 'memory', message: `exceeded the ${memoryBytes >> 20} MiB memory limit (${firstLine(message)})`, ticks };
    }
    if (/stack overflow/i.test(message)) return { ok: false, kind: 'stack', message: `exceeded the stack limit (${firstLine(message)})`, ticks };
    return { ok: false, kind: 'error', message: firstLine(message), ticks };
  };
  const errorText = (handle: { dispose(): void }) => {
    try {
      const e = vm.dump(handle as never) as { name?: string; message?: string } | string;
      return typeof e === 'object' && e ? `${e.name ?? 'Error'}: ${e.message ?? ''}` : String(e);
    } catch {
      return 'the guest threw an unreadable value';
    } finally {
      handle.dispose();
    }
  };
  try {
    const prelude = vm.evalCode(GUEST_PRELUDE, 'prelude.js');
    if (prelude.error) {
      abnormal = true;
      return { ok: false, kind: 'error', message: `sandbox prelude failed: ${errorText(prelude.error)}`, ticks };
    }
    prelude.value.dispose();
    const loaded = vm.evalCode(program, 'processor.js');
    if (loaded.error) return fail(errorText(loaded.error));
    loaded.value.dispose();
    const fn = vm.getProp(vm.global, entry);
    if (vm.typeof(fn) !== 'function') {
      fn.dispose();
      return { ok: false, kind: 'error', message: `the program defines no function "${entry}"`, ticks };
    }
    const arg = vm.newString(input);
    const called = vm.callFunction(fn, vm.undefined, arg);
    arg.dispose();
    fn.dispose();
    if (called.error) return fail(errorText(called.error));
    if (overBudget()) {
      // The program caught the metering error and returned: the work limit holds all the same.
      called.value.dispose();
      return fail('');
    }
    const type = vm.typeof(called.value);
    const output = type === 'string' ? vm.getString(called.value) : null;
    called.value.dispose();
    ticks = work();
    if (output === null) return { ok: false, kind: 'bad_output', message: `"${entry}" returned a ${type}, not a string`, ticks };
    return { ok: true, output, ticks };
  } catch (e) {
    // Host-side failures of the engine itself (the input string did not fit, say) still never escape.
    abnormal = true;
    return fail(e instanceof Error ? e.message : String(e));
  } finally {
    try {
      vm.dispose();
      runtime.dispose();
    } catch {
      abnormal = true;
    }
    if (abnormal) retire(quickjs);
  }
}

import { newQuickJSWASMModuleFromVariant, QuickJSWASMModule } from 'quickjs-emscripten-core';

/**
 * Runs untrusted JavaScript in QuickJS compiled to WebAssembly: a separate JS engine with its own heap. The
 * guest gets no host objects at all — no require, process, fetch, timers, file system, network, child
 * processes or environment — only the JSON string it is handed, and it returns a JSON string. Limits per
 * call: wall-clock deadline (checked by QuickJS's interrupt handler, so infinite loops end), heap bytes
 * and stack bytes (QuickJS's own checks, so memory bombs and runaway recursion end as guest errors and
 * never reach the host). Every call gets a fresh runtime that is disposed afterwards: calls share nothing.
 */
export interface SandboxLimits {
  timeoutMs: number;
  memoryBytes: number;
  /** Kept well under the host's native stack so QuickJS's check always fires before V8's. */
  stackBytes: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { timeoutMs: 100, memoryBytes: 16 << 20, stackBytes: 128 << 10 };

export type SandboxOutcome =
  | { ok: true; output: string; ms: number }
  | { ok: false; kind: 'timeout' | 'memory' | 'stack' | 'error' | 'bad_output'; message: string; ms: number };

let modulePromise: Promise<QuickJSWASMModule> | null = null;
/** The WebAssembly module, loaded once per process (about 20 ms). */
export function loadSandbox(): Promise<QuickJSWASMModule> {
  // The package's own variant loads its Emscripten module with import(), which CommonJS hosts such as
  // jest's runtime refuse; the same two files are required directly here.
  modulePromise ??= newQuickJSWASMModuleFromVariant({
    type: 'sync',
    importFFI: async () => require('@jitl/quickjs-wasmfile-release-sync/ffi').QuickJSFFI,
    importModuleLoader: async () => {
      const loader = require('@jitl/quickjs-wasmfile-release-sync/emscripten-module');
      return loader.default ?? loader;
    },
  } as never);
  return modulePromise;
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
  const started = Date.now();
  const deadline = started + limits.timeoutMs;
  const runtime = quickjs.newRuntime();
  runtime.setMemoryLimit(limits.memoryBytes);
  runtime.setMaxStackSize(limits.stackBytes);
  let interrupted = false;
  runtime.setInterruptHandler(() => (interrupted = Date.now() > deadline));
  const vm = runtime.newContext();
  const fail = (thrown: string): SandboxOutcome => {
    let message = thrown;
    const ms = Date.now() - started;
    if (interrupted) return { ok: false, kind: 'timeout', message: `exceeded the ${limits.timeoutMs} ms time limit`, ms };
    // Out of memory, QuickJS throws null (it cannot allocate an error object); a deliberate `throw null`
    // looks the same and is reported the same way, which is fine: either way the code is rejected.
    if (message === 'null') message = 'out of memory (the guest threw null)';
    if (/out of memory|string too long|invalid array length/i.test(message)) return { ok: false, kind: 'memory', message: `exceeded the ${limits.memoryBytes >> 20} MiB memory limit (${firstLine(message)})`, ms };
    if (/stack overflow/i.test(message)) return { ok: false, kind: 'stack', message: `exceeded the stack limit (${firstLine(message)})`, ms };
    return { ok: false, kind: 'error', message: firstLine(message), ms };
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
    const loaded = vm.evalCode(program, 'processor.js');
    if (loaded.error) return fail(errorText(loaded.error));
    loaded.value.dispose();
    const fn = vm.getProp(vm.global, entry);
    if (vm.typeof(fn) !== 'function') {
      fn.dispose();
      return { ok: false, kind: 'error', message: `the program defines no function "${entry}"`, ms: Date.now() - started };
    }
    const arg = vm.newString(input);
    const called = vm.callFunction(fn, vm.undefined, arg);
    arg.dispose();
    fn.dispose();
    if (called.error) return fail(errorText(called.error));
    const type = vm.typeof(called.value);
    const output = type === 'string' ? vm.getString(called.value) : null;
    called.value.dispose();
    if (output === null) return { ok: false, kind: 'bad_output', message: `"${entry}" returned a ${type}, not a string`, ms: Date.now() - started };
    return { ok: true, output, ms: Date.now() - started };
  } catch (e) {
    // Host-side failures of the engine itself (should not happen with the limits above) still never escape.
    return fail(e instanceof Error ? e.message : String(e));
  } finally {
    vm.dispose();
    runtime.dispose();
  }
}

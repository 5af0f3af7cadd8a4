import { Worker } from 'node:worker_threads';
import { backstopMessage, SandboxLimits, SandboxOutcome } from './quickjs-sandbox';

/**
 * Runs sandbox calls on worker threads, one at a time per thread, so the calling thread's event loop (activity
 * heartbeats, timers) keeps turning while guest code runs, and a guest stuck inside one builtin (where
 * QuickJS never polls its interrupt handler) is ended by terminating the thread at the backstop.
 *
 * The thread's JavaScript heap is capped by resourceLimits; the guest's heap is the engine's WebAssembly
 * memory, capped per engine (quickjs-sandbox.ts). A thread that dies (its heap limit, a terminate) fails
 * the call it was running with a reason and is replaced for the next call.
 */

const WORKER_HEAP_MB = 96;

/** Loads the TypeScript module through tsx's CommonJS hook: the thread does not share jest's or tsx's loader. */
export function workerSource(modulePath: string, body: string): string {
  return `require(${JSON.stringify(require.resolve('tsx/cjs'))});
const { parentPort } = require('node:worker_threads');
const mod = require(${JSON.stringify(modulePath)});
${body}`;
}

const SANDBOX_WORKER_BODY = `
parentPort.on('message', async (m) => {
  try {
    const quickjs = await mod.loadSandbox(m.limits.memoryBytes);
    parentPort.postMessage({ id: m.id, outcome: mod.runInSandbox(quickjs, m.program, m.entry, m.input, m.limits) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, outcome: { ok: false, kind: 'error', message: 'sandbox host: ' + String(e && e.message || e).split('\\n')[0], ticks: 0 } });
  }
});
parentPort.postMessage({ ready: true });
`;

interface Pending {
  id: number;
  message: { id: number; program: string; entry: string; input: string; limits: SandboxLimits };
  resolve: (outcome: SandboxOutcome) => void;
}

class SandboxThread {
  private worker: Worker | null = null;
  private queue: Pending[] = [];
  private running: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  private nextId = 1;

  /** Calls running or waiting on this thread. */
  get load(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  run(program: string, entry: string, input: string, limits: SandboxLimits): Promise<SandboxOutcome> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.queue.push({ id, message: { id, program, entry, input, limits }, resolve });
      this.pump();
    });
  }

  private start(): Worker {
    const worker = new Worker(workerSource(require.resolve('./quickjs-sandbox'), SANDBOX_WORKER_BODY), {
      eval: true,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 16 },
      stdout: false,
      stderr: false,
    });
    worker.on('message', (m: { id?: number; outcome?: SandboxOutcome }) => {
      if (m.id === undefined || !this.running || m.id !== this.running.id) return;
      this.finish(m.outcome!);
    });
    const died = (reason: string) => {
      if (this.worker !== worker) return;
      this.worker = null;
      if (this.running) this.finish({ ok: false, kind: /heap|memory/i.test(reason) ? 'memory' : 'error', message: `the sandbox thread died: ${reason}`, ticks: 0 });
    };
    worker.on('error', (e) => died(e.message.split('\n')[0]));
    worker.on('exit', (code) => died(`exit code ${code}`));
    return worker;
  }

  private pump(): void {
    if (this.running || this.queue.length === 0) {
      if (!this.running && this.worker) this.worker.unref();
      return;
    }
    const next = this.queue.shift()!;
    this.running = next;
    this.worker ??= this.start();
    this.worker.ref();
    // The backstop counts from when the thread gets the call; the first call also waits for the thread
    // to load (tsx and the engine, well under a second), which the generous backstop covers.
    this.timer = setTimeout(() => {
      const worker = this.worker;
      this.worker = null;
      this.finish({ ok: false, kind: 'backstop', message: backstopMessage(next.message.limits, 0), ticks: 0 });
      void worker?.terminate();
    }, next.message.limits.backstopMs + 1000);
    this.worker.postMessage(next.message);
  }

  private finish(outcome: SandboxOutcome): void {
    const done = this.running;
    if (!done) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = null;
    done.resolve(outcome);
    this.pump();
  }
}

/**
 * Sandbox threads of the process. A call goes to an idle thread, or a new one while there are fewer than
 * MAX_SANDBOX_THREADS: one slow call (a guest near its budget, or the backstop) never holds up the calls of
 * other episodes and activities. Only past that many concurrent calls does one wait, behind the shortest
 * queue. Idle threads are unref'd (they keep no process alive) and cost their heap only once used.
 */
export const MAX_SANDBOX_THREADS = 4;
const threads: SandboxThread[] = [];

/** runInSandbox on a sandbox thread (see above). Never rejects for anything the guest does. */
export function runInSandboxThread(program: string, entry: string, input: string, limits: SandboxLimits): Promise<SandboxOutcome> {
  let chosen = threads.find((t) => t.load === 0);
  if (!chosen && threads.length < MAX_SANDBOX_THREADS) threads.push((chosen = new SandboxThread()));
  chosen ??= threads.reduce((a, b) => (b.load < a.load ? b : a));
  return chosen.run(program, entry, input, limits);
}

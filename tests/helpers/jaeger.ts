import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../cli/paths';
import { runGoStep } from '../../cli/go-build';
import { executable } from '../../cli/temporal-cli';

/**
 * A real OTLP receiver for the telemetry tests: Jaeger (its v2 binary, an OpenTelemetry Collector
 * distribution with an OTLP receiver, in-memory storage and a query API to read spans back), built from the
 * Go module proxy into .harnessx/bin the first time, like the Temporal CLI (cli/temporal-cli.ts).
 *
 * `go install …@v1.76.0` refuses the module: its go.mod has a replace directive (github.com/Shopify/sarama
 * pinned to v1.33.0). So it is built as a tool of a throwaway module that repeats that replace, which
 * gives the same dependency versions as Jaeger's own build.
 */
export const JAEGER_VERSION = 'v1.76.0';
const JAEGER_PACKAGE = 'github.com/jaegertracing/jaeger/cmd/jaeger';
const JAEGER_REPLACES = ['github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0'];

export function localJaegerPath(): string {
  return join(PROJECT_ROOT, '.harnessx', 'bin', `jaeger-${JAEGER_VERSION}`);
}

/** One go command of the build, in the throwaway module `cwd`, with the module's replaces in force. */
function runGo(args: string[], cwd: string, log: (line: string) => void, what: string): Promise<void> {
  return runGoStep({ args, cwd, env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local' }, what, log, tickMs: 30_000 });
}

/** JAEGER_PATH, else the project-local build, else builds it (a cold build takes 10-30 minutes; a warm Go build cache, about one). */
export async function ensureJaeger(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  if (process.env.JAEGER_PATH) {
    if (!executable(process.env.JAEGER_PATH)) throw new Error(`JAEGER_PATH=${process.env.JAEGER_PATH} is not an executable file`);
    return process.env.JAEGER_PATH;
  }
  const target = localJaegerPath();
  if (executable(target)) return target;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) throw new Error(`The telemetry test needs Jaeger ${JAEGER_VERSION} as its OTLP receiver: set JAEGER_PATH, or install Go to build it into ${target}`);
  const work = join(PROJECT_ROOT, '.harnessx', 'build', `jaeger-${JAEGER_VERSION}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  mkdirSync(dirname(target), { recursive: true });
  log(`Building Jaeger ${JAEGER_VERSION} (OTLP receiver for the telemetry test) from the Go module proxy with ${go.stdout.trim()} into ${target} (a cold build takes 10-30 minutes; with a warm Go build cache about one)…`);
  const started = Date.now();
  await runGo(['mod', 'init', 'harnessx.local/jaeger-build'], work, log, 'go mod init');
  for (const replace of JAEGER_REPLACES) await runGo(['mod', 'edit', `-replace=${replace}`], work, log, 'go mod edit');
  await runGo(['get', '-tool', `${JAEGER_PACKAGE}@${JAEGER_VERSION}`], work, log, 'resolving modules');
  await runGo(['build', '-o', `${target}.partial`, JAEGER_PACKAGE], work, log, 'building');
  // Renamed only when complete: an interrupted build never leaves a binary that looks cached.
  renameSync(`${target}.partial`, target);
  log(`Built ${target} in ${Math.round((Date.now() - started) / 1000)} s.`);
  return target;
}

/**
 * `count` distinct free loopback ports: all are held open together before any is released, so two of them
 * can never be the same port (taking them one after another can hand out a just-released port again).
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolvePromise, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolvePromise(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface RunningJaeger {
  /** OTEL_EXPORTER_OTLP_ENDPOINT for OTLP/HTTP. */
  otlpHttpEndpoint: string;
  /** The query service (HTTP JSON API, /api/traces). */
  queryUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts Jaeger on free loopback ports with only what the test needs: the OTLP/HTTP receiver, in-memory
 * storage and the query API (no UI, no self-metrics port), so concurrent runs on one machine don't collide.
 */
export async function startJaeger(binary: string): Promise<RunningJaeger> {
  // Another process may still take a released port before Jaeger binds it: then try fresh ports, twice more.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startJaegerOnce(binary);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test((e as Error).message)) throw e;
    }
  }
}

async function startJaegerOnce(binary: string): Promise<RunningJaeger> {
  const [otlpPort, queryHttpPort, queryGrpcPort] = await freePorts(3);
  const dir = mkdtempSync(join(tmpdir(), 'hx-jaeger-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryHttpPort}
    grpc:
      endpoint: 127.0.0.1:${queryGrpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  const child: ChildProcess = spawn(binary, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-8000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-8000)));
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const queryUrl = `http://127.0.0.1:${queryHttpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`jaeger exited (${exited}) at start:\n${output}`);
    try {
      const r = await fetch(`${queryUrl}/api/services`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`jaeger did not answer ${queryUrl}/api/services within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    otlpHttpEndpoint: `http://127.0.0.1:${otlpPort}`,
    queryUrl,
    stop: async () => {
      if (exited === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
        if (exited === null) child.kill('SIGKILL');
      }
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

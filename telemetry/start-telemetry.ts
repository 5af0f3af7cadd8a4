/**
 * OpenTelemetry tracing for a HarnessX process (a worker, an in-process CLI command, a product using the
 * library): when an OTLP endpoint is configured, registers a tracer provider that batches the episode spans
 * (harness/genai-telemetry.ts) and sends them over OTLP/HTTP. Not configured, nothing is registered and
 * the spans stay no-ops.
 *
 * The exporter reads the standard variables itself: OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP(_TRACES)_HEADERS, _TIMEOUT, _COMPRESSION and the
 * certificate variables; the batching here takes OTEL_BSP_SCHEDULE_DELAY, _EXPORT_TIMEOUT, _MAX_QUEUE_SIZE and
 * _MAX_EXPORT_BATCH_SIZE. The resource takes OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over the
 * default service name. OTEL_SDK_DISABLED=true turns it off.
 */
import { context, type ContextManager, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, getNumberFromEnv, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';

export interface Telemetry {
  /** Sends the spans still batched and stops the provider. Safe to call more than once. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** service.name when OTEL_SERVICE_NAME does not set one (default "harnessx"). */
  serviceName?: string;
  /** Tests: export here instead of OTLP (the endpoint variables are then not required). */
  exporter?: SpanExporter;
}

let started: { telemetry: Telemetry; provider: TracerProvider } | null = null;

/** Whether the environment asks for traces: an OTLP (traces) endpoint is set and the SDK is not disabled. */
export function telemetryConfigured(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return !!(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Registers the global tracer provider when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces endpoint) is set;
 * null when not configured. Idempotent: a second call returns the first call's handle. The provider is
 * flushed when the process is about to exit on its own (beforeExit); a process that calls process.exit
 * (the CLI) must await shutdown() first.
 */
export function startTelemetry(options: TelemetryOptions = {}): Telemetry | null {
  if (started) return started.telemetry;
  if (!options.exporter && !telemetryConfigured()) return null;
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': options.serviceName ?? 'harnessx' }))
    .merge(detectResources({ detectors: [envDetector] }));
  const processor = new BatchSpanProcessor({ exporter: options.exporter ?? new OTLPTraceExporter(), ...batchOptionsFromEnv() });
  const provider = new TracerProvider({ resource, spanProcessors: [processor] });
  if (!trace.setGlobalTracerProvider(provider)) {
    // Someone else (the host application's own SDK) registered first: their provider gets our spans.
    void provider.shutdown();
    return null;
  }
  const manager = asyncContextManager();
  if (manager) context.setGlobalContextManager(manager.enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  let stopping: Promise<void> | null = null;
  const telemetry: Telemetry = {
    shutdown: () => {
      stopping ??= provider.shutdown().finally(() => {
        process.off('beforeExit', onBeforeExit);
        if (started?.provider === provider) {
          started = null;
          trace.disable();
          if (manager) context.disable();
          propagation.disable();
        }
      });
      return stopping;
    },
  };
  const onBeforeExit = () => void telemetry.shutdown();
  process.once('beforeExit', onBeforeExit);
  started = { telemetry, provider };
  return telemetry;
}

/** Flushes and stops the provider startTelemetry registered, if any (the CLI calls it before it exits). */
export async function shutdownTelemetry(): Promise<void> {
  await started?.telemetry.shutdown();
}

/** The standard OTEL_BSP_* variables (this SDK line leaves reading them to the caller). */
function batchOptionsFromEnv() {
  const entries = {
    scheduledDelayMillis: getNumberFromEnv('OTEL_BSP_SCHEDULE_DELAY'),
    exportTimeoutMillis: getNumberFromEnv('OTEL_BSP_EXPORT_TIMEOUT'),
    maxQueueSize: getNumberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: getNumberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined && v > 0));
}

/**
 * The AsyncLocalStorage context manager, so that spans started by other instrumentation (an HTTP client
 * inside a tool call) find the active episode span across awaits. It lives in
 * @opentelemetry/context-async-hooks, which this project does not depend on yet: until it is installed,
 * our own spans still nest (harness/genai-telemetry.ts parents them explicitly) and only third-party spans
 * inside tool and model calls start their own traces.
 */
function asyncContextManager(): ContextManager | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as { AsyncLocalStorageContextManager: new () => ContextManager };
    return new AsyncLocalStorageContextManager();
  } catch {
    return null;
  }
}

/** OpenTelemetry setup for HarnessX processes and for products that use the library. */
export { shutdownTelemetry, startTelemetry, telemetryConfigured, type Telemetry, type TelemetryOptions } from './start-telemetry';
export { CAPTURE_CONTENT_ENV, TRACER_NAME } from '../harness/genai-telemetry';

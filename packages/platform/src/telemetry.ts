/**
 * OpenTelemetry for a paycore process. `startTelemetry` must run before any
 * other module is loaded (main.ts imports the service's telemetry file first)
 * so that the pg instrumentation can patch the driver as it is required.
 *
 * gRPC spans are not left to the auto-instrumentation: the kit's server
 * wrapper and client factory create them (docs/adr/0002), because they also
 * carry the business context code and work whatever the module load order.
 * NATS spans are made by the event kit, with W3C `traceparent` and `baggage`
 * in message headers.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { W3CTraceContextPropagator, W3CBaggagePropagator, CompositePropagator } from '@opentelemetry/core';
import { trace, type Context, type Tracer } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace-base';
import { BIZ_CODE_SPAN_ATTRIBUTE, currentBizCode, getBizBaggage } from '@paycore/context';
import { spanFileExporterFromEnv } from './span-file-exporter';

/**
 * Stamps every span (ours, pg's, any library's) with the context code of the
 * flow it belongs to, taken from the parent context's baggage or the current
 * AsyncLocalStorage, so that one attribute query finds a whole flow.
 */
export class BizCodeSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    if (span.attributes[BIZ_CODE_SPAN_ATTRIBUTE] !== undefined) return;
    const code = getBizBaggage(parentContext) ?? currentBizCode();
    if (code !== undefined) span.setAttribute(BIZ_CODE_SPAN_ATTRIBUTE, code);
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TelemetryOptions {
  readonly serviceName: string;
  /** A span exporter of the caller's (tests pass an InMemorySpanExporter). */
  readonly spanExporter?: SpanExporter;
  /** Defaults to process.env.OTEL_EXPORTER_OTLP_ENDPOINT; when set, spans go there over OTLP/HTTP. */
  readonly otlpEndpoint?: string;
}

export interface Telemetry {
  shutdown(): Promise<void>;
}

let started: Telemetry | undefined;

export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (started) return started;
  const processors: SpanProcessor[] = [new BizCodeSpanProcessor()];
  if (options.spanExporter) processors.push(new SimpleSpanProcessor(options.spanExporter));
  const endpoint = options.otlpEndpoint ?? process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (endpoint !== undefined && endpoint !== '') {
    processors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }), {
        maxQueueSize: 4096,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 1000,
        exportTimeoutMillis: 10_000,
      }),
    );
  }
  // PAYCORE_SPAN_FILE_DIR (make up sets it): spans as JSON lines for `paycore trace` (span-file-exporter.ts).
  const spanFile = spanFileExporterFromEnv(options.serviceName);
  if (spanFile !== undefined) {
    processors.push(new BatchSpanProcessor(spanFile, { maxQueueSize: 4096, scheduledDelayMillis: 500 }));
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors: processors,
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    instrumentations: [new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false })],
    // Metrics go through prom-client on /metrics; no OTel metric reader here.
  });
  sdk.start();
  started = {
    async shutdown() {
      await sdk.shutdown();
      started = undefined;
    },
  };
  return started;
}

export function tracer(): Tracer {
  return trace.getTracer('@paycore/platform');
}

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
 *
 * What it costs (docs/adr/0025): spans are sampled parent-based — a trace
 * started elsewhere is recorded here exactly when its parent was, a trace
 * started here is recorded with probability `sampleRatio` (default 1 when a
 * span exporter is configured, 0 when none is: nothing would read them).
 * An unsampled span still has ids, so logs keep trace_id / span_id and
 * `traceparent` still travels. Postgres statements get spans only when asked
 * (`pgSpans` / OTEL_PG_SPANS; default off). No OTel metrics and no OTel logs
 * are set up: metrics are prom-client's (/metrics), and the NodeSDK defaults
 * that would start OTLP metric and log exporters are turned off explicitly.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { W3CTraceContextPropagator, W3CBaggagePropagator, CompositePropagator } from '@opentelemetry/core';
import { trace, type Context, type Tracer } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace-base';
import { BIZ_CODE_SPAN_ATTRIBUTE, currentBizCode, getBizBaggage } from '@paycore/context';

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

/**
 * Spans for Postgres statements (the pg instrumentation):
 *  - `off`: none; the driver is not patched at all (default);
 *  - `sampled`: one span per statement, only as a child of a sampled span;
 *  - `all`: also statements outside any span (background loops), as roots.
 */
export type PgSpans = 'off' | 'sampled' | 'all';
const PG_SPANS_VALUES: readonly PgSpans[] = ['off', 'sampled', 'all'];

export interface TelemetryOptions {
  readonly serviceName: string;
  /** A span exporter of the caller's (tests pass an InMemorySpanExporter); exported span by span. */
  readonly spanExporter?: SpanExporter;
  /** Defaults to process.env.OTEL_EXPORTER_OTLP_ENDPOINT; when set, spans go there over OTLP/HTTP. */
  readonly otlpEndpoint?: string;
  /** Defaults to process.env.OTEL_PG_SPANS, then 'off'. */
  readonly pgSpans?: PgSpans;
  /**
   * Share of traces started in this process that are recorded, in [0, 1].
   * Defaults to process.env.OTEL_TRACES_SAMPLER_ARG, then 1 with an exporter and 0 without.
   */
  readonly sampleRatio?: number;
}

export interface Telemetry {
  /** What was set up, for start-up logs and tests. */
  readonly settings: { readonly pgSpans: PgSpans; readonly sampleRatio: number; readonly exporters: number };
  shutdown(): Promise<void>;
}

let started: Telemetry | undefined;

/**
 * The span processors that export: one per configured destination. A new
 * destination (a file exporter, …) is one more entry here.
 */
function exportingProcessors(options: TelemetryOptions): SpanProcessor[] {
  const processors: SpanProcessor[] = [];
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
  return processors;
}

function pgSpansSetting(options: TelemetryOptions): PgSpans {
  const value = options.pgSpans ?? process.env['OTEL_PG_SPANS'] ?? 'off';
  if (!(PG_SPANS_VALUES as readonly string[]).includes(value)) {
    throw new RangeError(
      `OTEL_PG_SPANS must be one of ${PG_SPANS_VALUES.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as PgSpans;
}

function sampleRatioSetting(options: TelemetryOptions, exporters: number): number {
  const fromEnv = process.env['OTEL_TRACES_SAMPLER_ARG'];
  const ratio =
    options.sampleRatio ??
    (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : exporters > 0 ? 1 : 0);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new RangeError(`the trace sample ratio must be in [0, 1], got ${String(fromEnv ?? ratio)}`);
  }
  return ratio;
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (started) return started;
  const exporting = exportingProcessors(options);
  const pgSpans = pgSpansSetting(options);
  const sampleRatio = sampleRatioSetting(options, exporting.length);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    // Host and process detectors read the machine at start and add attributes to every span; not needed.
    autoDetectResources: false,
    spanProcessors: [new BizCodeSpanProcessor(), ...exporting],
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(sampleRatio) }),
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    instrumentations:
      pgSpans === 'off'
        ? []
        : [
            new PgInstrumentation({
              requireParentSpan: pgSpans === 'sampled',
              enhancedDatabaseReporting: false,
            }),
          ],
    // Metrics go through prom-client on /metrics. Without these two empty lists the NodeSDK
    // starts, from its environment defaults, an OTLP metric exporter and an OTLP log exporter.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  const settings = { pgSpans, sampleRatio, exporters: exporting.length };
  started = {
    settings,
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

/**
 * One in-memory span exporter per test process, installed through the same
 * startTelemetry the services use, and assertions over what it captured.
 */
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTelemetry, type PgSpans } from '@paycore/platform/telemetry';

let exporter: InMemorySpanExporter | undefined;
let exporterPgSpans: PgSpans | undefined;

/**
 * The process's in-memory exporter, every trace sampled. `pgSpans` (default
 * 'sampled': tests see the statements of their flows) is fixed by the first
 * call; a later call that asks for another setting fails rather than being
 * silently ignored.
 */
export function testSpanExporter(options: { readonly pgSpans?: PgSpans } = {}): InMemorySpanExporter {
  const pgSpans = options.pgSpans ?? 'sampled';
  if (!exporter) {
    exporter = new InMemorySpanExporter();
    exporterPgSpans = pgSpans;
    startTelemetry({
      serviceName: 'paycore-test',
      spanExporter: exporter,
      otlpEndpoint: '',
      pgSpans,
      sampleRatio: 1,
    });
  } else if (exporterPgSpans !== pgSpans) {
    throw new Error(`testSpanExporter was started with pgSpans=${exporterPgSpans}, not ${pgSpans}`);
  }
  return exporter;
}

export function spansOfTrace(traceId: string): ReadableSpan[] {
  return testSpanExporter()
    .getFinishedSpans()
    .filter((s) => s.spanContext().traceId === traceId);
}

/** Waits (bounded) until `predicate` holds over the finished spans, then returns them. */
export async function waitForSpans(
  predicate: (spans: readonly ReadableSpan[]) => boolean,
  timeoutMs = 10_000,
): Promise<ReadableSpan[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const spans = testSpanExporter().getFinishedSpans();
    if (predicate(spans)) return spans;
    if (Date.now() > deadline) {
      throw new Error(
        `spans did not arrive in ${timeoutMs} ms; have: ${spans.map((s) => s.name).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

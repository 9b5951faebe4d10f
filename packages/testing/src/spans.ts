/**
 * One in-memory span exporter per test process, installed through the same
 * startTelemetry the services use, and assertions over what it captured.
 */
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTelemetry } from '@paycore/platform/telemetry';

let exporter: InMemorySpanExporter | undefined;

export function testSpanExporter(): InMemorySpanExporter {
  if (!exporter) {
    exporter = new InMemorySpanExporter();
    startTelemetry({ serviceName: 'paycore-test', spanExporter: exporter, otlpEndpoint: '' });
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

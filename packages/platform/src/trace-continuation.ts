/**
 * Continuing a flow's trace across an asynchronous gap that carries no
 * headers of ours: a channel's callback to channel-router, a status-sync
 * poll minutes later. The creating request's trace context (traceparent,
 * baggage, Biz-Context) is stored with the record it created; the later work
 * runs under a span whose parent is that stored context, with the business
 * code installed, so its spans, logs and outbox events join the same trace.
 */
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { runWithBizCode, setSpanBizCode } from '@paycore/context';
import { bizCodeOf, captureContextHeaders, extractTraceContext, type EventHeaders } from './events';

/** The current trace context and business code, to store with a record (a jsonb column). */
export function traceHeadersForStorage(): EventHeaders {
  return captureContextHeaders();
}

export async function continueStoredTrace<T>(
  stored: EventHeaders,
  spanName: string,
  kind: SpanKind,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = extractTraceContext(stored);
  const span = trace.getTracer('@paycore/platform').startSpan(spanName, { kind }, parent);
  const bizCode = bizCodeOf(stored);
  if (bizCode !== undefined) setSpanBizCode(span, bizCode);
  const run = (): Promise<T> => context.with(trace.setSpan(parent, span), () => fn(span));
  try {
    return await (bizCode !== undefined ? runWithBizCode(bizCode, run) : run());
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

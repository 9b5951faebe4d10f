/**
 * W3C trace context (traceparent) for calls made by the client.
 *
 * A logical call carries one traceparent on every attempt, so a retried call
 * stays one trace. Callers that run OpenTelemetry pass their own traceparent
 * (or a `propagate` hook on the client); otherwise each logical call starts a
 * new trace, whose id the caller can keep to look the flow up later
 * (`paycore trace <trace id>`).
 */
import { randomBytes } from 'node:crypto';

export const TRACEPARENT_METADATA_KEY = 'traceparent';
const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

/** A fresh sampled traceparent (version 00), e.g. `00-<32 hex>-<16 hex>-01`. */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** Parses a version-00 traceparent; undefined when malformed or all-zero. */
export function parseTraceparent(value: string): TraceParent | undefined {
  const match = TRACEPARENT_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const [, traceId = '', spanId = '', flags = '00'] = match;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

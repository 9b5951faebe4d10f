/**
 * Event headers: what is captured when an event is written and restored when
 * it is consumed. Trace context (W3C `traceparent`, `tracestate`, `baggage`)
 * goes through the globally registered OpenTelemetry propagator, so whatever
 * startTelemetry installs is what travels; the business context code travels
 * in its own header.
 */
import { context, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { BIZ_CONTEXT_NATS_HEADER, bizCodeForOutgoing } from './biz-context';
import { FLOW_NATS_HEADER, flowHeaderValue, parseFlowHeader } from './flow-context';

export type EventHeaders = Record<string, string>;

/** Headers the relay owns; a caller may not set them. */
const RESERVED_HEADERS = new Set(['nats-msg-id', 'nats-expected-stream', 'nats-expected-last-sequence']);
const HEADER_NAME_PATTERN = /^[!-9;-~]+$/; // Printable ASCII without ':' (RFC 7230 token-ish, as NATS requires).
const HEADER_VALUE_PATTERN = /^[^\r\n]*$/;
const HEADERS_MAX = 32;
const HEADER_VALUE_LENGTH_MAX = 4_096;

export class InvalidEventHeaderError extends Error {
  override readonly name = 'InvalidEventHeaderError';
}

export function assertValidHeaders(headers: EventHeaders): void {
  const entries = Object.entries(headers);
  if (entries.length > HEADERS_MAX)
    throw new InvalidEventHeaderError(`at most ${HEADERS_MAX} headers, got ${entries.length}`);
  for (const [name, value] of entries) {
    if (!HEADER_NAME_PATTERN.test(name))
      throw new InvalidEventHeaderError(`header name ${JSON.stringify(name)} is not allowed`);
    if (RESERVED_HEADERS.has(name.toLowerCase()))
      throw new InvalidEventHeaderError(`header ${name} is set by the relay`);
    if (!HEADER_VALUE_PATTERN.test(value) || value.length > HEADER_VALUE_LENGTH_MAX) {
      throw new InvalidEventHeaderError(
        `header ${name} has a value with a line break or longer than ${HEADER_VALUE_LENGTH_MAX}`,
      );
    }
  }
}

/** Trace context, business code and flow entity ids of the current async context, as headers. */
export function captureContextHeaders(from: Context = context.active()): EventHeaders {
  const carrier: EventHeaders = {};
  propagation.inject(from, carrier);
  const bizCode = bizCodeForOutgoing();
  if (bizCode !== undefined && bizCode !== '') carrier[BIZ_CONTEXT_NATS_HEADER] = bizCode;
  const flow = flowHeaderValue();
  if (flow !== undefined) carrier[FLOW_NATS_HEADER] = flow;
  return carrier;
}

/** Reads the flow header (entity ids of the causing RPC), case-insensitively. */
export function flowFieldsOf(headers: EventHeaders): Record<string, string> {
  const wanted = FLOW_NATS_HEADER.toLowerCase();
  for (const [name, value] of Object.entries(headers))
    if (name.toLowerCase() === wanted) return parseFlowHeader(value);
  return {};
}

/** The OTel context carried by stored or received headers (parent for the next span). */
export function extractTraceContext(headers: EventHeaders): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** Reads the business code header, case-insensitively (NATS headers keep case, HTTP gateways may not). */
export function bizCodeOf(headers: EventHeaders): string | undefined {
  const wanted = BIZ_CONTEXT_NATS_HEADER.toLowerCase();
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === wanted) return value;
  return undefined;
}

export function toNatsHeaders(headers: EventHeaders): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(headers)) h.set(name, value);
  return h;
}

/** First value of every header; NATS headers may repeat, ours never do. */
export function fromNatsHeaders(h: MsgHdrs | undefined): EventHeaders {
  const out: EventHeaders = {};
  if (!h) return out;
  for (const [name, values] of h) {
    const first = values[0];
    if (first !== undefined) out[name] = first;
  }
  return out;
}

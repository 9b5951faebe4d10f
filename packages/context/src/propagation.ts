/**
 * Carrying the context code across process boundaries (DESIGN.md §3):
 * gRPC metadata `x-biz-context`, NATS header `Biz-Context`, OTel baggage
 * `biz.context`, span attribute `paycore.biz_code`, log field `biz_code`.
 *
 * Setters check the shape (a malformed code is our bug, caught before it
 * leaves the process). Getters return the raw value: an incoming code is
 * untrusted input and must go through Catalogue.validate at the edge, which
 * answers INVALID_ARGUMENT instead of silently dropping it.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { MsgHdrs } from '@nats-io/transport-node';
import { context as otelContext, propagation, type Context, type Span } from '@opentelemetry/api';
import { parseBizCode } from './biz-code';
import { currentBizCode } from './current';

export const BIZ_CONTEXT_GRPC_METADATA_KEY = 'x-biz-context';
export const BIZ_CONTEXT_NATS_HEADER = 'Biz-Context';
export const BIZ_CONTEXT_BAGGAGE_KEY = 'biz.context';
export const BIZ_CODE_SPAN_ATTRIBUTE = 'paycore.biz_code';
export const BIZ_CODE_LOG_FIELD = 'biz_code';

/** Replaces any code already in the metadata. */
export function setGrpcBizCode(metadata: Metadata, code: string): void {
  parseBizCode(code);
  metadata.set(BIZ_CONTEXT_GRPC_METADATA_KEY, code);
}

/** The first string value of `x-biz-context`, if any. */
export function getGrpcBizCode(metadata: Metadata): string | undefined {
  for (const value of metadata.get(BIZ_CONTEXT_GRPC_METADATA_KEY)) {
    if (typeof value === 'string') return value;
  }
  return undefined;
}

/** Replaces any code already in the headers. */
export function setNatsBizCode(headers: MsgHdrs, code: string): void {
  parseBizCode(code);
  headers.set(BIZ_CONTEXT_NATS_HEADER, code);
}

export function getNatsBizCode(headers: MsgHdrs | undefined): string | undefined {
  if (headers === undefined || !headers.has(BIZ_CONTEXT_NATS_HEADER)) return undefined;
  return headers.get(BIZ_CONTEXT_NATS_HEADER);
}

/** A new context whose baggage carries the code (other baggage entries are kept). */
export function withBizBaggage(ctx: Context, code: string): Context {
  parseBizCode(code);
  const baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  return propagation.setBaggage(ctx, baggage.setEntry(BIZ_CONTEXT_BAGGAGE_KEY, { value: code }));
}

export function getBizBaggage(ctx: Context): string | undefined {
  return propagation.getBaggage(ctx)?.getEntry(BIZ_CONTEXT_BAGGAGE_KEY)?.value;
}

export function setSpanBizCode(span: Span, code: string): void {
  span.setAttribute(BIZ_CODE_SPAN_ATTRIBUTE, code);
}

/**
 * The code to log now: the AsyncLocalStorage value, else the active OTel
 * context's baggage (work started by an instrumented consumer before our own
 * wrapper ran).
 */
export function activeBizCode(): string | undefined {
  return currentBizCode() ?? getBizBaggage(otelContext.active());
}

/** pino `mixin`: adds `biz_code` to every log line written while a code is active. */
export function bizLogMixin(): { biz_code?: string } {
  const code = activeBizCode();
  return code !== undefined ? { [BIZ_CODE_LOG_FIELD]: code } : {};
}

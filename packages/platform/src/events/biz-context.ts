/**
 * The one place where the events code touches @paycore/context: reading the
 * business context code when an event is written, and restoring it around a
 * handler when an event is consumed (DESIGN.md §3: NATS header `Biz-Context`,
 * span attribute `paycore.biz_code`).
 */
import { activeBizCode, isBizCodeShape, runWithBizCode } from '@paycore/context';

export { BIZ_CONTEXT_NATS_HEADER, BIZ_CODE_SPAN_ATTRIBUTE } from '@paycore/context';

/** The code of the work in progress (AsyncLocalStorage, else OTel baggage). */
export function bizCodeForOutgoing(): string | undefined {
  return activeBizCode();
}

/**
 * Runs `fn` with the code of an incoming event as the current code. A header
 * that is not a well-formed code is ignored rather than failing the handler:
 * it would fail on every redelivery and dead-letter an otherwise good event.
 */
export function runWithIncomingBizCode<T>(code: string | undefined, fn: () => T): T {
  return code !== undefined && isBizCodeShape(code) ? runWithBizCode(code, fn) : fn();
}

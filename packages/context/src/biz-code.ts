/**
 * The 20-digit business context code (四码一号, DESIGN.md §3):
 *
 *   product 6 | biz mode 2 | action 2 | pay channel 4 | channel no 6
 *
 * A flow starts unrouted (pay channel "0000", channel no "000000") and
 * routing fills in the channel parts exactly once. This module checks only the
 * shape; whether a code is allowed is the catalogue's job.
 */
import { ContextError, ContextErrorReason } from './errors';

export const BIZ_CODE_LENGTH = 20;
export const UNROUTED_PAY_CHANNEL = '0000';
/** "No channel number": before routing, and for internal pay channels (balance, coupon…). */
export const NO_CHANNEL_NO = '000000';

/** Part name -> digit count, in code order. */
export const BIZ_CODE_PARTS = {
  product: 6,
  bizMode: 2,
  action: 2,
  payChannel: 4,
  channelNo: 6,
} as const;

export type BizCodePart = keyof typeof BIZ_CODE_PARTS;

export interface BizCodeParts {
  readonly product: string;
  readonly bizMode: string;
  readonly action: string;
  readonly payChannel: string;
  readonly channelNo: string;
}

export interface BizCode extends BizCodeParts {
  /** The full 20-digit string. */
  readonly code: string;
  /** False only when both channel parts are still zero. */
  readonly routed: boolean;
}

// [0-9] rather than \d: only ASCII digits, whatever the regex flags.
const BIZ_CODE_PATTERN = /^[0-9]{20}$/;
const PART_PATTERNS: Readonly<Record<BizCodePart, RegExp>> = {
  product: /^[0-9]{6}$/,
  bizMode: /^[0-9]{2}$/,
  action: /^[0-9]{2}$/,
  payChannel: /^[0-9]{4}$/,
  channelNo: /^[0-9]{6}$/,
};

/** True when `value` has the shape of a part (right number of ASCII digits). */
export function isBizCodePart(part: BizCodePart, value: string): boolean {
  return PART_PATTERNS[part].test(value);
}

/** Shape check only; used where a code is stored or forwarded without a catalogue at hand. */
export function isBizCodeShape(value: unknown): value is string {
  return typeof value === 'string' && BIZ_CODE_PATTERN.test(value);
}

// Error messages quote at most this much of a bad input.
const QUOTE_LENGTH_MAX = 32;

function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, QUOTE_LENGTH_MAX)) : typeof value;
}

export function parseBizCode(value: unknown, field = 'biz_code'): BizCode {
  if (!isBizCodeShape(value)) {
    throw new ContextError(
      ContextErrorReason.INVALID_BIZ_CODE,
      `context code ${quote(value)} must be exactly ${BIZ_CODE_LENGTH} ASCII digits`,
      field,
    );
  }
  const product = value.slice(0, 6);
  const bizMode = value.slice(6, 8);
  const action = value.slice(8, 10);
  const payChannel = value.slice(10, 14);
  const channelNo = value.slice(14, 20);
  const routed = payChannel !== UNROUTED_PAY_CHANNEL || channelNo !== NO_CHANNEL_NO;
  return Object.freeze({ code: value, product, bizMode, action, payChannel, channelNo, routed });
}

function checkPart(part: BizCodePart, value: string): string {
  if (!isBizCodePart(part, value)) {
    throw new ContextError(
      ContextErrorReason.INVALID_BIZ_CODE,
      `${part} ${quote(value)} must be ${BIZ_CODE_PARTS[part]} ASCII digits`,
      part,
    );
  }
  return value;
}

/** Joins parts into a code; omitted channel parts mean "not yet routed". */
export function formatBizCode(parts: {
  readonly product: string;
  readonly bizMode: string;
  readonly action: string;
  readonly payChannel?: string;
  readonly channelNo?: string;
}): string {
  return [
    checkPart('product', parts.product),
    checkPart('bizMode', parts.bizMode),
    checkPart('action', parts.action),
    checkPart('payChannel', parts.payChannel ?? UNROUTED_PAY_CHANNEL),
    checkPart('channelNo', parts.channelNo ?? NO_CHANNEL_NO),
  ].join('');
}

/** The unrouted form of a code: same product, biz mode and action, channel parts zeroed. */
export function unroutedOf(code: string): string {
  const parsed = parseBizCode(code);
  return formatBizCode({ product: parsed.product, bizMode: parsed.bizMode, action: parsed.action });
}

/**
 * Completes an unrouted code with the routing result. Routing happens once
 * per flow; re-routing a routed code would silently rewrite which channel a
 * flow's rows belong to, so it is refused (ALREADY_ROUTED).
 */
export function withRoute(code: string, payChannel: string, channelNo: string): BizCode {
  const parsed = parseBizCode(code);
  if (parsed.routed) {
    throw new ContextError(
      ContextErrorReason.ALREADY_ROUTED,
      `context code ${code} is already routed (pay channel ${parsed.payChannel}, channel no ${parsed.channelNo})`,
      'biz_code',
    );
  }
  checkPart('payChannel', payChannel);
  checkPart('channelNo', channelNo);
  if (payChannel === UNROUTED_PAY_CHANNEL) {
    throw new ContextError(
      ContextErrorReason.INVALID_BIZ_CODE,
      `routing must choose a pay channel, not ${UNROUTED_PAY_CHANNEL}`,
      'payChannel',
    );
  }
  return parseBizCode(
    formatBizCode({
      product: parsed.product,
      bizMode: parsed.bizMode,
      action: parsed.action,
      payChannel,
      channelNo,
    }),
  );
}

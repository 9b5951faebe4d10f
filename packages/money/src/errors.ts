/**
 * The one error type of @paycore/money.
 *
 * Every failure here is a caller's bad input (an unknown currency, an amount
 * beyond int64, a malformed decimal string), so each maps to gRPC
 * INVALID_ARGUMENT. The platform's error mapper reads `reason`, `grpcCode` and
 * `field` structurally, so this package never imports gRPC.
 */

/** Stable reasons; never renamed or reused, callers may branch on them. */
export const MoneyErrorReason = {
  /** The currency or asset code is not registered. */
  UNKNOWN_CURRENCY: 'UNKNOWN_CURRENCY',
  /** An amount (given or computed) lies outside int64, or is negative where that is not allowed. */
  AMOUNT_OUT_OF_RANGE: 'AMOUNT_OUT_OF_RANGE',
  /** Two amounts of different currencies were combined. */
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  /** A decimal or minor-unit string is malformed or has more fraction digits than the scale. */
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  /** Allocation weights or total are unusable (empty, negative, all zero). */
  INVALID_ALLOCATION: 'INVALID_ALLOCATION',
  /** A refund asks for more than what is still refundable. */
  REFUND_EXCEEDS_PAID: 'REFUND_EXCEEDS_PAID',
  /** A fee rate, rounding mode or fee bound is malformed or out of range. */
  INVALID_RATE: 'INVALID_RATE',
  /** An asset registration is malformed or conflicts with an existing code. */
  INVALID_ASSET: 'INVALID_ASSET',
} as const;

export type MoneyErrorReason = (typeof MoneyErrorReason)[keyof typeof MoneyErrorReason];

export class MoneyError extends Error {
  readonly reason: MoneyErrorReason;
  /** Every money failure is bad caller input. */
  readonly grpcCode = 'INVALID_ARGUMENT' as const;
  /** The argument or request field at fault, when the caller named one. */
  readonly field?: string;

  constructor(reason: MoneyErrorReason, message: string, field?: string) {
    super(message);
    this.name = 'MoneyError';
    this.reason = reason;
    if (field !== undefined) this.field = field;
  }
}

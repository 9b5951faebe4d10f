/**
 * Business failures of the cashier. Each failure is one `CashierReason`
 * (a stable UPPER_SNAKE string, never renamed) and maps to exactly one gRPC
 * status through REASON_CODES, in this one place. The platform's error
 * mapper reads `reason`, `grpcCode`, `field` and `metadata` structurally, so
 * the domain never imports gRPC. Programmer errors are assertions, not here.
 */

export const REASON_CODES = {
  INVALID_FIELD: 'INVALID_ARGUMENT',
  INVALID_BIZ_CODE: 'INVALID_ARGUMENT',
  NOTIFY_URL_NOT_ALLOWED: 'INVALID_ARGUMENT',
  AMOUNT_OUT_OF_RANGE: 'INVALID_ARGUMENT',
  UNSUPPORTED_CURRENCY: 'INVALID_ARGUMENT',
  UNKNOWN_BIZ_CODE: 'INVALID_ARGUMENT',
  UNKNOWN_PAY_CHANNEL: 'INVALID_ARGUMENT',
  PARTS_DO_NOT_SUM: 'INVALID_ARGUMENT',
  TOO_MANY_CHANNEL_PARTS: 'INVALID_ARGUMENT',
  MERCHANT_NOT_FOUND: 'NOT_FOUND',
  ORDER_NOT_FOUND: 'NOT_FOUND',
  REFUND_NOT_FOUND: 'NOT_FOUND',
  COUPON_NOT_FOUND: 'NOT_FOUND',
  PAYER_NOT_FOUND: 'NOT_FOUND',
  WITHDRAWAL_NOT_FOUND: 'NOT_FOUND',
  EXCEPTION_NOT_FOUND: 'NOT_FOUND',
  MERCHANT_EXISTS: 'ALREADY_EXISTS',
  ORDER_NO_REUSED: 'ALREADY_EXISTS',
  REFUND_NO_REUSED: 'ALREADY_EXISTS',
  IDEMPOTENCY_KEY_REUSED: 'ALREADY_EXISTS',
  ORDER_NOT_PAYABLE: 'FAILED_PRECONDITION',
  ORDER_EXPIRED: 'FAILED_PRECONDITION',
  ORDER_NOT_PAID: 'FAILED_PRECONDITION',
  PAYMENT_IN_FLIGHT: 'FAILED_PRECONDITION',
  COUPON_NOT_AVAILABLE: 'FAILED_PRECONDITION',
  RISK_LIMIT_EXCEEDED: 'FAILED_PRECONDITION',
  NO_ROUTE: 'FAILED_PRECONDITION',
  ROUTE_NOT_AVAILABLE: 'FAILED_PRECONDITION',
  CHANNEL_ALREADY_PAID: 'FAILED_PRECONDITION',
  NOT_ESCROW: 'FAILED_PRECONDITION',
  REFUND_EXCEEDS_PAID: 'FAILED_PRECONDITION',
  REFUND_IN_PROGRESS: 'FAILED_PRECONDITION',
  INSUFFICIENT_BALANCE: 'FAILED_PRECONDITION',
  INSUFFICIENT_STORED_VALUE: 'FAILED_PRECONDITION',
  EXCEPTION_ALREADY_RESOLVED: 'FAILED_PRECONDITION',
  DEPENDENCY_UNAVAILABLE: 'UNAVAILABLE',
} as const;

export type CashierReason = keyof typeof REASON_CODES;
export type CashierGrpcCode = (typeof REASON_CODES)[CashierReason];

export class CashierError extends Error {
  readonly grpcCode: CashierGrpcCode;
  readonly field: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(
    readonly reason: CashierReason,
    message: string,
    extra: { field?: string; metadata?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'CashierError';
    this.grpcCode = REASON_CODES[reason];
    this.field = extra.field;
    this.metadata = extra.metadata ?? {};
  }
}

/** Shorthand for the common case of one field at fault. */
export function invalidField(field: string, description: string): CashierError {
  return new CashierError('INVALID_FIELD', `${field}: ${description}`, { field });
}

/**
 * Business failures of settlement. Each reason is a value of the proto's
 * SettlementErrorReason (without its prefix) and maps to one gRPC status
 * here, in this one place.
 */
import { DomainError, type DomainErrorExtra } from '@paycore/errors';

export const REASON_CODES = {
  INVALID_FIELD: 'INVALID_ARGUMENT',
  NEGATIVE_RATE: 'INVALID_ARGUMENT',
  FEE_RULE_OVERLAP: 'INVALID_ARGUMENT',
  FEE_RULE_GAP: 'INVALID_ARGUMENT',
  MERCHANT_NOT_FOUND: 'NOT_FOUND',
  SHARES_EXCEED_WHOLE: 'INVALID_ARGUMENT',
  ITEM_NOT_FOUND: 'NOT_FOUND',
  ITEM_ALREADY_SETTLED: 'FAILED_PRECONDITION',
  BATCH_NOT_FOUND: 'NOT_FOUND',
  CALENDAR_YEAR_MISSING: 'FAILED_PRECONDITION',
  IDEMPOTENCY_KEY_REUSED: 'ALREADY_EXISTS',
  DEPENDENCY_UNAVAILABLE: 'UNAVAILABLE',
  NO_FEE_RULE: 'FAILED_PRECONDITION',
  CHANNEL_DAY_NOT_FOUND: 'NOT_FOUND',
} as const;

export type SettlementReason = keyof typeof REASON_CODES;

export class SettlementError extends DomainError {
  readonly grpcCode: (typeof REASON_CODES)[SettlementReason];

  constructor(
    readonly reason: SettlementReason,
    message: string,
    extra: DomainErrorExtra = {},
  ) {
    super(message, extra);
    this.grpcCode = REASON_CODES[reason];
  }
}

export function invalidField(field: string, description: string): SettlementError {
  return new SettlementError('INVALID_FIELD', `${field}: ${description}`, { field });
}

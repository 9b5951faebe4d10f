/**
 * Business failures of reconciliation. Each is one ReconReason (the proto's
 * ReconciliationErrorReason without its prefix) mapped to exactly one gRPC
 * status here; the platform's error mapper reads reason, grpcCode, field and
 * metadata structurally.
 */
import { DomainError, type DomainErrorExtra } from '@paycore/errors';

export const REASON_CODES = {
  INVALID_FIELD: 'INVALID_ARGUMENT',
  MALFORMED_STATEMENT: 'INVALID_ARGUMENT',
  STATEMENT_TOO_LARGE: 'INVALID_ARGUMENT',
  CHANNEL_NOT_CONFIGURED: 'NOT_FOUND',
  DAY_ALREADY_RECONCILED: 'FAILED_PRECONDITION',
  DAY_NOT_RECONCILED: 'NOT_FOUND',
  DIFFERENCE_NOT_FOUND: 'NOT_FOUND',
  DIFFERENCE_ALREADY_RESOLVED: 'FAILED_PRECONDITION',
  BANK_LINE_NOT_FOUND: 'NOT_FOUND',
  CLAIM_EXCEEDS_REMAINING: 'FAILED_PRECONDITION',
  IDEMPOTENCY_KEY_REUSED: 'ALREADY_EXISTS',
  DEPENDENCY_UNAVAILABLE: 'UNAVAILABLE',
  BILL_NOT_READY: 'NOT_FOUND',
  RUN_IN_PROGRESS: 'ABORTED',
  PURCHASE_REFUSED: 'FAILED_PRECONDITION',
} as const;

export type ReconReason = keyof typeof REASON_CODES;

export class ReconError extends DomainError {
  readonly grpcCode: (typeof REASON_CODES)[ReconReason];

  constructor(
    readonly reason: ReconReason,
    message: string,
    extra: DomainErrorExtra = {},
  ) {
    super(message, extra);
    this.grpcCode = REASON_CODES[reason];
  }
}

export function invalidField(field: string, description: string): ReconError {
  return new ReconError('INVALID_FIELD', `${field}: ${description}`, { field });
}

/** A file refused with where and why; nothing of it is kept. */
export class MalformedStatementError extends ReconError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly why: string,
  ) {
    super('MALFORMED_STATEMENT', `${file}, line ${line}: ${why}`, {
      metadata: { file, line: String(line), reason_text: why.slice(0, 200) },
    });
  }
}

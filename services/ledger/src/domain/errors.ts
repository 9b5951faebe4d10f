/**
 * Business failures of the ledger service, one class each.
 *
 * Every class carries a stable `reason` (UPPER_SNAKE, never renamed) and the
 * gRPC status name it maps to; the platform's error mapper reads those fields
 * structurally (plus `field` and `metadata`), so the domain never imports
 * gRPC. Programmer errors are not here: they are assertions.
 */

import { DomainError, type DomainGrpcCode } from '@paycore/errors';

export type LedgerGrpcCode = Extract<
  DomainGrpcCode,
  'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'NOT_FOUND' | 'ALREADY_EXISTS'
>;

/** Common base of the ledger service's errors; subclasses fix reason and grpcCode. */
export abstract class LedgerError extends DomainError {
  abstract override readonly grpcCode: LedgerGrpcCode;
}

export class InvalidFieldError extends LedgerError {
  readonly reason = 'INVALID_FIELD';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class UnknownSubjectError extends LedgerError {
  readonly reason = 'UNKNOWN_SUBJECT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class NonLeafSubjectError extends LedgerError {
  readonly reason = 'NON_LEAF_SUBJECT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class SubjectKeptByAccountError extends LedgerError {
  readonly reason = 'SUBJECT_KEPT_BY_ACCOUNT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class UnbalancedVoucherError extends LedgerError {
  readonly reason = 'UNBALANCED_VOUCHER';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class UnknownParentSubjectError extends LedgerError {
  readonly reason = 'UNKNOWN_PARENT_SUBJECT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class CategoryMismatchError extends LedgerError {
  readonly reason = 'CATEGORY_MISMATCH';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class NormalSideMismatchError extends LedgerError {
  readonly reason = 'NORMAL_SIDE_MISMATCH';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class SubjectExistsError extends LedgerError {
  readonly reason = 'SUBJECT_EXISTS';
  readonly grpcCode = 'ALREADY_EXISTS';
}
export class ParentHasPostingsError extends LedgerError {
  readonly reason = 'PARENT_HAS_POSTINGS';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class SubjectNotFoundError extends LedgerError {
  readonly reason = 'SUBJECT_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class VoucherNotFoundError extends LedgerError {
  readonly reason = 'VOUCHER_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class CheckReportNotFoundError extends LedgerError {
  readonly reason = 'CHECK_REPORT_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class DayClosedError extends LedgerError {
  readonly reason = 'DAY_CLOSED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class DayNotSealedError extends LedgerError {
  readonly reason = 'DAY_NOT_SEALED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class DayNotClosableError extends LedgerError {
  readonly reason = 'DAY_NOT_CLOSABLE';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class CloseCheckFailedError extends LedgerError {
  readonly reason = 'CLOSE_CHECK_FAILED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class IdempotencyKeyReusedError extends LedgerError {
  readonly reason = 'IDEMPOTENCY_KEY_REUSED';
  readonly grpcCode = 'ALREADY_EXISTS';
}
export class InvalidPageTokenError extends LedgerError {
  readonly reason = 'INVALID_PAGE_TOKEN';
  readonly grpcCode = 'INVALID_ARGUMENT';
}

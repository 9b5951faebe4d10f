/**
 * Business failures of the account service, one class each.
 *
 * Every class carries a stable `reason` (UPPER_SNAKE, never renamed) and the
 * gRPC status name it maps to. The platform's error mapper reads those two
 * fields structurally (plus `field` and `metadata`), so the domain never
 * imports gRPC. Programmer errors are not here: they are assertions.
 */

import { DomainError, type DomainGrpcCode } from '@paycore/errors';

export type AccountGrpcCode = Extract<
  DomainGrpcCode,
  'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'NOT_FOUND' | 'ALREADY_EXISTS'
>;

/** Common base of the account service's errors; subclasses fix reason and grpcCode. */
export abstract class AccountError extends DomainError {
  abstract override readonly grpcCode: AccountGrpcCode;
}

export class InvalidFieldError extends AccountError {
  readonly reason = 'INVALID_FIELD';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class TooFewLegsError extends AccountError {
  readonly reason = 'TOO_FEW_LEGS';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class TooManyLegsError extends AccountError {
  readonly reason = 'TOO_MANY_LEGS';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class AmountOutOfRangeError extends AccountError {
  readonly reason = 'AMOUNT_OUT_OF_RANGE';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class UnknownCurrencyError extends AccountError {
  readonly reason = 'UNKNOWN_CURRENCY';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class DuplicateAccountError extends AccountError {
  readonly reason = 'DUPLICATE_ACCOUNT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class UnbalancedTransferError extends AccountError {
  readonly reason = 'UNBALANCED_TRANSFER';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class CurrencyMismatchError extends AccountError {
  readonly reason = 'CURRENCY_MISMATCH';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class UnknownSubjectError extends AccountError {
  readonly reason = 'UNKNOWN_SUBJECT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class NonLeafSubjectError extends AccountError {
  readonly reason = 'NON_LEAF_SUBJECT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class ConfirmExceedsTryError extends AccountError {
  readonly reason = 'CONFIRM_EXCEEDS_TRY';
  readonly grpcCode = 'INVALID_ARGUMENT';
}
export class AccountNotFoundError extends AccountError {
  readonly reason = 'ACCOUNT_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class PendingTransferNotFoundError extends AccountError {
  readonly reason = 'PENDING_TRANSFER_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class FreezeNotFoundError extends AccountError {
  readonly reason = 'FREEZE_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class AccountClosedError extends AccountError {
  readonly reason = 'ACCOUNT_CLOSED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class AccountFrozenError extends AccountError {
  readonly reason = 'ACCOUNT_FROZEN';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class AccountNotEmptyError extends AccountError {
  readonly reason = 'ACCOUNT_NOT_EMPTY';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class InsufficientBalanceError extends AccountError {
  readonly reason = 'INSUFFICIENT_BALANCE';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class TransferAlreadyResolvedError extends AccountError {
  readonly reason = 'TRANSFER_ALREADY_RESOLVED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class TryAfterCancelError extends AccountError {
  readonly reason = 'TRY_AFTER_CANCEL';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class DayNotSealableError extends AccountError {
  readonly reason = 'DAY_NOT_SEALABLE';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class DayNotSealedError extends AccountError {
  readonly reason = 'DAY_NOT_SEALED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class IdempotencyKeyReusedError extends AccountError {
  readonly reason = 'IDEMPOTENCY_KEY_REUSED';
  readonly grpcCode = 'ALREADY_EXISTS';
}
export class PendingIdInUseError extends AccountError {
  readonly reason = 'PENDING_ID_IN_USE';
  readonly grpcCode = 'ALREADY_EXISTS';
}
export class InvalidPageTokenError extends AccountError {
  readonly reason = 'INVALID_PAGE_TOKEN';
  readonly grpcCode = 'INVALID_ARGUMENT';
}

/**
 * Business failures of stored value (lots, consumptions, contracts), one class
 * each, on the account service's error base so that the platform's mapper and
 * the reasons catalogue treat them like every other account reason.
 */
import { AccountError } from './errors';

export class InsufficientStoredValueError extends AccountError {
  readonly reason = 'INSUFFICIENT_STORED_VALUE';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class LotNotFoundError extends AccountError {
  readonly reason = 'LOT_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class ContractNotFoundError extends AccountError {
  readonly reason = 'CONTRACT_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class ContractIdInUseError extends AccountError {
  readonly reason = 'CONTRACT_ID_IN_USE';
  readonly grpcCode = 'ALREADY_EXISTS';
}
export class ConsumptionNotFoundError extends AccountError {
  readonly reason = 'CONSUMPTION_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}
export class ConsumptionIdInUseError extends AccountError {
  readonly reason = 'CONSUMPTION_ID_IN_USE';
  readonly grpcCode = 'ALREADY_EXISTS';
}
export class ConsumptionAlreadyResolvedError extends AccountError {
  readonly reason = 'CONSUMPTION_ALREADY_RESOLVED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class RefundExceedsConsumptionError extends AccountError {
  readonly reason = 'REFUND_EXCEEDS_CONSUMPTION';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class LotNotExpiredError extends AccountError {
  readonly reason = 'LOT_NOT_EXPIRED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class LotQuantityExceededError extends AccountError {
  readonly reason = 'LOT_QUANTITY_EXCEEDED';
  readonly grpcCode = 'FAILED_PRECONDITION';
}
export class ReconciliationNotFoundError extends AccountError {
  readonly reason = 'RECONCILIATION_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND';
}

/**
 * Business failures of channel-router, one type each, each with the stable
 * `reason` and the gRPC status the platform kit maps it to. Channel outcomes
 * (declined, unknown) are not errors: they are transaction states.
 */
import { DomainError, type DomainGrpcCode } from '@paycore/errors';

/** The gRPC status names this service's errors map to (the platform kit reads them structurally). */
type GrpcCodeName = Extract<
  DomainGrpcCode,
  'NOT_FOUND' | 'FAILED_PRECONDITION' | 'ALREADY_EXISTS' | 'INVALID_ARGUMENT' | 'UNAVAILABLE'
>;

abstract class ChannelRouterError extends DomainError {
  abstract override readonly grpcCode: GrpcCodeName;
  constructor(message: string, field?: string) {
    super(message, field !== undefined ? { field } : {});
  }
}

export class ChannelNotFoundError extends ChannelRouterError {
  readonly reason = 'CHANNEL_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND' as const;
}
export class TxnNotFoundError extends ChannelRouterError {
  readonly reason = 'TXN_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND' as const;
}
export class StatementNotFoundError extends ChannelRouterError {
  readonly reason = 'STATEMENT_NOT_FOUND';
  readonly grpcCode = 'NOT_FOUND' as const;
}
export class BillNotReadyError extends ChannelRouterError {
  readonly reason = 'BILL_NOT_READY';
  readonly grpcCode = 'NOT_FOUND' as const;
}
export class NoRouteError extends ChannelRouterError {
  readonly reason = 'NO_ROUTE';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}
export class RouteNotAvailableError extends ChannelRouterError {
  readonly reason = 'ROUTE_NOT_AVAILABLE';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}
export class DailyCapExceededError extends ChannelRouterError {
  readonly reason = 'DAILY_CAP_EXCEEDED';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}
export class AlreadyPaidError extends ChannelRouterError {
  readonly reason = 'ALREADY_PAID';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}
export class PaymentNotSuccessfulError extends ChannelRouterError {
  readonly reason = 'PAYMENT_NOT_SUCCESSFUL';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}
export class RefundExceedsPaymentError extends ChannelRouterError {
  readonly reason = 'REFUND_EXCEEDS_PAYMENT';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}
export class IdempotencyKeyReusedError extends ChannelRouterError {
  readonly reason = 'IDEMPOTENCY_KEY_REUSED';
  readonly grpcCode = 'ALREADY_EXISTS' as const;
}
export class InvalidCredentialsError extends ChannelRouterError {
  readonly reason = 'INVALID_CREDENTIALS';
  readonly grpcCode = 'INVALID_ARGUMENT' as const;
}
export class UnknownChannelNoError extends ChannelRouterError {
  readonly reason = 'UNKNOWN_CHANNEL_NO';
  readonly grpcCode = 'INVALID_ARGUMENT' as const;
}
export class UnsupportedCurrencyError extends ChannelRouterError {
  readonly reason = 'UNSUPPORTED_CURRENCY';
  readonly grpcCode = 'INVALID_ARGUMENT' as const;
}
export class ChannelUnavailableError extends ChannelRouterError {
  readonly reason = 'DEPENDENCY_UNAVAILABLE';
  readonly grpcCode = 'UNAVAILABLE' as const;
}
export class UnknownPayChannelError extends ChannelRouterError {
  readonly reason = 'UNKNOWN_PAY_CHANNEL';
  readonly grpcCode = 'INVALID_ARGUMENT' as const;
}

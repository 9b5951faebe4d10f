/**
 * Business failures of channel-router, one type each, each with the stable
 * `reason` and the gRPC status the platform kit maps it to. Every reason is
 * declared in proto/paycore/channel/v1/errors.proto (ChannelErrorReason) or
 * in the common ErrorReason (test/reasons-declared.test.ts checks it).
 * Channel outcomes (declined, unknown) are not errors: they are
 * transaction states.
 */
import { DomainError, type DomainGrpcCode } from '@paycore/errors';

/** The gRPC status names this service's errors map to (the platform kit reads them structurally). */
type GrpcCodeName = Extract<
  DomainGrpcCode,
  'NOT_FOUND' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT' | 'UNAVAILABLE'
>;

abstract class ChannelRouterError extends DomainError {
  abstract override readonly grpcCode: GrpcCodeName;
  constructor(message: string, field?: string, metadata?: Record<string, string>) {
    super(message, {
      ...(field !== undefined ? { field } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
    });
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
/** A definite refusal: no route is configured or eligible (nothing was sent to a channel). */
export class NoRouteError extends ChannelRouterError {
  readonly reason = 'NO_ROUTE';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}
/** Why a route is not available, in ErrorInfo.metadata.cause of ROUTE_NOT_AVAILABLE. */
export type RouteUnavailableCause = 'NO_USABLE_CREDENTIALS' | 'INELIGIBLE';

/** A definite refusal: the route exists but cannot take this request now (nothing was sent to a channel). */
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

/** The route does not support the operation (e.g. PAY on a payout-only line). */
export class ActionUnsupportedError extends ChannelRouterError {
  readonly reason = 'ACTION_UNSUPPORTED';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}

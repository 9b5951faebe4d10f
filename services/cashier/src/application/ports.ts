/**
 * What the cashier needs from the account service and from channel-router,
 * in its own terms. Adapters (adapters/grpc) implement them over gRPC;
 * every method is idempotent under its request id, which is what lets the
 * orchestration replay any step after a crash.
 */
import type { AccountRef, SideName } from '../domain/accounts';

export interface Leg {
  readonly accountId: string;
  readonly side: SideName;
  readonly amountMinor: bigint;
}

/** The account service refused (a business reason such as INSUFFICIENT_BALANCE); retrying will not help. */
export class DependencyRefusal extends Error {
  constructor(
    readonly service: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'DependencyRefusal';
  }
}

export interface AccountPort {
  openAccount(requestId: string, bizCode: string, ref: AccountRef, currency: string): Promise<string>;
  tryTransfer(pendingId: string, bizCode: string, legs: readonly Leg[], timeoutMs: number): Promise<void>;
  confirmTransfer(pendingId: string, bizCode: string): Promise<void>;
  cancelTransfer(pendingId: string, bizCode: string): Promise<void>;
  transfer(requestId: string, bizCode: string, legs: readonly Leg[], memo: string): Promise<void>;
  /** Available and total balance on the account's normal side, minor units. */
  balance(accountId: string): Promise<{ availableMinor: bigint; totalMinor: bigint }>;
}

export type ChannelTxnState = 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'CLOSED' | 'UNKNOWN';

export interface ChannelTxn {
  readonly txnId: string;
  readonly state: ChannelTxnState;
  readonly payUrl: string;
  readonly failureCode: string;
  readonly failureMessage: string;
  readonly channelNo: string;
}

export interface RouteChoice {
  readonly payChannel: string;
  readonly channelNo: string;
  readonly bizCode: string;
}

export interface ChannelPort {
  listPayChannels(bizCode: string, amountMinor: bigint): Promise<{ payChannel: string; label: string }[]>;
  /** Throws CashierError NO_ROUTE when nothing is eligible. */
  route(bizCode: string, amountMinor: bigint, merchantId: string, payChannel: string): Promise<RouteChoice>;
  createPayment(
    requestId: string,
    bizCode: string,
    amountMinor: bigint,
    subject: string,
  ): Promise<ChannelTxn>;
  query(txnId: string): Promise<ChannelTxn>;
  /** CLOSED (or as it was when final); ALREADY_PAID means the channel says it was paid. */
  close(requestId: string, txnId: string): Promise<ChannelTxn | 'ALREADY_PAID'>;
  refund(
    requestId: string,
    paymentTxnId: string,
    amountMinor: bigint,
    reason: string,
    bizCode: string,
  ): Promise<ChannelTxn>;
  createPayout(
    requestId: string,
    bizCode: string,
    amountMinor: bigint,
    payee: { accountNo: string; accountName: string; bankCode: string },
  ): Promise<ChannelTxn>;
  queryPayout(txnId: string): Promise<ChannelTxn>;
}

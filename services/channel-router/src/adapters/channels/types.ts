/**
 * The port every channel adapter implements: the operations channel-router
 * needs, in its own words (bigint fen, TxnState). An adapter never throws for
 * a channel outcome; it returns one. `healthy` feeds the circuit breaker:
 * false when the channel did not answer usefully (network error, timeout,
 * system error, unverifiable answer), true for any real answer, including a
 * business refusal.
 */
import type { TxnState } from '../../domain/txn';

export interface ChannelOutcome {
  /** undefined: the channel told us nothing new (e.g. a query that found no such order yet). */
  readonly state: TxnState | undefined;
  readonly healthy: boolean;
  readonly channelTxnNo?: string;
  readonly payUrl?: string;
  readonly failureCode?: string;
  readonly failureMessage?: string;
  /** The channel certainly did not act, so another channel number may be tried. */
  readonly retryableElsewhere?: boolean;
  /** Amount the channel reports for the transaction, when it reports one (checked against ours). */
  readonly amountFen?: bigint;
}

export interface PaymentRef {
  readonly txnId: string;
  readonly amountFen: bigint;
  readonly channelTxnNo: string;
}

export interface Payee {
  readonly accountNo: string;
  readonly accountName: string;
  readonly bankCode: string;
  readonly remark: string;
}

export interface BillFile {
  readonly format: 'ALIPAY_TRADE_ZIP' | 'WECHAT_TRADE_ALL';
  readonly content: Buffer;
  readonly lineCount: number;
}

export interface ChannelAdapter {
  createPayment(
    payment: PaymentRef,
    subject: string,
    payChannel: string,
    notifyUrl: string,
  ): Promise<ChannelOutcome>;
  queryPayment(payment: PaymentRef): Promise<ChannelOutcome>;
  closePayment(payment: PaymentRef): Promise<ChannelOutcome>;
  refund(refund: PaymentRef, payment: PaymentRef, reason: string): Promise<ChannelOutcome>;
  queryRefund(refund: PaymentRef, payment: PaymentRef): Promise<ChannelOutcome>;
  createPayout(payout: PaymentRef, payee: Payee): Promise<ChannelOutcome>;
  queryPayout(payout: PaymentRef): Promise<ChannelOutcome>;
  /** undefined when the channel has no bill for the date (yet). */
  downloadBill(billDate: string): Promise<BillFile | undefined>;
}

export class UnsupportedOperationError extends Error {
  readonly reason = 'ACTION_UNSUPPORTED';
  readonly grpcCode = 'FAILED_PRECONDITION' as const;
}

export const NO_ANSWER: ChannelOutcome = { state: 'UNKNOWN', healthy: false, failureCode: 'NO_ANSWER' };

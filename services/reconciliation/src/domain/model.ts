/**
 * The vocabulary of reconciliation: statement lines as every format is
 * normalised to, paycore's channel transactions, result classes and
 * directions. Amounts are bigint minor units; a line's amount is positive and
 * its kind says which way the money went.
 */

export const ITEM_KINDS = ['PAY', 'REFUND', 'PAYOUT'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

export const CLASSES = [
  'MATCHED',
  'PLATFORM_MISSING',
  'CHANNEL_MISSING',
  'STATUS_MISMATCH',
  'AMOUNT_MISMATCH',
  'FEE_MISMATCH',
  'DUPLICATE',
  'CURRENCY_MISMATCH',
] as const;
export type ResultClass = (typeof CLASSES)[number];
export type DifferenceClass = Exclude<ResultClass, 'MATCHED'>;

export type Direction = 'OVER' | 'UNDER' | 'NONE';

export const TXN_STATES = ['PROCESSING', 'SUCCESS', 'FAIL', 'CLOSED', 'UNKNOWN'] as const;
export type TxnState = (typeof TXN_STATES)[number];

/** What the bill says happened to a line: SUCCESS, or the channel's word for anything else (REVOKED…). */
export type LineStatus = string;

/** One line of a statement, whatever its format. */
export interface StatementLine {
  /** 1-based position among the file's detail lines. */
  readonly lineNo: number;
  readonly kind: ItemKind;
  readonly status: LineStatus;
  /** channel-router's txn id (out_trade_no / out_refund_no / out_request_no). */
  readonly merchantOrderNo: string;
  readonly channelTxnNo: string;
  readonly amountMinor: bigint;
  /** Positive: charged; negative: given back. */
  readonly feeMinor: bigint;
  readonly currency: string;
  /** `YYYY-MM-DD HH:mm:ss`, China time. */
  readonly finishedAt: string;
}

/** A whole file after parsing and its internal checks. */
export interface ParsedStatement {
  readonly format: string;
  readonly lines: readonly StatementLine[];
  /** Signed sum of amounts as the footer states it: pay − refunds. */
  readonly statedAmountMinor: bigint;
  /** Sum of fees as the footer states it. */
  readonly statedFeeMinor: bigint;
}

/** paycore's record of one channel transaction (from channel.txn_updated). */
export interface ChannelTxn {
  readonly txnId: string;
  readonly kind: ItemKind;
  readonly state: TxnState;
  readonly channelNo: string;
  readonly payChannel: string;
  readonly bizCode: string;
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly currency: string;
  readonly channelTxnNo: string;
  readonly originalTxnId: string;
  /** China date of the final state (creation before it). */
  readonly channelDay: string;
  readonly finishTime: Date | null;
  readonly version: bigint;
}

/** Signed effect of a line on the channel's settlement: pay adds, refunds and payouts subtract. */
export function signedAmount(kind: ItemKind, amountMinor: bigint): bigint {
  return kind === 'PAY' ? amountMinor : -amountMinor;
}

/** One leg of an account transfer. */
export interface Leg {
  readonly accountId: string;
  readonly side: 'DEBIT' | 'CREDIT';
  readonly amountMinor: bigint;
}

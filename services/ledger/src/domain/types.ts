/**
 * Domain types of the ledger. Plain data, no storage tags: the pg adapter
 * maps rows to these and back; the gRPC adapter maps them to protobuf.
 */
import type { Side } from '@paycore/money';

/** BOTH only for common-class (共同类) subjects: the balance direction follows its sign. */
export type NormalSide = Side | 'BOTH';
export type Category = 'ASSET' | 'LIABILITY' | 'COMMON' | 'EQUITY' | 'COST' | 'PROFIT_AND_LOSS';
export type BalanceDirection = 'DEBIT' | 'CREDIT' | 'FLAT';
export type VoucherSource = 'TRANSFER' | 'MANUAL';

export interface Subject {
  readonly code: string;
  readonly name: string;
  readonly category: Category;
  readonly normalSide: NormalSide;
  /** Account holds the balances of record of this subject (see ADR 0010). */
  readonly accountKept: boolean;
}

/** One line of a voucher: a positive amount on one side of one leaf subject. */
export interface VoucherLine {
  readonly subjectCode: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly currency: string;
  /** The account of the transfer leg; null for manual lines. */
  readonly accountId: string | null;
}

export interface Voucher {
  readonly voucherId: string;
  readonly source: VoucherSource;
  readonly transferId: string | null;
  readonly bizCode: string;
  readonly accountingDate: string;
  readonly lines: readonly VoucherLine[];
  readonly reason: string;
  readonly operator: string;
  readonly createdAt: Date;
}

/** Key of every per-subject figure: amounts of different currencies never mix. */
export function balanceKey(subjectCode: string, currency: string): string {
  return `${subjectCode}|${currency}`;
}

/** Where a debit-positive net stands, and how much. */
export function directionOf(netDebitMinor: bigint): { direction: BalanceDirection; amountMinor: bigint } {
  if (netDebitMinor > 0n) return { direction: 'DEBIT', amountMinor: netDebitMinor };
  if (netDebitMinor < 0n) return { direction: 'CREDIT', amountMinor: -netDebitMinor };
  return { direction: 'FLAT', amountMinor: 0n };
}

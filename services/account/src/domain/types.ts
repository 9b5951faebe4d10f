/**
 * Domain types of the account service. Plain data, no storage tags: the pg
 * adapter maps rows to these and back.
 */
import type { Side } from '@paycore/money';

export type OwnerType = 'CUSTOMER' | 'MERCHANT' | 'INTERNAL';
export type AccountStatus = 'ACTIVE' | 'FROZEN' | 'CLOSED';
export type PostingMode = 'REALTIME' | 'BUFFERED';

/**
 * The part of an account that postings read and change. Balances are on the
 * account's normal side, in minor units: total = available + frozen.
 */
export interface AccountState {
  readonly id: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly normalSide: Side;
  readonly allowOverdraft: boolean;
  readonly status: AccountStatus;
  readonly postingMode: PostingMode;
  readonly available: bigint;
  readonly frozen: bigint;
  /** Sequence of the last entry; 0 when the journal is empty. */
  readonly lastSeq: bigint;
}

/** One leg of a transfer as the caller asked for it. */
export interface Leg {
  readonly accountId: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly currency: string;
}

/** One journal line, chained to the previous one by balanceAfter. */
export interface Entry {
  readonly accountId: string;
  readonly seq: bigint;
  readonly transferId: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly balanceAfter: bigint;
  readonly bizCode: string;
  readonly accountingDate: string;
}

/** A leg for a BUFFERED account that increases it: queued, applied later by the flusher. */
export interface QueuedCredit {
  readonly accountId: string;
  readonly transferId: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly bizCode: string;
  readonly accountingDate: string;
}

/** How one leg was posted: an entry (with its seq) or a queued credit. */
export interface PostedLeg {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly currency: string;
  /** 0n when buffered. */
  readonly entrySeq: bigint;
  readonly buffered: boolean;
}

export function totalOf(account: Pick<AccountState, 'available' | 'frozen'>): bigint {
  return account.available + account.frozen;
}

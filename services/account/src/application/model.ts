/**
 * What the use cases return: plain data transfer objects, independent of
 * storage rows and of protobuf. The gRPC adapter maps them to messages.
 */
import type { PendingState } from '../domain/pending';
import type { Side } from '@paycore/money';
import type { AccountStatus, Leg, OwnerType, PostedLeg, PostingMode } from '../domain/types';

export interface AccountView {
  readonly id: string;
  readonly ownerType: OwnerType;
  readonly ownerId: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly normalSide: Side;
  readonly allowOverdraft: boolean;
  readonly status: AccountStatus;
  readonly postingMode: PostingMode;
  readonly flushIntervalMs: number;
  readonly flushBatchMax: number;
  readonly available: bigint;
  readonly frozen: bigint;
  /** Credits queued for a BUFFERED account, not yet in available. */
  readonly pendingBuffered: bigint;
  readonly lastSeq: bigint;
  readonly createdAt: Date;
}

export interface PostedTransfer {
  readonly transferId: string;
  readonly requestId: string;
  readonly bizCode: string;
  readonly accountingDate: string;
  readonly legs: readonly PostedLeg[];
  readonly postedAt: Date;
  /** The pending id when this posting confirmed a two-phase transfer; '' otherwise. */
  readonly pendingId: string;
}

export interface PendingView {
  readonly pendingId: string;
  readonly state: PendingState;
  readonly bizCode: string;
  readonly legs: readonly Leg[];
  readonly expiresAt: Date | null;
  readonly posted: PostedTransfer | null;
}

export interface EntryView {
  readonly accountId: string;
  readonly seq: bigint;
  readonly transferId: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly balanceAfter: bigint;
  readonly currency: string;
  readonly bizCode: string;
  readonly accountingDate: string;
  readonly createdAt: Date;
}

export interface BalanceView {
  readonly currency: string;
  /** Undefined for an as-of read, which knows only the total. */
  readonly available: bigint | undefined;
  readonly frozen: bigint | undefined;
  readonly total: bigint;
  readonly pendingBuffered: bigint | undefined;
  readonly lastSeq: bigint;
}

export interface SubjectDayTotal {
  readonly subjectCode: string;
  readonly currency: string;
  readonly entryCount: bigint;
  readonly debitTotal: bigint;
  readonly creditTotal: bigint;
}

export interface SealResult {
  readonly accountingDate: string;
  readonly totals: readonly SubjectDayTotal[];
  readonly accountCount: bigint;
  readonly sealedAt: Date;
}

export interface DailyBalanceView {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly accountingDate: string;
  readonly normalSide: Side;
  readonly opening: bigint;
  readonly debitTotal: bigint;
  readonly creditTotal: bigint;
  readonly closing: bigint;
  readonly entryCount: bigint;
}

export interface FreezeResult {
  readonly freezeId: string;
  readonly account: AccountView;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** '' when this page is the last. */
  readonly nextPageToken: string;
}

/**
 * Protobuf <-> application mapping. Pure functions; handlers stay thin.
 */
import type { Duration } from '@paycore/proto/google/protobuf/duration';
import type { Money } from '@paycore/proto/paycore/common/v1/money';
import {
  AccountStatus as ProtoStatus,
  OwnerType as ProtoOwnerType,
  PendingState as ProtoPendingState,
  PostingMode as ProtoPostingMode,
  Side as ProtoSide,
  type Account,
  type DailyBalance,
  type Entry,
  type PendingTransfer,
  type PostedTransfer as ProtoPostedTransfer,
  type TransferLeg,
} from '@paycore/proto/paycore/account/v1/account_service';
import type {
  AccountView,
  DailyBalanceView,
  EntryView,
  PendingView,
  PostedTransfer,
} from '../../application/model';
import { InvalidFieldError } from '../../domain/errors';
import type { PendingState } from '../../domain/pending';
import type { Side } from '@paycore/money';
import type { AccountStatus, Leg, OwnerType, PostingMode } from '../../domain/types';

export function money(amountMinor: bigint, currency: string): Money {
  return { amountMinor, currency };
}

export function sideFromProto(side: ProtoSide, field: string): Side {
  if (side === ProtoSide.SIDE_DEBIT) return 'DEBIT';
  if (side === ProtoSide.SIDE_CREDIT) return 'CREDIT';
  throw new InvalidFieldError(`${field} must be SIDE_DEBIT or SIDE_CREDIT`, { field });
}

export function sideToProto(side: Side): ProtoSide {
  return side === 'DEBIT' ? ProtoSide.SIDE_DEBIT : ProtoSide.SIDE_CREDIT;
}

export function ownerTypeFromProto(type: ProtoOwnerType): OwnerType {
  switch (type) {
    case ProtoOwnerType.OWNER_TYPE_CUSTOMER:
      return 'CUSTOMER';
    case ProtoOwnerType.OWNER_TYPE_MERCHANT:
      return 'MERCHANT';
    case ProtoOwnerType.OWNER_TYPE_INTERNAL:
      return 'INTERNAL';
    default:
      throw new InvalidFieldError('owner_type is required', { field: 'owner_type' });
  }
}

function ownerTypeToProto(type: OwnerType): ProtoOwnerType {
  return {
    CUSTOMER: ProtoOwnerType.OWNER_TYPE_CUSTOMER,
    MERCHANT: ProtoOwnerType.OWNER_TYPE_MERCHANT,
    INTERNAL: ProtoOwnerType.OWNER_TYPE_INTERNAL,
  }[type];
}

function statusToProto(status: AccountStatus): ProtoStatus {
  return {
    ACTIVE: ProtoStatus.ACCOUNT_STATUS_ACTIVE,
    FROZEN: ProtoStatus.ACCOUNT_STATUS_FROZEN,
    CLOSED: ProtoStatus.ACCOUNT_STATUS_CLOSED,
  }[status];
}

export function postingModeFromProto(mode: ProtoPostingMode): PostingMode {
  if (mode === ProtoPostingMode.POSTING_MODE_REALTIME) return 'REALTIME';
  if (mode === ProtoPostingMode.POSTING_MODE_BUFFERED) return 'BUFFERED';
  throw new InvalidFieldError('posting_mode is required', { field: 'posting_mode' });
}

function postingModeToProto(mode: PostingMode): ProtoPostingMode {
  return mode === 'REALTIME'
    ? ProtoPostingMode.POSTING_MODE_REALTIME
    : ProtoPostingMode.POSTING_MODE_BUFFERED;
}

function pendingStateToProto(state: PendingState): ProtoPendingState {
  return {
    TRIED: ProtoPendingState.PENDING_STATE_TRIED,
    CONFIRMED: ProtoPendingState.PENDING_STATE_CONFIRMED,
    CANCELLED: ProtoPendingState.PENDING_STATE_CANCELLED,
    CANCELLED_EMPTY: ProtoPendingState.PENDING_STATE_CANCELLED_EMPTY,
    EXPIRED: ProtoPendingState.PENDING_STATE_EXPIRED,
  }[state];
}

/** Milliseconds of a Duration; undefined when unset. Sub-millisecond parts are refused, not rounded. */
export function durationMs(duration: Duration | undefined, field: string): number | undefined {
  if (duration === undefined) return undefined;
  if (
    duration.seconds < 0n ||
    duration.nanos < 0 ||
    duration.nanos % 1_000_000 !== 0 ||
    duration.seconds > 10n ** 9n
  ) {
    throw new InvalidFieldError(`${field} must be a non-negative whole number of milliseconds`, { field });
  }
  return Number(duration.seconds) * 1000 + duration.nanos / 1_000_000;
}

export function durationOf(ms: number): Duration {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

export function legsFromProto(legs: readonly TransferLeg[], field = 'legs'): Leg[] {
  return legs.map((leg, index) => ({
    accountId: leg.accountId,
    side: sideFromProto(leg.side, `${field}[${index}].side`),
    amountMinor: leg.amount?.amountMinor ?? 0n,
    currency: leg.amount?.currency ?? '',
  }));
}

export function legsToProto(legs: readonly Leg[]): TransferLeg[] {
  return legs.map((leg) => ({
    accountId: leg.accountId,
    side: sideToProto(leg.side),
    amount: money(leg.amountMinor, leg.currency),
  }));
}

export function accountToProto(view: AccountView): Account {
  return {
    accountId: view.id,
    ownerType: ownerTypeToProto(view.ownerType),
    ownerId: view.ownerId,
    subjectCode: view.subjectCode,
    currency: view.currency,
    normalSide: sideToProto(view.normalSide),
    allowOverdraft: view.allowOverdraft,
    status: statusToProto(view.status),
    postingMode: postingModeToProto(view.postingMode),
    flushInterval: durationOf(view.flushIntervalMs),
    flushBatchMax: view.flushBatchMax,
    balance: {
      available: money(view.available, view.currency),
      frozen: money(view.frozen, view.currency),
      total: money(view.available + view.frozen, view.currency),
      pendingBuffered: money(view.pendingBuffered, view.currency),
    },
    lastEntrySeq: view.lastSeq,
    createdAt: view.createdAt,
  };
}

export function postedToProto(posted: PostedTransfer): ProtoPostedTransfer {
  return {
    transferId: posted.transferId,
    accountingDate: posted.accountingDate,
    legs: posted.legs.map((leg) => ({
      accountId: leg.accountId,
      subjectCode: leg.subjectCode,
      side: sideToProto(leg.side),
      amount: money(leg.amountMinor, leg.currency),
      entrySeq: leg.entrySeq,
      buffered: leg.buffered,
    })),
    bizCode: posted.bizCode,
    postedAt: posted.postedAt,
  };
}

export function pendingToProto(view: PendingView): PendingTransfer {
  return {
    pendingId: view.pendingId,
    state: pendingStateToProto(view.state),
    legs: legsToProto(view.legs),
    expiresAt: view.expiresAt ?? undefined,
    posted: view.posted === null ? undefined : postedToProto(view.posted),
  };
}

export function entryToProto(entry: EntryView): Entry {
  return {
    accountId: entry.accountId,
    seq: entry.seq,
    transferId: entry.transferId,
    side: sideToProto(entry.side),
    amount: money(entry.amountMinor, entry.currency),
    balanceAfter: money(entry.balanceAfter, entry.currency),
    bizCode: entry.bizCode,
    accountingDate: entry.accountingDate,
    createdAt: entry.createdAt,
  };
}

export function dailyToProto(row: DailyBalanceView): DailyBalance {
  return {
    accountId: row.accountId,
    subjectCode: row.subjectCode,
    accountingDate: row.accountingDate,
    normalSide: sideToProto(row.normalSide),
    opening: money(row.opening, row.currency),
    debitTotal: money(row.debitTotal, row.currency),
    creditTotal: money(row.creditTotal, row.currency),
    closing: money(row.closing, row.currency),
    entryCount: row.entryCount,
  };
}

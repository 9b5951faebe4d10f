/**
 * The store port: what the use cases need from storage. Each method is one
 * named transaction boundary; the pg adapter implements it. Commands arrive
 * here already validated for shape (request ids, context codes, legs) and
 * fingerprinted for idempotency.
 */
import type { Side } from '@paycore/money';
import type { OwnerType, Leg, PostingMode } from '../domain/types';
import type { Settled } from './batcher';
import type {
  AccountView,
  BalanceView,
  DailyBalanceView,
  EntryView,
  FreezeResult,
  PendingView,
  PostedTransfer,
  SealResult,
} from './model';

export interface Idempotent {
  readonly requestId: string;
  /** Fingerprint of the payload (requestHash). */
  readonly requestHash: string;
  readonly bizCode: string;
}

export interface TransferCommand extends Idempotent {
  readonly legs: readonly Leg[];
  readonly memo: string;
  /** Trace and context headers captured in the caller's context, for the event. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface OpenAccountCommand extends Idempotent {
  readonly ownerType: OwnerType;
  readonly ownerId: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly normalSide: Side;
  readonly allowOverdraft: boolean;
  /** Defaults for a later switch to BUFFERED. */
  readonly flushIntervalMs: number;
  readonly flushBatchMax: number;
}

export interface TryTransferCommand extends Idempotent {
  readonly pendingId: string;
  readonly legs: readonly Leg[];
  /** Fingerprint of (pending id, legs), shared by every replay of the try. */
  readonly tryHash: string;
  readonly timeoutMs: number;
}

export interface ConfirmTransferCommand extends Idempotent {
  readonly pendingId: string;
  /** Empty to confirm the tried legs. */
  readonly legs: readonly Leg[];
  readonly headers: Readonly<Record<string, string>>;
}

export interface CancelTransferCommand extends Idempotent {
  readonly pendingId: string;
}

export interface FreezeCommand extends Idempotent {
  readonly accountId: string;
  readonly wholeAccount: boolean;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly reason: string;
}

export interface UnfreezeCommand extends Idempotent {
  readonly freezeId: string;
}

export interface CloseAccountCommand extends Idempotent {
  readonly accountId: string;
}

export interface SetPostingModeCommand extends Idempotent {
  readonly accountId: string;
  readonly postingMode: PostingMode;
  readonly flushIntervalMs: number;
  readonly flushBatchMax: number;
}

export interface SealDayCommand extends Idempotent {
  readonly accountingDate: string;
}

export interface EntryQuery {
  readonly accountId: string;
  readonly startTime: Date | undefined;
  readonly endTime: Date | undefined;
  readonly bizCode: string | undefined;
  /** Entries after this seq (exclusive); 0n for the first page. */
  readonly afterSeq: bigint;
  readonly limit: number;
}

export interface AccountStore {
  postTransfers(commands: readonly TransferCommand[]): Promise<readonly Settled<PostedTransfer>[]>;
  openAccount(command: OpenAccountCommand): Promise<AccountView>;
  getAccount(accountId: string): Promise<AccountView>;
  listAccounts(
    ownerType: OwnerType,
    ownerId: string,
    afterId: string,
    limit: number,
  ): Promise<readonly AccountView[]>;
  closeAccount(command: CloseAccountCommand): Promise<AccountView>;
  getBalance(accountId: string, asOf: Date | undefined): Promise<BalanceView>;
  listEntries(query: EntryQuery): Promise<readonly EntryView[]>;
  tryTransfer(command: TryTransferCommand): Promise<PendingView>;
  confirmTransfer(command: ConfirmTransferCommand): Promise<PendingView>;
  cancelTransfer(command: CancelTransferCommand): Promise<PendingView>;
  /** Expires up to `limit` tried transfers whose timeout passed; returns how many. */
  expireDue(limit: number): Promise<number>;
  freeze(command: FreezeCommand): Promise<FreezeResult>;
  unfreeze(command: UnfreezeCommand): Promise<AccountView>;
  setPostingMode(command: SetPostingModeCommand): Promise<AccountView>;
  /** Applies queued credits of BUFFERED accounts whose interval elapsed; returns credits applied. */
  flushDue(accountsMax: number): Promise<number>;
  sealDay(command: SealDayCommand): Promise<SealResult>;
  getDailyBalances(
    accountingDate: string,
    afterAccountId: string,
    limit: number,
  ): Promise<readonly DailyBalanceView[]>;
}

/**
 * The store port: what the use cases need from storage, and nothing else.
 * A use case runs `transaction(name, isolation, tx => …)`; inside, `tx` offers
 * the platform's idempotency claims (single and batch) and one narrow
 * repository per aggregate. Reads outside a transaction are single statements
 * on `reads`. The pg adapter implements it; the use cases hold every rule.
 *
 * Lock order, the same everywhere so nothing can deadlock: request-id claims
 * (idempotency rows, a batch in id order) → pending-id lock → posting lock
 * (shared for postings, exclusive for SealDay, SetPostingMode, CloseAccount)
 * → account rows FOR UPDATE in id order.
 */
import type {
  BatchTxPort,
  Claim,
  IdempotentRequest,
  IsolationLevel,
  TransitionResult,
} from '@paycore/platform';
import type { Side } from '@paycore/money';
import type { PendingRecord, PendingState } from '../domain/pending';
import type { Reservation } from '../domain/posting';
import type { FreezeStatus } from '../domain/states';
import type {
  AccountState,
  AccountStatus,
  Entry,
  Leg,
  OwnerType,
  PostingMode,
  QueuedCredit,
} from '../domain/types';
import type {
  AccountView,
  DailyBalanceView,
  EntryView,
  PendingView,
  PostedTransfer,
  SealResult,
} from './model';

export interface Idempotent {
  readonly requestId: string;
  readonly bizCode: string;
}

export interface TransferCommand extends Idempotent {
  readonly legs: readonly Leg[];
  readonly memo: string;
  /** Trace and context headers captured in the caller's context, for the event. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface NewAccount {
  readonly id: string;
  readonly ownerType: OwnerType;
  readonly ownerId: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly normalSide: Side;
  readonly allowOverdraft: boolean;
  readonly flushIntervalMs: number;
  readonly flushBatchMax: number;
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

/** A two-phase transfer as stored, with the posting of its confirm when there is one. */
export interface LoadedPending {
  readonly record: PendingRecord;
  readonly bizCode: string;
  readonly reservations: readonly Reservation[];
  readonly posted: PostedTransfer | null;
}

export interface NewTriedPending {
  readonly pendingId: string;
  readonly bizCode: string;
  readonly legs: readonly Leg[];
  readonly reservations: readonly Reservation[];
  readonly tryHash: string;
  readonly expiresAt: Date;
}

export interface NewFreeze {
  readonly id: string;
  readonly accountId: string;
  readonly wholeAccount: boolean;
  /** 0 for a whole-account freeze. */
  readonly amountMinor: bigint;
  readonly reason: string;
  readonly bizCode: string;
}

export interface FreezeRecord {
  readonly id: string;
  readonly accountId: string;
  readonly wholeAccount: boolean;
  readonly amountMinor: bigint;
  readonly status: FreezeStatus;
}

/** One accepted transfer (or confirm) of a posting transaction. */
export interface TransferWrite {
  readonly posted: PostedTransfer;
  readonly kind: 'TRANSFER' | 'CONFIRM';
  readonly memo: string;
  /** Headers of its transfer_posted event. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Everything a posting transaction accumulates before its one write. */
export class PostingWrites {
  readonly entries: Entry[] = [];
  readonly queued: QueuedCredit[] = [];
  readonly transfers: TransferWrite[] = [];
  readonly states = new Map<string, AccountState>();
}

export interface AccountRepo {
  insert(account: NewAccount): Promise<void>;
  /** States of these accounts; with `lock`, FOR UPDATE in id order. Ids that cannot exist are absent. */
  states(ids: readonly string[], lock: boolean): Promise<Map<string, AccountState>>;
  /** Locks one account for a flush: its state and its flush cap. */
  lockForFlush(accountId: string): Promise<{ state: AccountState; flushBatchMax: number } | undefined>;
  /** Writes balances (available, frozen, last seq) back, one statement. */
  save(states: Iterable<AccountState>): Promise<void>;
  view(accountId: string): Promise<AccountView | undefined>;
  /** Moves the status along ACCOUNT_STATUS_TRANSITIONS (stamps closed_at on CLOSED). */
  moveTo(accountId: string, to: AccountStatus): Promise<TransitionResult<AccountStatus>>;
  setPostingMode(
    accountId: string,
    mode: PostingMode,
    flushIntervalMs: number,
    flushBatchMax: number,
  ): Promise<void>;
}

export interface PostingRepo {
  lockShared(): Promise<void>;
  lockExclusive(): Promise<void>;
  lastSealedDate(): Promise<string | null>;
  /** Entries, queued credits, account states, transfers and their events: one statement. */
  write(writes: PostingWrites): Promise<void>;
  /** Posted transfers by id (what a replay answers). */
  transfers(transferIds: readonly string[]): Promise<Map<string, PostedTransfer>>;
  /** Up to `cap` queued credits of one account in arrival order, with their queue ids. */
  queued(accountId: string, cap: number): Promise<readonly { queueId: string; credit: QueuedCredit }[]>;
  /** A flush: the entries, the account's new state and flush time, the applied queue rows gone. */
  applyFlush(account: AccountState, entries: readonly Entry[], queueIds: readonly string[]): Promise<void>;
  /** Accounts with queued credits, in id order. */
  queuedAccounts(): Promise<readonly string[]>;
}

export interface PendingRepo {
  /** Serialises try / confirm / cancel / expiry of one pending id. */
  lock(pendingId: string): Promise<void>;
  find(pendingId: string): Promise<LoadedPending | undefined>;
  insertTried(pending: NewTriedPending): Promise<void>;
  insertCancelledEmpty(pendingId: string, bizCode: string): Promise<void>;
  /** Moves along PENDING_TRANSITIONS, stamping resolved_at (and the confirm's hash and transfer). */
  moveTo(
    pendingId: string,
    to: PendingState,
    confirmed?: { readonly confirmHash: string; readonly transferId: string },
  ): Promise<TransitionResult<PendingState>>;
}

export interface FreezeRepo {
  insert(freeze: NewFreeze): Promise<void>;
  /** The freeze, locked; undefined when it does not exist. */
  lock(freezeId: string): Promise<FreezeRecord | undefined>;
  release(freezeId: string): Promise<TransitionResult<FreezeStatus>>;
  /** Whether another whole-account freeze of the account is still in force. */
  otherWholeFreezeActive(accountId: string, exceptFreezeId: string): Promise<boolean>;
}

export interface DayRepo {
  sealed(accountingDate: string): Promise<SealResult | undefined>;
  /** Writes the daily balances of the date and returns the seal's totals (not yet recorded). */
  writeDailyBalances(accountingDate: string): Promise<SealResult>;
  recordSealed(result: SealResult): Promise<void>;
}

export interface AccountEventsPort {
  transferVoided(pending: PendingView, voidedAt: Date): Promise<void>;
  daySealed(result: SealResult, bizCode: string): Promise<void>;
}

export interface AccountTx extends BatchTxPort {
  /** The platform's claim with the answer known up front: no `remember` needed (SqlTx.claimAnswered). */
  claimAnswered<R>(request: IdempotentRequest, response: R): Promise<Claim<R>>;
  readonly accounts: AccountRepo;
  readonly postings: PostingRepo;
  readonly pending: PendingRepo;
  readonly freezes: FreezeRepo;
  readonly days: DayRepo;
  readonly events: AccountEventsPort;
}

/** Single-statement reads outside a transaction. */
export interface AccountReads {
  account(accountId: string): Promise<AccountView | undefined>;
  accounts(
    ownerType: OwnerType,
    ownerId: string,
    afterId: string,
    limit: number,
  ): Promise<readonly AccountView[]>;
  /** Total and seq of the last entry created at or before the instant. */
  balanceAsOf(accountId: string, asOf: Date): Promise<{ total: bigint; lastSeq: bigint }>;
  entries(query: EntryQuery, currency: string): Promise<readonly EntryView[]>;
  pending(pendingId: string): Promise<LoadedPending | undefined>;
  sealed(accountingDate: string): Promise<SealResult | undefined>;
  dailyBalances(
    accountingDate: string,
    afterAccountId: string,
    limit: number,
  ): Promise<readonly DailyBalanceView[]>;
  /** BUFFERED accounts with queued credits whose flush interval elapsed, in id order. */
  dueFlushes(accountsMax: number): Promise<readonly string[]>;
  /** Tried transfers whose timeout passed at `now`, oldest first. */
  dueExpiries(now: Date, limit: number): Promise<readonly string[]>;
}

export interface AccountStore {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: AccountTx) => Promise<T>): Promise<T>;
  readonly reads: AccountReads;
}

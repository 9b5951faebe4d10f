/**
 * The account service's entry point for transport: request validation, the
 * transfer batcher, paging and the background workers (buffered credit
 * flusher, two-phase expiry sweeper). Each use case is a function of its own
 * (transfers.ts, two-phase.ts, accounts.ts, sealing.ts) over the AccountStore
 * port; transport (gRPC) calls these methods and nothing else.
 */
import { createHash } from 'node:crypto';
import { assertRequestId } from '@paycore/platform';
import { INT64_MAX, isKnownCurrency } from '@paycore/money';
import { isIsoDate, type AccountingDayRule } from '@paycore/calendar';
import type { Chart } from '../domain/chart';
import {
  AmountOutOfRangeError,
  DayNotSealedError,
  InvalidFieldError,
  InvalidPageTokenError,
  UnknownCurrencyError,
} from '../domain/errors';
import { validateLegs } from '../domain/legs';
import type { Side } from '@paycore/money';
import type { Leg, OwnerType, PostingMode } from '../domain/types';
import { Batcher, type BatcherOptions } from './batcher';
import type {
  AccountView,
  BalanceView,
  DailyBalanceView,
  EntryView,
  FreezeResult,
  Page,
  PendingView,
  PostedTransfer,
  SealResult,
} from './model';
import type { AccountStore, TransferCommand } from './ports';
import * as accounts from './accounts';
import type { UseCaseDeps } from './common';
import { sealDay } from './sealing';
import { postTransfers } from './transfers';
import * as twoPhase from './two-phase';

/** Validates a context code against the catalogue; throws UNKNOWN_BIZ_CODE / INVALID_BIZ_CODE. */
export interface BizCodeValidator {
  validate(code: string, field?: string): unknown;
}

export interface AccountServiceOptions {
  readonly store: AccountStore;
  /** The accounting day (zone and cut-over) postings are dated by. */
  readonly calendar: AccountingDayRule;
  /** The clock; tests pass a shifted one. Default: the system clock. */
  readonly now?: () => Date;
  readonly chart: Chart;
  readonly catalogue: BizCodeValidator;
  /** Trace and context headers of the current call, for events. */
  readonly captureHeaders: (bizCode: string) => Record<string, string>;
  readonly batcher: BatcherOptions;
  /** How often the flusher looks for BUFFERED accounts due a flush. */
  readonly flushTickMs: number;
  /** How often expired tries are released. */
  readonly expiryTickMs: number;
  /** Flush interval and cap an account gets when switched to BUFFERED without explicit values. */
  readonly defaultFlushIntervalMs: number;
  readonly defaultFlushBatchMax: number;
  /** Told the size of every transfer batch (metrics); optional. */
  readonly onTransferBatch?: (size: number) => void;
}

export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 500;
export const MEMO_LENGTH_MAX = 256;
export const OWNER_ID_LENGTH_MAX = 64;
export const PENDING_ID_LENGTH_MAX = 128;
export const TRY_TIMEOUT_MS_MAX = 7 * 24 * 3600 * 1000;
export const FLUSH_INTERVAL_MS_MAX = 3600 * 1000;
export const FLUSH_BATCH_MAX_LIMIT = 10_000;
/** Accounts and expiries handled per worker tick. */
const WORKER_ITEMS_PER_TICK = 100;

export interface NewTransfer {
  readonly requestId: string;
  readonly bizCode: string;
  readonly legs: readonly Leg[];
  readonly memo?: string;
}

export class AccountService {
  private readonly batcher: Batcher<TransferCommand, PostedTransfer>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly busy = new Set<string>();
  private stopping = false;
  private readonly deps: UseCaseDeps;

  constructor(private readonly options: AccountServiceOptions) {
    this.deps = {
      store: options.store,
      calendar: options.calendar,
      now: options.now ?? ((): Date => new Date()),
    };
    this.batcher = new Batcher(options.batcher, (commands) => {
      options.onTransferBatch?.(commands.length);
      return postTransfers(this.deps, commands);
    });
  }

  /** Transfers waiting for a batch slot. */
  get transfersQueued(): number {
    return this.batcher.queued;
  }

  // ---- workers --------------------------------------------------------------

  /** Starts the flusher and the expiry sweeper. */
  start(): void {
    this.every('flush', this.options.flushTickMs, () => this.flushDue(WORKER_ITEMS_PER_TICK));
    this.every('expire', this.options.expiryTickMs, () =>
      twoPhase.expireDue(this.deps, WORKER_ITEMS_PER_TICK),
    );
  }

  /** Stops the workers and answers every accepted transfer first. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.batcher.close();
    for (let i = 0; this.busy.size > 0 && i < 2_000; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private every(name: string, periodMs: number, work: () => Promise<number>): void {
    const timer = setInterval(() => {
      // One run at a time per worker: a slow flush must not pile up behind itself.
      if (this.busy.has(name) || this.stopping) return;
      this.busy.add(name);
      void work()
        .catch(() => undefined)
        .finally(() => this.busy.delete(name));
    }, periodMs);
    timer.unref();
    this.timers.push(timer);
  }

  // ---- postings -------------------------------------------------------------

  transfer(request: NewTransfer): Promise<PostedTransfer> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    validateLegs(request.legs);
    const memo = request.memo ?? '';
    if (memo.length > MEMO_LENGTH_MAX)
      throw new InvalidFieldError(`memo is longer than ${MEMO_LENGTH_MAX}`, { field: 'memo' });
    return this.batcher.submit({
      requestId: request.requestId,
      bizCode: request.bizCode,
      legs: request.legs,
      memo,
      headers: this.options.captureHeaders(request.bizCode),
    });
  }

  tryTransfer(request: {
    requestId: string;
    bizCode: string;
    pendingId: string;
    legs: readonly Leg[];
    timeoutMs: number;
  }): Promise<PendingView> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    checkPendingId(request.pendingId);
    validateLegs(request.legs);
    if (
      !Number.isInteger(request.timeoutMs) ||
      request.timeoutMs < 1 ||
      request.timeoutMs > TRY_TIMEOUT_MS_MAX
    ) {
      throw new InvalidFieldError(`timeout must be 1 ms to 7 days`, { field: 'timeout' });
    }
    return twoPhase.tryTransfer(this.deps, request);
  }

  confirmTransfer(request: {
    requestId: string;
    bizCode: string;
    pendingId: string;
    legs: readonly Leg[];
  }): Promise<PendingView> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    checkPendingId(request.pendingId);
    return twoPhase.confirmTransfer(this.deps, {
      ...request,
      headers: this.options.captureHeaders(request.bizCode),
    });
  }

  cancelTransfer(request: { requestId: string; bizCode: string; pendingId: string }): Promise<PendingView> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    checkPendingId(request.pendingId);
    return twoPhase.cancelTransfer(this.deps, request);
  }

  // ---- accounts -------------------------------------------------------------

  openAccount(request: {
    requestId: string;
    bizCode: string;
    ownerType: OwnerType;
    ownerId: string;
    subjectCode: string;
    currency: string;
    normalSide: Side;
    allowOverdraft: boolean;
  }): Promise<AccountView> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    if (request.ownerId.length < 1 || request.ownerId.length > OWNER_ID_LENGTH_MAX) {
      throw new InvalidFieldError(`owner_id must be 1 to ${OWNER_ID_LENGTH_MAX} characters`, {
        field: 'owner_id',
      });
    }
    this.options.chart.assertLeaf(request.subjectCode);
    checkCurrency(request.currency, 'currency');
    return accounts.openAccount(this.deps, {
      ...request,
      flushIntervalMs: this.options.defaultFlushIntervalMs,
      flushBatchMax: this.options.defaultFlushBatchMax,
    });
  }

  getAccount(accountId: string): Promise<AccountView> {
    return accounts.accountView(this.deps, accountId);
  }

  async listAccounts(
    ownerType: OwnerType,
    ownerId: string,
    pageSize: number,
    pageToken: string,
  ): Promise<Page<AccountView>> {
    const filter = `${ownerType}/${ownerId}`;
    const limit = pageSizeOf(pageSize);
    const after = readToken(pageToken, filter);
    // Account ids are UUIDs; anything else in a token was not issued by us.
    if (after !== '' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(after)) {
      throw new InvalidPageTokenError('the page token is malformed', { field: 'page.page_token' });
    }
    const found = await this.options.store.reads.accounts(ownerType, ownerId, after, limit + 1);
    return pageOf(found, limit, filter, (a) => a.id);
  }

  closeAccount(request: { requestId: string; bizCode: string; accountId: string }): Promise<AccountView> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    return accounts.closeAccount(this.deps, request);
  }

  async getBalance(accountId: string, asOf?: Date): Promise<BalanceView> {
    const account = await this.getAccount(accountId);
    if (asOf === undefined) {
      return {
        currency: account.currency,
        available: account.available,
        frozen: account.frozen,
        total: account.available + account.frozen,
        pendingBuffered: account.pendingBuffered,
        lastSeq: account.lastSeq,
      };
    }
    const then = await this.options.store.reads.balanceAsOf(account.id, asOf);
    return {
      currency: account.currency,
      available: undefined,
      frozen: undefined,
      total: then.total,
      pendingBuffered: undefined,
      lastSeq: then.lastSeq,
    };
  }

  async listEntries(query: {
    accountId: string;
    startTime?: Date;
    endTime?: Date;
    bizCode?: string;
    pageSize: number;
    pageToken: string;
  }): Promise<Page<EntryView>> {
    const filter = [
      query.accountId,
      query.startTime?.toISOString(),
      query.endTime?.toISOString(),
      query.bizCode,
    ].join('/');
    const limit = pageSizeOf(query.pageSize);
    const after = readToken(query.pageToken, filter);
    if (after !== '' && !/^\d{1,19}$/.test(after))
      throw new InvalidPageTokenError('malformed page token', { field: 'page.page_token' });
    const account = await this.getAccount(query.accountId);
    const found = await this.options.store.reads.entries(
      {
        accountId: account.id,
        startTime: query.startTime,
        endTime: query.endTime,
        bizCode: query.bizCode,
        afterSeq: after === '' ? 0n : BigInt(after),
        limit: limit + 1,
      },
      account.currency,
    );
    return pageOf(found, limit, filter, (e) => e.seq.toString());
  }

  freeze(request: {
    requestId: string;
    bizCode: string;
    accountId: string;
    wholeAccount: boolean;
    amountMinor: bigint;
    currency: string;
    reason: string;
  }): Promise<FreezeResult> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    if (!request.wholeAccount) {
      if (request.amountMinor <= 0n || request.amountMinor > INT64_MAX) {
        throw new AmountOutOfRangeError('amount must be between 1 and int64 max', { field: 'amount' });
      }
      checkCurrency(request.currency, 'amount.currency');
    }
    if (request.reason.length > MEMO_LENGTH_MAX)
      throw new InvalidFieldError('reason is too long', { field: 'reason' });
    return accounts.freeze(this.deps, request);
  }

  unfreeze(request: { requestId: string; bizCode: string; freezeId: string }): Promise<AccountView> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    return accounts.unfreeze(this.deps, request);
  }

  setPostingMode(request: {
    requestId: string;
    bizCode: string;
    accountId: string;
    postingMode: PostingMode;
    flushIntervalMs?: number;
    flushBatchMax?: number;
  }): Promise<AccountView> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    const flushIntervalMs = request.flushIntervalMs ?? this.options.defaultFlushIntervalMs;
    const flushBatchMax = request.flushBatchMax ?? this.options.defaultFlushBatchMax;
    if (
      !Number.isInteger(flushIntervalMs) ||
      flushIntervalMs < 1 ||
      flushIntervalMs > FLUSH_INTERVAL_MS_MAX
    ) {
      throw new InvalidFieldError('flush_interval must be 1 ms to 1 hour', { field: 'flush_interval' });
    }
    if (!Number.isInteger(flushBatchMax) || flushBatchMax < 1 || flushBatchMax > FLUSH_BATCH_MAX_LIMIT) {
      throw new InvalidFieldError(`flush_batch_max must be 1 to ${FLUSH_BATCH_MAX_LIMIT}`, {
        field: 'flush_batch_max',
      });
    }
    return accounts.setPostingMode(this.deps, { ...request, flushIntervalMs, flushBatchMax });
  }

  sealDay(request: { requestId: string; bizCode: string; accountingDate: string }): Promise<SealResult> {
    checkRequestId(request.requestId);
    this.checkBizCode(request.bizCode);
    if (!isIsoDate(request.accountingDate)) {
      throw new InvalidFieldError('accounting_date must be YYYY-MM-DD', { field: 'accounting_date' });
    }
    return sealDay(this.deps, request);
  }

  async getDailyBalances(
    accountingDate: string,
    pageSize: number,
    pageToken: string,
  ): Promise<Page<DailyBalanceView>> {
    if (!isIsoDate(accountingDate)) {
      throw new InvalidFieldError('accounting_date must be YYYY-MM-DD', { field: 'accounting_date' });
    }
    const limit = pageSizeOf(pageSize);
    const after = readToken(pageToken, accountingDate);
    if ((await this.options.store.reads.sealed(accountingDate)) === undefined)
      throw new DayNotSealedError(`${accountingDate} is not sealed`, { field: 'accounting_date' });
    const found = await this.options.store.reads.dailyBalances(accountingDate, after, limit + 1);
    return pageOf(found, limit, accountingDate, (d) => d.accountId);
  }

  /** Applies due buffered credits now (tests and SealDay-free drains). */
  flushNow(): Promise<number> {
    return this.flushDue(WORKER_ITEMS_PER_TICK);
  }

  /** Applies queued credits of up to `accountsMax` BUFFERED accounts whose interval elapsed. */
  flushDue(accountsMax: number): Promise<number> {
    return accounts.flushDue(this.deps, accountsMax);
  }

  /** A two-phase transfer as it is now. */
  pendingView(pendingId: string): Promise<PendingView> {
    return twoPhase.pendingView(this.deps, pendingId);
  }

  /** Expires due tries now. */
  expireNow(): Promise<number> {
    return twoPhase.expireDue(this.deps, WORKER_ITEMS_PER_TICK);
  }

  private checkBizCode(code: string): void {
    this.options.catalogue.validate(code, 'biz_context.code');
  }
}

/** Checked before a request is queued for a batch; the claim checks it again. */
function checkRequestId(requestId: string): void {
  assertRequestId(requestId);
}

function checkPendingId(pendingId: string): void {
  if (pendingId.length < 1 || pendingId.length > PENDING_ID_LENGTH_MAX) {
    throw new InvalidFieldError(`pending_id must be 1 to ${PENDING_ID_LENGTH_MAX} characters`, {
      field: 'pending_id',
    });
  }
}

function checkCurrency(code: string, field: string): void {
  if (!isKnownCurrency(code))
    throw new UnknownCurrencyError(`currency "${code.slice(0, 16)}" is not known`, { field });
}

function pageSizeOf(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 0)
    throw new InvalidFieldError('page_size must be >= 0', { field: 'page.page_size' });
  if (pageSize === 0) return PAGE_SIZE_DEFAULT;
  return Math.min(pageSize, PAGE_SIZE_MAX);
}

/** Page tokens carry the last key and a fingerprint of the filters they were issued for. */
function filterTag(filter: string): string {
  return createHash('sha256').update(filter).digest('hex').slice(0, 12);
}

function readToken(token: string, filter: string): string {
  if (token === '') return '';
  const text = token.length <= 200 ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const separator = text.indexOf('|');
  if (separator < 0 || text.slice(0, separator) !== filterTag(filter)) {
    throw new InvalidPageTokenError('the page token is malformed or was issued for other filters', {
      field: 'page.page_token',
    });
  }
  return text.slice(separator + 1);
}

function pageOf<T>(found: readonly T[], limit: number, filter: string, keyOf: (item: T) => string): Page<T> {
  const items = found.slice(0, limit);
  const last = items[items.length - 1];
  const nextPageToken =
    found.length > limit && last !== undefined
      ? Buffer.from(`${filterTag(filter)}|${keyOf(last)}`).toString('base64url')
      : '';
  return { items, nextPageToken };
}

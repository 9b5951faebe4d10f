/**
 * The Postgres implementation of the account store: every use case is one
 * named transaction here, using the domain functions for every decision.
 *
 * Lock order, the same everywhere so nothing can deadlock: request-id lock
 * (advisory, per idempotency key) → pending-id lock (advisory) → posting lock
 * (advisory; shared for postings, exclusive for SealDay, SetPostingMode,
 * CloseAccount) → account rows FOR UPDATE in id order.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { inTransaction } from '@paycore/platform';
import type { Settled } from '../../application/batcher';
import type {
  AccountView,
  BalanceView,
  DailyBalanceView,
  EntryView,
  FreezeResult,
  PendingView,
  PostedTransfer,
  SealResult,
} from '../../application/model';
import type {
  AccountStore,
  CancelTransferCommand,
  CloseAccountCommand,
  ConfirmTransferCommand,
  EntryQuery,
  FreezeCommand,
  Idempotent,
  OpenAccountCommand,
  SealDayCommand,
  SetPostingModeCommand,
  TransferCommand,
  TryTransferCommand,
  UnfreezeCommand,
} from '../../application/ports';
import { accountingDateFor, sealableProblem, type CalendarConfig } from '../../domain/calendar';
import {
  AccountClosedError,
  AccountNotEmptyError,
  AccountNotFoundError,
  CurrencyMismatchError,
  DayNotSealableError,
  DayNotSealedError,
  FreezeNotFoundError,
  IdempotencyKeyReusedError,
  PendingTransferNotFoundError,
} from '../../domain/errors';
import {
  confirmedLegs,
  decideCancel,
  decideConfirm,
  decideTry,
  isExpired,
  type PendingRecord,
  type PendingState,
} from '../../domain/pending';
import {
  applyQueued,
  hold,
  planReserve,
  planTransfer,
  release,
  type Reservation,
} from '../../domain/posting';
import type { Side } from '@paycore/money';
import type { AccountState, OwnerType, QueuedCredit } from '../../domain/types';
import {
  daySealedMessage,
  transferPostedMessage,
  transferVoidedMessage,
  writeOutboxMany,
  type AccountEvents,
} from './events';
import {
  ACCOUNT_COLUMNS,
  isUuid,
  legFromJson,
  legToJson,
  loadStates,
  lockPostingExclusive,
  lockPostingShared,
  postedFromJson,
  rows,
  saveStates,
  stateOf,
  viewOf,
  type AccountRow,
  type LegJson,
  type PostedTransferJson,
} from './sql';
import {
  currentAccountingDate,
  insertEntries,
  loadForLegs,
  PostingWrites,
  TransferPoster,
} from './transfers';

export interface PgAccountStoreOptions {
  readonly dataSource: DataSource;
  readonly events: AccountEvents;
  readonly calendar: CalendarConfig;
  /** The clock; tests pass a fixed or shifted one. */
  readonly now?: () => Date;
}

/** Bounds one flush round of one account when SetPostingMode or SealDay drain a queue. */
const DRAIN_ROUNDS_MAX = 10_000;

interface PendingRow {
  pending_id: string;
  state: string;
  biz_code: string;
  legs: LegJson[];
  reservations: { accountId: string; amountMinor: string }[];
  try_hash: string;
  confirm_hash: string | null;
  transfer_id: string | null;
  expires_at: Date | null;
  result: PostedTransferJson | null;
}

export class PgAccountStore implements AccountStore {
  private readonly dataSource: DataSource;
  private readonly events: AccountEvents;
  private readonly calendar: CalendarConfig;
  private readonly now: () => Date;
  private readonly poster: TransferPoster;

  constructor(options: PgAccountStoreOptions) {
    this.dataSource = options.dataSource;
    this.events = options.events;
    this.calendar = options.calendar;
    this.now = options.now ?? ((): Date => new Date());
    this.poster = new TransferPoster({ ...options, now: this.now });
  }

  postTransfers(commands: readonly TransferCommand[]): Promise<readonly Settled<PostedTransfer>[]> {
    return this.poster.post(commands);
  }

  // ---- accounts -------------------------------------------------------------

  async openAccount(command: OpenAccountCommand): Promise<AccountView> {
    return this.idempotent(command, 'open_account', async (manager) => {
      const id = randomUUID();
      await rows(
        manager,
        `INSERT INTO accounts (id, owner_type, owner_id, subject_code, currency, normal_side, allow_overdraft, status,
                               posting_mode, flush_interval_ms, flush_batch_max)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'ACTIVE', 'REALTIME', $8, $9)`,
        [
          id,
          command.ownerType,
          command.ownerId,
          command.subjectCode,
          command.currency,
          command.normalSide,
          command.allowOverdraft,
          command.flushIntervalMs,
          command.flushBatchMax,
        ],
      );
      return { accountId: id };
    }).then((r) => this.getAccount(r.accountId));
  }

  async getAccount(accountId: string): Promise<AccountView> {
    return this.accountView(this.dataSource.manager, accountId);
  }

  private async accountView(manager: EntityManager, accountId: string): Promise<AccountView> {
    const found = isUuid(accountId)
      ? await rows<AccountRow & { pending_buffered: string }>(
          manager,
          `SELECT ${ACCOUNT_COLUMNS},
                  (SELECT COALESCE(sum(amount), 0)::text FROM buffered_credits b WHERE b.account_id = a.id) AS pending_buffered
             FROM accounts a WHERE id = $1`,
          [accountId],
        )
      : [];
    const row = found[0];
    if (row === undefined) throw notFound(accountId);
    return viewOf(row, BigInt(row.pending_buffered));
  }

  async listAccounts(
    ownerType: OwnerType,
    ownerId: string,
    afterId: string,
    limit: number,
  ): Promise<readonly AccountView[]> {
    const found = await rows<AccountRow & { pending_buffered: string }>(
      this.dataSource.manager,
      `SELECT ${ACCOUNT_COLUMNS},
              (SELECT COALESCE(sum(amount), 0)::text FROM buffered_credits b WHERE b.account_id = a.id) AS pending_buffered
         FROM accounts a
        WHERE owner_type = $1 AND owner_id = $2 AND id > $3::uuid
        ORDER BY id LIMIT $4`,
      [ownerType, ownerId, afterId === '' ? '00000000-0000-0000-0000-000000000000' : afterId, limit],
    );
    return found.map((row) => viewOf(row, BigInt(row.pending_buffered)));
  }

  async closeAccount(command: CloseAccountCommand): Promise<AccountView> {
    await this.idempotent(command, 'close_account', async (manager) => {
      // Exclusive: no batch may be queueing a credit to this account meanwhile.
      await lockPostingExclusive(manager);
      const view = await this.accountView(manager, command.accountId);
      if (view.status === 'CLOSED') return { accountId: view.id };
      await loadStates(manager, [view.id], true);
      const locked = await this.accountView(manager, command.accountId);
      if (locked.available !== 0n || locked.frozen !== 0n || locked.pendingBuffered !== 0n) {
        throw new AccountNotEmptyError(`account ${locked.id} is not at zero`, {
          metadata: {
            account_id: locked.id,
            available_minor: locked.available.toString(),
            frozen_minor: locked.frozen.toString(),
            pending_buffered_minor: locked.pendingBuffered.toString(),
          },
        });
      }
      await rows(
        manager,
        `UPDATE accounts SET status = 'CLOSED', closed_at = now(), version = version + 1 WHERE id = $1`,
        [locked.id],
      );
      return { accountId: locked.id };
    });
    return this.getAccount(command.accountId);
  }

  async getBalance(accountId: string, asOf: Date | undefined): Promise<BalanceView> {
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
    // One indexed read: the last entry created at or before the instant.
    const found = await rows<{ balance_after: string; seq: string }>(
      this.dataSource.manager,
      `SELECT balance_after::text, seq::text FROM entries
        WHERE account_id = $1 AND created_at <= $2
        ORDER BY created_at DESC, seq DESC LIMIT 1`,
      [accountId, asOf.toISOString()],
    );
    const entry = found[0];
    return {
      currency: account.currency,
      available: undefined,
      frozen: undefined,
      total: entry === undefined ? 0n : BigInt(entry.balance_after),
      pendingBuffered: undefined,
      lastSeq: entry === undefined ? 0n : BigInt(entry.seq),
    };
  }

  async listEntries(query: EntryQuery): Promise<readonly EntryView[]> {
    const account = await this.getAccount(query.accountId);
    const found = await rows<{
      seq: string;
      transfer_id: string;
      side: Side;
      amount: string;
      balance_after: string;
      biz_code: string;
      accounting_date: string;
      created_at: Date;
    }>(
      this.dataSource.manager,
      `SELECT seq::text, transfer_id, side, amount::text, balance_after::text, biz_code, accounting_date::text, created_at
         FROM entries
        WHERE account_id = $1 AND seq > $2
          AND ($3::timestamptz IS NULL OR created_at >= $3)
          AND ($4::timestamptz IS NULL OR created_at < $4)
          AND ($5::text IS NULL OR biz_code = $5)
        ORDER BY seq LIMIT $6`,
      [
        account.id,
        query.afterSeq.toString(),
        query.startTime?.toISOString() ?? null,
        query.endTime?.toISOString() ?? null,
        query.bizCode ?? null,
        query.limit,
      ],
    );
    return found.map((row) => ({
      accountId: account.id,
      seq: BigInt(row.seq),
      transferId: row.transfer_id,
      side: row.side,
      amountMinor: BigInt(row.amount),
      balanceAfter: BigInt(row.balance_after),
      currency: account.currency,
      bizCode: row.biz_code,
      accountingDate: row.accounting_date,
      createdAt: row.created_at,
    }));
  }

  // ---- freezes --------------------------------------------------------------

  async freeze(command: FreezeCommand): Promise<FreezeResult> {
    const result = await this.idempotent(command, 'freeze', async (manager) => {
      const state = (await loadStates(manager, [command.accountId], true)).get(command.accountId);
      if (state === undefined) throw notFound(command.accountId);
      if (state.status === 'CLOSED') throw new AccountClosedError(`account ${state.id} is closed`);
      const freezeId = randomUUID();
      if (command.wholeAccount) {
        await rows(manager, `UPDATE accounts SET status = 'FROZEN', version = version + 1 WHERE id = $1`, [
          state.id,
        ]);
      } else {
        if (command.currency !== state.currency) {
          throw new CurrencyMismatchError(`account ${state.id} holds ${state.currency}`, {
            field: 'amount.currency',
          });
        }
        await saveStates(manager, [hold(state, command.amountMinor)]);
      }
      await rows(
        manager,
        `INSERT INTO freezes (id, account_id, whole_account, amount, status, reason, biz_code)
         VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6)`,
        [
          freezeId,
          state.id,
          command.wholeAccount,
          command.wholeAccount ? '0' : command.amountMinor.toString(),
          command.reason,
          command.bizCode,
        ],
      );
      return { freezeId, accountId: state.id };
    });
    return { freezeId: result.freezeId, account: await this.getAccount(result.accountId) };
  }

  async unfreeze(command: UnfreezeCommand): Promise<AccountView> {
    const result = await this.idempotent(command, 'unfreeze', async (manager) => {
      const found = isUuid(command.freezeId)
        ? await rows<{ account_id: string; whole_account: boolean; amount: string; status: string }>(
            manager,
            'SELECT account_id, whole_account, amount::text, status FROM freezes WHERE id = $1 FOR UPDATE',
            [command.freezeId],
          )
        : [];
      const freeze = found[0];
      if (freeze === undefined)
        throw new FreezeNotFoundError(`freeze ${command.freezeId} does not exist`, { field: 'freeze_id' });
      if (freeze.status === 'RELEASED') return { accountId: freeze.account_id };
      const state = (await loadStates(manager, [freeze.account_id], true)).get(freeze.account_id);
      if (state === undefined) throw notFound(freeze.account_id);
      if (freeze.whole_account) {
        // The account stays FROZEN while another whole-account freeze is active.
        await rows(
          manager,
          `UPDATE accounts SET status = 'ACTIVE', version = version + 1
            WHERE id = $1 AND status = 'FROZEN'
              AND NOT EXISTS (SELECT 1 FROM freezes f WHERE f.account_id = $1 AND f.whole_account AND f.status = 'ACTIVE' AND f.id <> $2)`,
          [state.id, command.freezeId],
        );
      } else {
        await saveStates(manager, [release(state, BigInt(freeze.amount))]);
      }
      await rows(manager, `UPDATE freezes SET status = 'RELEASED', released_at = now() WHERE id = $1`, [
        command.freezeId,
      ]);
      return { accountId: state.id };
    });
    return this.getAccount(result.accountId);
  }

  // ---- two-phase ------------------------------------------------------------

  async tryTransfer(command: TryTransferCommand): Promise<PendingView> {
    const result = await this.idempotent(command, 'try_transfer', async (manager) => {
      await lockKey(manager, `pending:${command.pendingId}`);
      const existing = await loadPending(manager, command.pendingId);
      if (decideTry(existing?.record, command.tryHash).kind === 'replay')
        return { pendingId: command.pendingId };
      await lockPostingShared(manager);
      const states = await loadForLegs(manager, command.legs);
      const reserve = planReserve((id) => states.get(id), command.legs);
      await saveStates(manager, reserve.accounts.values());
      const expiresAt = new Date(this.now().getTime() + command.timeoutMs);
      await rows(
        manager,
        `INSERT INTO pending_transfers (pending_id, state, biz_code, legs, reservations, try_hash, expires_at)
         VALUES ($1, 'TRIED', $2, $3::jsonb, $4::jsonb, $5, $6)`,
        [
          command.pendingId,
          command.bizCode,
          JSON.stringify(command.legs.map(legToJson)),
          JSON.stringify(reserve.reservations.map(reservationToJson)),
          command.tryHash,
          expiresAt.toISOString(),
        ],
      );
      return { pendingId: command.pendingId };
    });
    return this.pendingView(result.pendingId);
  }

  async confirmTransfer(command: ConfirmTransferCommand): Promise<PendingView> {
    const result = await this.idempotent(command, 'confirm_transfer', async (manager) => {
      await lockKey(manager, `pending:${command.pendingId}`);
      const existing = await loadPending(manager, command.pendingId);
      const legs = existing === undefined ? [] : confirmedLegs(existing.record.legs, command.legs);
      const confirmHash = JSON.stringify(legs.map(legToJson));
      const now = this.now();
      if (decideConfirm(existing?.record, confirmHash, now).kind === 'replay' || existing === undefined) {
        return { pendingId: command.pendingId };
      }
      await lockPostingShared(manager);
      const accountingDate = await currentAccountingDate(manager, this.calendar, now);
      const states = await loadForLegs(manager, [...existing.record.legs, ...legs]);
      for (const reservation of existing.reservations) {
        const state = states.get(reservation.accountId);
        if (state === undefined) throw notFound(reservation.accountId);
        states.set(state.id, release(state, reservation.amountMinor));
      }
      const transferId = randomUUID();
      const plan = planTransfer((id) => states.get(id), legs, {
        transferId,
        bizCode: command.bizCode,
        accountingDate,
      });
      const writes = new PostingWrites();
      for (const reservation of existing.reservations) {
        const state = states.get(reservation.accountId);
        if (state !== undefined) writes.states.set(state.id, state);
      }
      for (const [id, state] of plan.accounts) writes.states.set(id, state);
      writes.entries.push(...plan.entries);
      writes.queued.push(...plan.queued);
      const posted: PostedTransfer = {
        transferId,
        requestId: command.requestId,
        bizCode: command.bizCode,
        accountingDate,
        legs: plan.legs,
        postedAt: now,
        pendingId: command.pendingId,
      };
      writes.transfers.push({ posted, requestHash: command.requestHash, kind: 'CONFIRM', memo: '' });
      writes.outbox.push(transferPostedMessage(this.events.transferPosted, posted, command.headers));
      await writes.flush(manager);
      await rows(
        manager,
        `UPDATE pending_transfers SET state = 'CONFIRMED', confirm_hash = $2, transfer_id = $3, resolved_at = now()
          WHERE pending_id = $1`,
        [command.pendingId, confirmHash, transferId],
      );
      return { pendingId: command.pendingId };
    });
    return this.pendingView(result.pendingId);
  }

  async cancelTransfer(command: CancelTransferCommand): Promise<PendingView> {
    const result = await this.idempotent(command, 'cancel_transfer', async (manager) => {
      await lockKey(manager, `pending:${command.pendingId}`);
      const existing = await loadPending(manager, command.pendingId);
      const decision = decideCancel(existing?.record);
      if (decision.kind === 'cancel_empty') {
        await rows(
          manager,
          `INSERT INTO pending_transfers (pending_id, state, biz_code, legs, reservations, try_hash, resolved_at)
           VALUES ($1, 'CANCELLED_EMPTY', $2, '[]', '[]', '', now())`,
          [command.pendingId, command.bizCode],
        );
      } else if (decision.kind === 'cancel' && existing !== undefined) {
        await this.voidPending(manager, existing, 'CANCELLED');
      }
      return { pendingId: command.pendingId };
    });
    return this.pendingView(result.pendingId);
  }

  async expireDue(limit: number): Promise<number> {
    const due = await rows<{ pending_id: string }>(
      this.dataSource.manager,
      `SELECT pending_id FROM pending_transfers WHERE state = 'TRIED' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`,
      [this.now().toISOString(), limit],
    );
    let expired = 0;
    for (const { pending_id: pendingId } of due) {
      const done = await inTransaction(
        this.dataSource,
        async (manager) => {
          await lockKey(manager, `pending:${pendingId}`);
          const existing = await loadPending(manager, pendingId);
          if (existing === undefined || !isExpired(existing.record, this.now())) return false;
          await this.voidPending(manager, existing, 'EXPIRED');
          return true;
        },
        { isolation: 'READ COMMITTED', name: 'account.expire_pending' },
      );
      if (done) expired++;
    }
    return expired;
  }

  private async voidPending(
    manager: EntityManager,
    existing: LoadedPending,
    state: 'CANCELLED' | 'EXPIRED',
  ): Promise<void> {
    const states = await loadStates(
      manager,
      existing.reservations.map((r) => r.accountId),
      true,
    );
    const released: AccountState[] = [];
    for (const reservation of existing.reservations) {
      const account = states.get(reservation.accountId);
      if (account === undefined) throw notFound(reservation.accountId);
      released.push(release(account, reservation.amountMinor));
    }
    await saveStates(manager, released);
    await rows(
      manager,
      `UPDATE pending_transfers SET state = $2, resolved_at = now() WHERE pending_id = $1`,
      [existing.record.pendingId, state],
    );
    const view: PendingView = {
      pendingId: existing.record.pendingId,
      state,
      bizCode: existing.bizCode,
      legs: existing.record.legs,
      expiresAt: existing.record.expiresAt,
      posted: null,
    };
    await writeOutboxMany(manager, [transferVoidedMessage(this.events.transferVoided, view, this.now())]);
  }

  async pendingView(pendingId: string): Promise<PendingView> {
    const existing = await loadPending(this.dataSource.manager, pendingId);
    if (existing === undefined) throw new PendingTransferNotFoundError(`no pending transfer ${pendingId}`);
    return {
      pendingId,
      state: existing.record.state,
      bizCode: existing.bizCode,
      legs: existing.record.legs,
      expiresAt: existing.record.expiresAt,
      posted: existing.posted,
    };
  }

  // ---- buffered posting -----------------------------------------------------

  async setPostingMode(command: SetPostingModeCommand): Promise<AccountView> {
    await this.idempotent(command, 'set_posting_mode', async (manager) => {
      // Exclusive: in-flight batches finish first, new ones wait, so no credit
      // is queued against the old mode after the drain below.
      await lockPostingExclusive(manager);
      const state = (await loadStates(manager, [command.accountId], true)).get(command.accountId);
      if (state === undefined) throw notFound(command.accountId);
      await drainQueue(manager, state.id);
      await rows(
        manager,
        `UPDATE accounts SET posting_mode = $2, flush_interval_ms = $3, flush_batch_max = $4, version = version + 1 WHERE id = $1`,
        [state.id, command.postingMode, command.flushIntervalMs, command.flushBatchMax],
      );
      return { accountId: state.id };
    });
    return this.getAccount(command.accountId);
  }

  async flushDue(accountsMax: number): Promise<number> {
    const due = await rows<{ id: string }>(
      this.dataSource.manager,
      `SELECT a.id FROM accounts a
        WHERE EXISTS (SELECT 1 FROM buffered_credits b WHERE b.account_id = a.id)
          AND (a.last_flushed_at IS NULL OR a.last_flushed_at + a.flush_interval_ms * interval '1 millisecond' <= now())
        ORDER BY a.id LIMIT $1`,
      [accountsMax],
    );
    let applied = 0;
    for (const { id } of due) {
      applied += await inTransaction(this.dataSource, (manager) => flushOnce(manager, id, undefined), {
        isolation: 'READ COMMITTED',
        name: 'account.flush_buffered',
      });
    }
    return applied;
  }

  // ---- day sealing ----------------------------------------------------------

  async sealDay(command: SealDayCommand): Promise<SealResult> {
    const json = await this.idempotent(command, 'seal_day', async (manager) => {
      await lockPostingExclusive(manager);
      const sealed = await rows<{ result: SealResultJson }>(
        manager,
        'SELECT result FROM sealed_days WHERE accounting_date = $1',
        [command.accountingDate],
      );
      if (sealed[0] !== undefined) return sealed[0].result;
      const last = await rows<{ last: string | null }>(
        manager,
        'SELECT max(accounting_date)::text AS last FROM sealed_days',
      );
      const lastSealed = last[0]?.last ?? null;
      const current = accountingDateFor(this.now(), this.calendar, lastSealed);
      const problem = sealableProblem(command.accountingDate, current, lastSealed);
      if (problem !== null) throw new DayNotSealableError(problem, { field: 'accounting_date' });
      const queued = await rows<{ account_id: string }>(
        manager,
        'SELECT DISTINCT account_id FROM buffered_credits ORDER BY account_id',
      );
      for (const { account_id: accountId } of queued) await drainQueue(manager, accountId);
      const result = await writeDailyBalances(manager, command.accountingDate);
      await rows(
        manager,
        'INSERT INTO sealed_days (accounting_date, sealed_at, result) VALUES ($1, $2, $3::jsonb)',
        [command.accountingDate, result.sealedAt, JSON.stringify(result)],
      );
      await writeOutboxMany(manager, [
        daySealedMessage(this.events.daySealed, sealResultFromJson(result), command.bizCode),
      ]);
      return result;
    });
    return sealResultFromJson(json);
  }

  async getDailyBalances(
    accountingDate: string,
    afterAccountId: string,
    limit: number,
  ): Promise<readonly DailyBalanceView[]> {
    const sealed = await rows<{ d: string }>(
      this.dataSource.manager,
      'SELECT accounting_date::text AS d FROM sealed_days WHERE accounting_date = $1',
      [accountingDate],
    );
    if (sealed.length === 0)
      throw new DayNotSealedError(`${accountingDate} is not sealed`, { field: 'accounting_date' });
    const found = await rows<{
      account_id: string;
      subject_code: string;
      currency: string;
      normal_side: Side;
      opening: string;
      debit_total: string;
      credit_total: string;
      closing: string;
      entry_count: string;
    }>(
      this.dataSource.manager,
      `SELECT account_id, subject_code, currency, normal_side, opening::text, debit_total::text, credit_total::text,
              closing::text, entry_count::text
         FROM daily_balances WHERE accounting_date = $1 AND account_id > $2::uuid ORDER BY account_id LIMIT $3`,
      [
        accountingDate,
        afterAccountId === '' ? '00000000-0000-0000-0000-000000000000' : afterAccountId,
        limit,
      ],
    );
    return found.map((row) => ({
      accountId: row.account_id,
      subjectCode: row.subject_code,
      currency: row.currency,
      accountingDate,
      normalSide: row.normal_side,
      opening: BigInt(row.opening),
      debitTotal: BigInt(row.debit_total),
      creditTotal: BigInt(row.credit_total),
      closing: BigInt(row.closing),
      entryCount: BigInt(row.entry_count),
    }));
  }

  // ---- idempotency ----------------------------------------------------------

  /**
   * Runs `work` once per request id: a replay with the same payload returns
   * the stored answer, a different payload is refused. The request id's
   * advisory lock makes concurrent duplicates wait for the first to finish.
   * Refused requests roll back, so they leave no row and may be retried.
   */
  private async idempotent<T>(
    command: Idempotent,
    operation: string,
    work: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    return inTransaction(
      this.dataSource,
      async (manager) => {
        await lockKey(manager, `request:${command.requestId}`);
        const found = await rows<{ operation: string; request_hash: string; response: T }>(
          manager,
          'SELECT operation, request_hash, response FROM idempotency WHERE request_id = $1',
          [command.requestId],
        );
        const first = found[0];
        if (first !== undefined) {
          if (first.operation !== operation || first.request_hash !== command.requestHash) {
            throw new IdempotencyKeyReusedError(
              `request_id ${command.requestId} was used for a different request`,
              {
                field: 'request_id',
                metadata: { request_id: command.requestId, first_operation: first.operation },
              },
            );
          }
          return first.response;
        }
        const response = await work(manager);
        await rows(
          manager,
          'INSERT INTO idempotency (request_id, operation, request_hash, response) VALUES ($1, $2, $3, $4::jsonb)',
          [command.requestId, operation, command.requestHash, JSON.stringify(response)],
        );
        return response;
      },
      { isolation: 'READ COMMITTED', name: `account.${operation}` },
    );
  }
}

function notFound(accountId: string): AccountNotFoundError {
  return new AccountNotFoundError(`account ${accountId.slice(0, 64)} does not exist`, {
    field: 'account_id',
    metadata: { account_id: accountId.slice(0, 64) },
  });
}

async function lockKey(manager: EntityManager, key: string): Promise<void> {
  await rows(manager, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
}

function reservationToJson(r: Reservation): { accountId: string; amountMinor: string } {
  return { accountId: r.accountId, amountMinor: r.amountMinor.toString() };
}

interface LoadedPending {
  readonly record: PendingRecord;
  readonly bizCode: string;
  readonly reservations: readonly Reservation[];
  readonly posted: PostedTransfer | null;
}

async function loadPending(manager: EntityManager, pendingId: string): Promise<LoadedPending | undefined> {
  const found = await rows<PendingRow>(
    manager,
    `SELECT p.pending_id, p.state, p.biz_code, p.legs, p.reservations, p.try_hash, p.confirm_hash, p.transfer_id,
            p.expires_at, t.result
       FROM pending_transfers p LEFT JOIN transfers t ON t.id = p.transfer_id
      WHERE p.pending_id = $1`,
    [pendingId],
  );
  const row = found[0];
  if (row === undefined) return undefined;
  return {
    record: {
      pendingId: row.pending_id,
      state: row.state as PendingState,
      legs: row.legs.map(legFromJson),
      tryHash: row.try_hash,
      confirmHash: row.confirm_hash,
      expiresAt: row.expires_at,
    },
    bizCode: row.biz_code.trim(),
    reservations: row.reservations.map((r) => ({
      accountId: r.accountId,
      amountMinor: BigInt(r.amountMinor),
    })),
    posted: row.result === null ? null : postedFromJson(row.result),
  };
}

/**
 * Applies up to `cap` (default: the account's flush_batch_max) queued credits
 * of one account in arrival order, under its row lock. Returns how many.
 */
async function flushOnce(
  manager: EntityManager,
  accountId: string,
  cap: number | undefined,
): Promise<number> {
  const locked = await rows<AccountRow>(
    manager,
    `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE`,
    [accountId],
  );
  const row = locked[0];
  if (row === undefined) return 0;
  const state = stateOf(row);
  const queue = await rows<{
    id: string;
    transfer_id: string;
    side: Side;
    amount: string;
    biz_code: string;
    accounting_date: string;
  }>(
    manager,
    `SELECT id::text, transfer_id, side, amount::text, biz_code, accounting_date::text
       FROM buffered_credits WHERE account_id = $1 ORDER BY id LIMIT $2`,
    [accountId, cap ?? row.flush_batch_max],
  );
  if (queue.length === 0) return 0;
  const credits: QueuedCredit[] = queue.map((q) => ({
    accountId,
    transferId: q.transfer_id,
    side: q.side,
    amountMinor: BigInt(q.amount),
    bizCode: q.biz_code,
    accountingDate: q.accounting_date,
  }));
  const applied = applyQueued(state, credits);
  await insertEntries(manager, applied.entries);
  await saveStates(manager, [applied.account]);
  await rows(manager, 'DELETE FROM buffered_credits WHERE id = ANY($1::bigint[])', [queue.map((q) => q.id)]);
  await rows(manager, 'UPDATE accounts SET last_flushed_at = now() WHERE id = $1', [accountId]);
  return queue.length;
}

/** Applies every queued credit of an account (SetPostingMode, SealDay). */
async function drainQueue(manager: EntityManager, accountId: string): Promise<void> {
  for (let round = 0; round < DRAIN_ROUNDS_MAX; round++) {
    if ((await flushOnce(manager, accountId, undefined)) === 0) return;
  }
  throw new Error(`the queue of account ${accountId} did not drain in ${DRAIN_ROUNDS_MAX} rounds`);
}

interface SealResultJson {
  accountingDate: string;
  totals: {
    subjectCode: string;
    currency: string;
    entryCount: string;
    debitTotal: string;
    creditTotal: string;
  }[];
  accountCount: string;
  sealedAt: string;
}

function sealResultFromJson(json: SealResultJson): SealResult {
  return {
    accountingDate: json.accountingDate,
    totals: json.totals.map((t) => ({
      subjectCode: t.subjectCode,
      currency: t.currency,
      entryCount: BigInt(t.entryCount),
      debitTotal: BigInt(t.debitTotal),
      creditTotal: BigInt(t.creditTotal),
    })),
    accountCount: BigInt(json.accountCount),
    sealedAt: new Date(json.sealedAt),
  };
}

/**
 * Writes the 余额日计表 of D: per account, opening = balance after its last
 * entry dated before D, debit and credit sums of entries dated D, closing =
 * balance after its last entry dated D or earlier. The table's CHECK
 * constraint re-asserts opening ± sums = closing with sides respected.
 */
async function writeDailyBalances(manager: EntityManager, date: string): Promise<SealResultJson> {
  const written = await rows<{ n: string }>(
    manager,
    `WITH day AS (
       SELECT account_id,
              COALESCE(sum(amount) FILTER (WHERE side = 'DEBIT'), 0) AS debit_total,
              COALESCE(sum(amount) FILTER (WHERE side = 'CREDIT'), 0) AS credit_total,
              count(*) AS entry_count
         FROM entries WHERE accounting_date = $1 GROUP BY account_id
     ), inserted AS (
       INSERT INTO daily_balances (accounting_date, account_id, subject_code, currency, normal_side, opening,
                                   debit_total, credit_total, closing, entry_count)
       SELECT $1, a.id, a.subject_code, a.currency, a.normal_side,
              COALESCE((SELECT e.balance_after FROM entries e WHERE e.account_id = a.id AND e.accounting_date < $1
                         ORDER BY e.seq DESC LIMIT 1), 0),
              COALESCE(d.debit_total, 0), COALESCE(d.credit_total, 0),
              COALESCE((SELECT e.balance_after FROM entries e WHERE e.account_id = a.id AND e.accounting_date <= $1
                         ORDER BY e.seq DESC LIMIT 1), 0),
              COALESCE(d.entry_count, 0)
         FROM accounts a LEFT JOIN day d ON d.account_id = a.id
       RETURNING account_id, closing
     ), opened AS (
       UPDATE accounts a SET opening_balance = i.closing, opening_date = ($1::date + 1)
         FROM inserted i WHERE a.id = i.account_id
       RETURNING 1
     )
     SELECT count(*)::text AS n FROM opened`,
    [date],
  );
  const totals = await rows<{
    subject_code: string;
    currency: string;
    n: string;
    debit: string;
    credit: string;
  }>(
    manager,
    `SELECT subject_code, currency, sum(entry_count)::text AS n, sum(debit_total)::text AS debit, sum(credit_total)::text AS credit
       FROM daily_balances WHERE accounting_date = $1 GROUP BY subject_code, currency ORDER BY subject_code, currency`,
    [date],
  );
  const sealedAt = await rows<{ t: Date }>(manager, 'SELECT clock_timestamp() AS t');
  return {
    accountingDate: date,
    totals: totals.map((t) => ({
      subjectCode: t.subject_code,
      currency: t.currency,
      entryCount: t.n,
      debitTotal: t.debit,
      creditTotal: t.credit,
    })),
    accountCount: written[0]?.n ?? '0',
    sealedAt: (sealedAt[0]?.t ?? new Date()).toISOString(),
  };
}

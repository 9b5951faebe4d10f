/**
 * Reads outside a transaction: one statement each, on the pool.
 */
import type { Side } from '@paycore/money';
import type { AccountView, DailyBalanceView, EntryView, SealResult } from '../../application/model';
import type { AccountReads, EntryQuery, LoadedPending } from '../../application/ports';
import type { OwnerType } from '../../domain/types';
import { readAccountView, readAccountViews } from './accounts';
import { readSealed } from './days';
import { readPending } from './pending';
import { EXPIRABLE_STATES, type Queryable } from './sql';

export class PgAccountReads implements AccountReads {
  constructor(private readonly sql: Queryable) {}

  account(accountId: string): Promise<AccountView | undefined> {
    return readAccountView(this.sql, accountId);
  }

  accounts(
    ownerType: OwnerType,
    ownerId: string,
    afterId: string,
    limit: number,
  ): Promise<readonly AccountView[]> {
    return readAccountViews(this.sql, ownerType, ownerId, afterId, limit);
  }

  async balanceAsOf(accountId: string, asOf: Date): Promise<{ total: bigint; lastSeq: bigint }> {
    // One indexed read: the last entry created at or before the instant.
    const [entry] = await this.sql.query<{ balance_after: string; seq: string }>(
      `SELECT balance_after::text, seq::text FROM entries
        WHERE account_id = $1 AND created_at <= $2
        ORDER BY created_at DESC, seq DESC LIMIT 1`,
      [accountId, asOf.toISOString()],
    );
    return entry === undefined
      ? { total: 0n, lastSeq: 0n }
      : { total: BigInt(entry.balance_after), lastSeq: BigInt(entry.seq) };
  }

  async entries(query: EntryQuery, currency: string): Promise<readonly EntryView[]> {
    const found = await this.sql.query<{
      seq: string;
      transfer_id: string;
      side: Side;
      amount: string;
      balance_after: string;
      biz_code: string;
      accounting_date: string;
      created_at: Date;
    }>(
      `SELECT seq::text, transfer_id, side, amount::text, balance_after::text, biz_code, accounting_date::text, created_at
         FROM entries
        WHERE account_id = $1 AND seq > $2
          AND ($3::timestamptz IS NULL OR created_at >= $3)
          AND ($4::timestamptz IS NULL OR created_at < $4)
          AND ($5::text IS NULL OR biz_code = $5)
        ORDER BY seq LIMIT $6`,
      [
        query.accountId,
        query.afterSeq.toString(),
        query.startTime?.toISOString() ?? null,
        query.endTime?.toISOString() ?? null,
        query.bizCode ?? null,
        query.limit,
      ],
    );
    return found.map((row) => ({
      accountId: query.accountId,
      seq: BigInt(row.seq),
      transferId: row.transfer_id,
      side: row.side,
      amountMinor: BigInt(row.amount),
      balanceAfter: BigInt(row.balance_after),
      currency,
      bizCode: row.biz_code,
      accountingDate: row.accounting_date,
      createdAt: row.created_at,
    }));
  }

  pending(pendingId: string): Promise<LoadedPending | undefined> {
    return readPending(this.sql, pendingId);
  }

  sealed(accountingDate: string): Promise<SealResult | undefined> {
    return readSealed(this.sql, accountingDate);
  }

  async dailyBalances(
    accountingDate: string,
    afterAccountId: string,
    limit: number,
  ): Promise<readonly DailyBalanceView[]> {
    const found = await this.sql.query<{
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

  async dueFlushes(accountsMax: number): Promise<readonly string[]> {
    const due = await this.sql.query<{ id: string }>(
      `SELECT a.id FROM accounts a
        WHERE EXISTS (SELECT 1 FROM buffered_credits b WHERE b.account_id = a.id)
          AND (a.last_flushed_at IS NULL OR a.last_flushed_at + a.flush_interval_ms * interval '1 millisecond' <= now())
        ORDER BY a.id LIMIT $1`,
      [accountsMax],
    );
    return due.map((row) => row.id);
  }

  async dueExpiries(now: Date, limit: number): Promise<readonly string[]> {
    const due = await this.sql.query<{ pending_id: string }>(
      `SELECT pending_id FROM pending_transfers
        WHERE state IN (${EXPIRABLE_STATES}) AND expires_at <= $1 ORDER BY expires_at LIMIT $2`,
      [now.toISOString(), limit],
    );
    return due.map((row) => row.pending_id);
  }
}

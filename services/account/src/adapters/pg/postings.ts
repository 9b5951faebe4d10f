/**
 * Postings: what a posting transaction writes and the buffered-credit queue.
 *
 * A batch writes every effect of all its accepted transfers with one
 * statement: entries, queued credits, account balances, transfers and their
 * transfer_posted events, as data-modifying CTEs over unnest arrays (each
 * runs exactly once, in the caller's transaction, whether or not the final
 * SELECT reads it). A flush is one statement too: its entries, the account's
 * balances and flush time, and the applied queue rows deleted.
 */
import type { SqlTx } from '@paycore/platform';
import type { PostedTransfer } from '../../application/model';
import type { PostingRepo, PostingWrites } from '../../application/ports';
import type { Side } from '@paycore/money';
import type { AccountState, Entry, QueuedCredit } from '../../domain/types';
import { outboxColumns, transferPostedMessage, type AccountEvents } from './events';
import {
  lockPostingExclusive,
  lockPostingShared,
  postedFromJson,
  postedToJson,
  type PostedTransferJson,
} from './sql';

const ENTRY_COLUMNS = `unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::date[])`;

function entryParams(entries: readonly Entry[]): unknown[] {
  return [
    entries.map((e) => e.accountId),
    entries.map((e) => e.seq.toString()),
    entries.map((e) => e.transferId),
    entries.map((e) => e.side),
    entries.map((e) => e.amountMinor.toString()),
    entries.map((e) => e.balanceAfter.toString()),
    entries.map((e) => e.bizCode),
    entries.map((e) => e.accountingDate),
  ];
}

function stateParams(states: readonly AccountState[]): unknown[] {
  return [
    states.map((s) => s.id),
    states.map((s) => s.available.toString()),
    states.map((s) => s.frozen.toString()),
    states.map((s) => s.lastSeq.toString()),
  ];
}

const WRITE_POSTINGS_SQL = `WITH
  entry_rows AS (
    INSERT INTO entries (account_id, seq, transfer_id, side, amount, balance_after, biz_code, accounting_date)
    SELECT * FROM ${ENTRY_COLUMNS}
  ),
  queued_rows AS (
    INSERT INTO buffered_credits (account_id, transfer_id, side, amount, biz_code, accounting_date)
    SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::text[], $12::bigint[], $13::text[], $14::date[])
  ),
  account_rows AS (
    UPDATE accounts a SET available = u.available, frozen = u.frozen, last_seq = u.last_seq, version = a.version + 1
      FROM unnest($15::uuid[], $16::bigint[], $17::bigint[], $18::bigint[]) AS u(id, available, frozen, last_seq)
     WHERE a.id = u.id
  ),
  transfer_rows AS (
    INSERT INTO transfers (id, request_id, biz_code, kind, pending_id, accounting_date, memo, result, created_at)
    SELECT * FROM unnest($19::uuid[], $20::text[], $21::text[], $22::text[], $23::text[], $24::date[], $25::text[],
                         $26::jsonb[], $27::timestamptz[])
  ),
  outbox_rows AS (
    INSERT INTO outbox (subject, payload, headers)
    SELECT * FROM unnest($28::text[], $29::bytea[], $30::jsonb[])
  )
SELECT 1 AS written`;

const APPLY_FLUSH_SQL = `WITH
  entry_rows AS (
    INSERT INTO entries (account_id, seq, transfer_id, side, amount, balance_after, biz_code, accounting_date)
    SELECT * FROM ${ENTRY_COLUMNS}
  ),
  account_rows AS (
    UPDATE accounts a SET available = $10, frozen = $11, last_seq = $12, version = a.version + 1, last_flushed_at = now()
     WHERE a.id = $9
  ),
  applied AS (
    DELETE FROM buffered_credits WHERE id = ANY($13::bigint[]) RETURNING 1
  )
SELECT count(*)::int AS deleted FROM applied`;

export class PgPostingRepo implements PostingRepo {
  constructor(
    private readonly sql: SqlTx,
    private readonly subjects: AccountEvents,
  ) {}

  lockShared(): Promise<void> {
    return lockPostingShared(this.sql);
  }

  lockExclusive(): Promise<void> {
    return lockPostingExclusive(this.sql);
  }

  async lastSealedDate(): Promise<string | null> {
    const [row] = await this.sql.query<{ last: string | null }>(
      'SELECT max(accounting_date)::text AS last FROM sealed_days',
    );
    return row?.last ?? null;
  }

  async write(writes: PostingWrites): Promise<void> {
    const { entries, queued, transfers } = writes;
    const states = [...writes.states.values()];
    if (entries.length + queued.length + states.length + transfers.length === 0) return;
    const messages = transfers.map((t) =>
      transferPostedMessage(this.subjects.transferPosted, t.posted, t.headers),
    );
    await this.sql.query(WRITE_POSTINGS_SQL, [
      ...entryParams(entries),
      queued.map((q) => q.accountId),
      queued.map((q) => q.transferId),
      queued.map((q) => q.side),
      queued.map((q) => q.amountMinor.toString()),
      queued.map((q) => q.bizCode),
      queued.map((q) => q.accountingDate),
      ...stateParams(states),
      transfers.map((t) => t.posted.transferId),
      transfers.map((t) => t.posted.requestId),
      transfers.map((t) => t.posted.bizCode),
      transfers.map((t) => t.kind),
      transfers.map((t) => (t.posted.pendingId === '' ? null : t.posted.pendingId)),
      transfers.map((t) => t.posted.accountingDate),
      transfers.map((t) => t.memo),
      transfers.map((t) => JSON.stringify(postedToJson(t.posted))),
      transfers.map((t) => t.posted.postedAt.toISOString()),
      ...outboxColumns(messages),
    ]);
  }

  async transfers(transferIds: readonly string[]): Promise<Map<string, PostedTransfer>> {
    const found = await this.sql.query<{ id: string; result: PostedTransferJson }>(
      'SELECT id::text AS id, result FROM transfers WHERE id = ANY($1::uuid[])',
      [[...new Set(transferIds)]],
    );
    return new Map(found.map((row) => [row.id, postedFromJson(row.result)]));
  }

  async queued(
    accountId: string,
    cap: number,
  ): Promise<readonly { queueId: string; credit: QueuedCredit }[]> {
    const found = await this.sql.query<{
      id: string;
      transfer_id: string;
      side: Side;
      amount: string;
      biz_code: string;
      accounting_date: string;
    }>(
      `SELECT id::text, transfer_id, side, amount::text, biz_code, accounting_date::text
         FROM buffered_credits WHERE account_id = $1 ORDER BY id LIMIT $2`,
      [accountId, cap],
    );
    return found.map((q) => ({
      queueId: q.id,
      credit: {
        accountId,
        transferId: q.transfer_id,
        side: q.side,
        amountMinor: BigInt(q.amount),
        bizCode: q.biz_code,
        accountingDate: q.accounting_date,
      },
    }));
  }

  async applyFlush(
    account: AccountState,
    entries: readonly Entry[],
    queueIds: readonly string[],
  ): Promise<void> {
    const [row] = await this.sql.query<{ deleted: number }>(APPLY_FLUSH_SQL, [
      ...entryParams(entries),
      account.id,
      account.available,
      account.frozen,
      account.lastSeq,
      queueIds,
    ]);
    if (row?.deleted !== queueIds.length)
      throw new Error(`flush of ${account.id}: ${row?.deleted} of ${queueIds.length} queue rows applied`);
  }

  async queuedAccounts(): Promise<readonly string[]> {
    const found = await this.sql.query<{ account_id: string }>(
      'SELECT DISTINCT account_id FROM buffered_credits ORDER BY account_id',
    );
    return found.map((row) => row.account_id);
  }
}

/**
 * Status sync claims and the exception list. "Still open" is the domain's
 * OPEN_TXN_STATES (read from the transition table), passed as a parameter.
 */
import type { ExceptionsRepo, SyncRepo } from '../../application/ports';
import type { Txn } from '../../application/model';
import { OPEN_TXN_STATES } from '../../domain/txn';
import { toTxn, TXN_COLUMNS, type Sql, type TxnRow } from './rows';

export class PgSync implements SyncRepo {
  constructor(private readonly sql: Sql) {}

  async claimDue(batchSizeMax: number, leaseMs: number): Promise<Txn[]> {
    const rows = await this.sql.query<TxnRow>(
      `UPDATE transactions SET next_sync_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE txn_id IN (
         SELECT txn_id FROM transactions WHERE next_sync_at <= now() ORDER BY next_sync_at
         LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${TXN_COLUMNS}`,
      [batchSizeMax, leaseMs],
    );
    return rows.map(toTxn);
  }

  async scheduleSync(txnId: string, atMs: number): Promise<void> {
    await this.sql.query(
      `UPDATE transactions SET next_sync_at = $2, sync_attempts = sync_attempts + 1
       WHERE txn_id = $1 AND state = ANY($3::text[])`,
      [txnId, new Date(atMs), OPEN_TXN_STATES],
    );
  }

  async nextDueAt(): Promise<Date | undefined> {
    const rows = await this.sql.query<{ due: Date | null }>(
      'SELECT min(next_sync_at) AS due FROM transactions WHERE next_sync_at IS NOT NULL',
    );
    return rows[0]?.due ?? undefined;
  }
}

export class PgExceptions implements ExceptionsRepo {
  constructor(private readonly sql: Sql) {}

  async mark(txnId: string): Promise<void> {
    await this.sql.query(
      `UPDATE transactions SET next_sync_at = NULL, exception_at = now()
       WHERE txn_id = $1 AND state = ANY($2::text[])`,
      [txnId, OPEN_TXN_STATES],
    );
  }

  async list(limit: number): Promise<Txn[]> {
    const rows = await this.sql.query<TxnRow>(
      `SELECT ${TXN_COLUMNS} FROM transactions WHERE exception_at IS NOT NULL ORDER BY exception_at LIMIT $1`,
      [limit],
    );
    return rows.map(toTxn);
  }
}

/**
 * Channel transactions (payments, refunds, payouts: one table). Every state
 * change goes through the unit of work's guarded `transition`, whose allowed
 * from-states come from the domain's TXN_TRANSITIONS; no SQL here names a
 * state.
 */
import assert from 'node:assert/strict';
import { SQL_NOW, traceHeadersForStorage, type EntityStates, type TransitionResult } from '@paycore/platform';
import type { NewTxnRow, TransactionsRepo, TxnDetails } from '../../application/ports';
import type { Txn } from '../../application/model';
import type { RefundSums } from '../../domain/caps';
import { INITIAL_TXN_STATE, TXN_TRANSITIONS, type TxnState } from '../../domain/txn';
import { toTxn, TXN_COLUMNS, type Sql, type TxnRow } from './rows';

export const TXN_STATES: EntityStates<TxnState> = {
  name: 'channel transaction',
  table: 'transactions',
  idColumn: 'txn_id',
  stateColumn: 'state',
  transitions: TXN_TRANSITIONS,
  // cashier's parts name the transaction channel_txn_id; `paycore trace` joins on it.
  flowKey: 'channel_txn_id',
  amountColumn: 'amount',
  currencyColumn: 'currency',
};

function detailColumns(details: TxnDetails): Record<string, unknown> {
  return {
    version: details.version,
    updated_at: SQL_NOW,
    channel_txn_no: details.channelTxnNo,
    pay_url: details.payUrl,
    failure_code: details.failureCode,
    failure_message: details.failureMessage,
    retryable_elsewhere: details.retryableElsewhere,
    ...(details.final ? { finished_at: SQL_NOW, next_sync_at: null, exception_at: null } : {}),
  };
}

export class PgTransactions implements TransactionsRepo {
  /** `afterInsert` runs once a row is inserted (the store wakes status sync after commit). */
  constructor(
    private readonly sql: Sql,
    private readonly afterInsert: () => void = () => undefined,
  ) {}

  async insert(row: NewTxnRow): Promise<void> {
    await this.sql.query(
      `INSERT INTO transactions (txn_id, kind, state, biz_code, pay_channel, channel_no, currency, amount, fee,
         subject, payee, original_txn_id, cap_date, close_deadline, next_sync_at, trace_headers)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15, $16::jsonb)`,
      [
        row.txnId,
        row.kind,
        INITIAL_TXN_STATE,
        row.bizCode,
        row.payChannel,
        row.channelNo,
        row.currency,
        row.amount,
        row.fee,
        row.subject,
        row.payee === undefined ? null : JSON.stringify(row.payee),
        row.originalTxnId ?? null,
        row.capDate ?? null,
        row.closeDeadline,
        row.firstSyncAt,
        JSON.stringify(traceHeadersForStorage()),
      ],
    );
    this.afterInsert();
  }

  async byId(txnId: string): Promise<Txn | undefined> {
    const rows = await this.sql.query<TxnRow>(`SELECT ${TXN_COLUMNS} FROM transactions WHERE txn_id = $1`, [
      txnId,
    ]);
    return rows[0] === undefined ? undefined : toTxn(rows[0]);
  }

  async lock(txnId: string): Promise<Txn | undefined> {
    const rows = await this.sql.query<TxnRow>(
      `SELECT ${TXN_COLUMNS} FROM transactions WHERE txn_id = $1 FOR UPDATE`,
      [txnId],
    );
    return rows[0] === undefined ? undefined : toTxn(rows[0]);
  }

  async moveTo(txnId: string, to: TxnState, details: TxnDetails): Promise<TransitionResult<TxnState>> {
    assert.ok(this.sql.transition !== undefined, 'a state change needs a transaction');
    return this.sql.transition(TXN_STATES, txnId, to, detailColumns(details));
  }

  async recordDetails(txnId: string, details: TxnDetails): Promise<void> {
    const columns = Object.entries(detailColumns(details));
    const params: unknown[] = [txnId];
    const assignments = columns.map(([column, value]) => {
      if (value === SQL_NOW) return `${column} = now()`;
      params.push(value);
      return `${column} = $${params.length}`;
    });
    await this.sql.query(`UPDATE transactions SET ${assignments.join(', ')} WHERE txn_id = $1`, params);
  }

  async setChannelTxnNo(txnId: string, channelTxnNo: string): Promise<void> {
    await this.sql.query('UPDATE transactions SET channel_txn_no = $2 WHERE txn_id = $1', [
      txnId,
      channelTxnNo,
    ]);
  }

  async clearCapDate(txnId: string): Promise<void> {
    await this.sql.query('UPDATE transactions SET cap_date = NULL WHERE txn_id = $1', [txnId]);
  }

  async refundSums(paymentTxnId: string): Promise<RefundSums> {
    const rows = await this.sql.query<{ state: TxnState; total: string }>(
      `SELECT state, SUM(amount)::text AS total FROM transactions WHERE original_txn_id = $1 GROUP BY state`,
      [paymentTxnId],
    );
    return new Map(rows.map((row) => [row.state, BigInt(row.total)]));
  }

  async traceHeaders(txnId: string): Promise<Record<string, string>> {
    const rows = await this.sql.query<{ trace_headers: Record<string, string> }>(
      'SELECT trace_headers FROM transactions WHERE txn_id = $1',
      [txnId],
    );
    return rows[0]?.trace_headers ?? {};
  }
}

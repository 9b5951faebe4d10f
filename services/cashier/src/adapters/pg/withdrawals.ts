/** Withdrawals: insert, reads, table-driven state changes, the payout's transaction id. */
import { SQL_NOW, type SqlTx } from '@paycore/platform';
import type { WithdrawalStateName } from '../../domain/model';
import { FINAL_WITHDRAWAL_STATES } from '../../domain/states';
import type { Moved, NewWithdrawal, WithdrawalRepo } from '../../application/ports';
import type { WithdrawalRecord } from '../../application/records';
import { WITHDRAWAL_COLUMNS, withdrawalOf } from './rows';
import { WITHDRAWALS, type Queryable } from './sql';

export async function selectWithdrawal(
  q: Queryable,
  withdrawalId: string,
): Promise<WithdrawalRecord | undefined> {
  const rows = await q.query(`SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals WHERE withdrawal_id = $1`, [
    withdrawalId,
  ]);
  return rows[0] ? withdrawalOf(rows[0]) : undefined;
}

export class PgWithdrawals implements WithdrawalRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(w: NewWithdrawal): Promise<WithdrawalRecord> {
    const initial: WithdrawalStateName = 'TRYING';
    const rows = await this.sql.query(
      `INSERT INTO withdrawals (withdrawal_id, request_id, request_hash, payer_id, amount_minor, currency, account_no,
         account_name, bank_code, state, channel_no, biz_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${WITHDRAWAL_COLUMNS}`,
      [
        w.withdrawalId,
        w.requestId,
        w.requestHash,
        w.payerId,
        w.amountMinor,
        w.currency,
        w.accountNo,
        w.accountName,
        w.bankCode,
        initial,
        w.channelNo,
        w.bizCode,
      ],
    );
    if (!rows[0]) throw new Error('withdrawal was not inserted');
    return withdrawalOf(rows[0]);
  }

  byId(withdrawalId: string): Promise<WithdrawalRecord | undefined> {
    return selectWithdrawal(this.sql, withdrawalId);
  }

  moveTo(
    withdrawalId: string,
    to: WithdrawalStateName,
    failureReason?: string,
  ): Promise<Moved<WithdrawalStateName>> {
    const columns: Record<string, unknown> = { updated_at: SQL_NOW };
    if (failureReason !== undefined) columns['failure_reason'] = failureReason;
    if (FINAL_WITHDRAWAL_STATES.includes(to)) columns['finished_at'] = SQL_NOW;
    return this.sql.transition(WITHDRAWALS, withdrawalId, to, columns);
  }

  async recordPayoutTxn(withdrawalId: string, txnId: string): Promise<void> {
    await this.sql.query(
      'UPDATE withdrawals SET channel_txn_id = COALESCE(channel_txn_id, $2), updated_at = now() WHERE withdrawal_id = $1',
      [withdrawalId, txnId],
    );
  }

  async touch(withdrawalId: string): Promise<void> {
    await this.sql.query('UPDATE withdrawals SET updated_at = now() WHERE withdrawal_id = $1', [
      withdrawalId,
    ]);
  }

  async idByTxn(txnId: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ withdrawal_id: string }>(
      'SELECT withdrawal_id::text FROM withdrawals WHERE channel_txn_id = $1',
      [txnId],
    );
    return rows[0]?.withdrawal_id;
  }
}

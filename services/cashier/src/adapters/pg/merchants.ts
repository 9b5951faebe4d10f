/** Merchants: registration and reads. */
import type { SqlTx } from '@paycore/platform';
import type { MerchantRepo } from '../../application/ports';
import type { MerchantRecord } from '../../application/records';
import { MERCHANT_COLUMNS, merchantOf } from './rows';
import type { Queryable } from './sql';

export async function selectMerchant(q: Queryable, merchantId: string): Promise<MerchantRecord | undefined> {
  const rows = await q.query(`SELECT ${MERCHANT_COLUMNS} FROM merchants WHERE merchant_id = $1`, [
    merchantId,
  ]);
  return rows[0] ? merchantOf(rows[0]) : undefined;
}

export class PgMerchants implements MerchantRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(m: Omit<MerchantRecord, 'createdAt'>): Promise<MerchantRecord | undefined> {
    const rows = await this.sql.query(
      `INSERT INTO merchants (merchant_id, name, notify_key, per_txn_max_minor, merchant_daily_max_minor,
         payer_daily_max_minor, payer_per_minute_max, settlement_account_id, escrow_account_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (merchant_id) DO NOTHING
       RETURNING ${MERCHANT_COLUMNS}`,
      [
        m.merchantId,
        m.name,
        m.notifyKey,
        m.limits.perTransactionMaxMinor,
        m.limits.merchantDailyMaxMinor,
        m.limits.payerDailyMaxMinor,
        m.limits.payerPaymentsPerMinuteMax,
        m.settlementAccountId,
        m.escrowAccountId,
      ],
    );
    return rows[0] ? merchantOf(rows[0]) : undefined;
  }

  byId(merchantId: string): Promise<MerchantRecord | undefined> {
    return selectMerchant(this.sql, merchantId);
  }
}

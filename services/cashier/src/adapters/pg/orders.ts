/** Orders: insert, reads, table-driven state changes, the escrow receipt and release marks. */
import { SQL_NOW, type SqlTx } from '@paycore/platform';
import type { OrderStateName, RiskLimits } from '../../domain/model';
import type { Moved, NewOrder, OrderChange, OrderRepo } from '../../application/ports';
import type { OrderRecord } from '../../application/records';
import { ORDER_COLUMNS, orderOf } from './rows';
import { ORDERS, type Queryable } from './sql';

export async function selectOrder(
  q: Queryable,
  orderId: string,
  lock = '',
): Promise<OrderRecord | undefined> {
  const rows = await q.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1 ${lock}`, [orderId]);
  return rows[0] ? orderOf(rows[0]) : undefined;
}

export async function selectOrderByMerchantNo(
  q: Queryable,
  merchantId: string,
  merchantOrderNo: string,
): Promise<OrderRecord | undefined> {
  const rows = await q.query(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE merchant_id = $1 AND merchant_order_no = $2`,
    [merchantId, merchantOrderNo],
  );
  return rows[0] ? orderOf(rows[0]) : undefined;
}

export class PgOrders implements OrderRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(o: NewOrder): Promise<OrderRecord | undefined> {
    const initial: OrderStateName = 'WAIT_PAY';
    const rows = await this.sql.query(
      `INSERT INTO orders (order_id, kind, merchant_id, merchant_order_no, payer_id, top_up_target, amount_minor,
         currency, product, biz_mode, order_code, biz_code, subject, state, expire_at, notify_url, request_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $16, $13, $14, $15)
       ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING RETURNING ${ORDER_COLUMNS}`,
      [
        o.orderId,
        o.kind,
        o.merchantId,
        o.merchantOrderNo,
        o.payerId,
        o.topUpTarget,
        o.amountMinor,
        o.currency,
        o.product,
        o.bizMode,
        o.orderCode,
        o.subject,
        o.expireAt,
        o.notifyUrl,
        o.requestHash,
        initial,
      ],
    );
    return rows[0] ? orderOf(rows[0]) : undefined;
  }

  byId(orderId: string, lock?: 'FOR UPDATE'): Promise<OrderRecord | undefined> {
    return selectOrder(this.sql, orderId, lock ?? '');
  }

  byMerchantNo(merchantId: string, merchantOrderNo: string): Promise<OrderRecord | undefined> {
    return selectOrderByMerchantNo(this.sql, merchantId, merchantOrderNo);
  }

  async forPay(orderId: string): Promise<{ order: OrderRecord; limits: RiskLimits | undefined } | undefined> {
    // The limits ride along as text (exact bigints); FOR UPDATE locks the order row only.
    const rows = await this.sql.query(
      `SELECT ${ORDER_COLUMNS},
         (SELECT ARRAY[m.per_txn_max_minor::text, m.merchant_daily_max_minor::text,
                       m.payer_daily_max_minor::text, m.payer_per_minute_max::text]
            FROM merchants m WHERE m.merchant_id = orders.merchant_id) AS merchant_limits
       FROM orders WHERE order_id = $1 FOR UPDATE`,
      [orderId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const limits = row['merchant_limits'] as string[] | null;
    return {
      order: orderOf(row),
      limits:
        limits === null
          ? undefined
          : {
              perTransactionMaxMinor: BigInt(limits[0] ?? '0'),
              merchantDailyMaxMinor: BigInt(limits[1] ?? '0'),
              payerDailyMaxMinor: BigInt(limits[2] ?? '0'),
              payerPaymentsPerMinuteMax: Number(limits[3] ?? '0'),
            },
    };
  }

  moveTo(orderId: string, to: OrderStateName, set: OrderChange = {}): Promise<Moved<OrderStateName>> {
    const columns: Record<string, unknown> = {};
    if (set.paidPaymentId !== undefined) columns['paid_payment_id'] = set.paidPaymentId;
    if (set.bizCode !== undefined) columns['biz_code'] = set.bizCode;
    if (set.closeCause !== undefined) columns['close_cause'] = set.closeCause;
    if (set.paidAt !== undefined) columns['paid_at'] = set.paidAt === 'now' ? SQL_NOW : set.paidAt;
    if (set.closedAt === 'now') columns['closed_at'] = SQL_NOW;
    return this.sql.transition(ORDERS, orderId, to, columns);
  }

  async confirmReceipt(orderId: string, releaseMinor: bigint): Promise<OrderRecord> {
    const rows = await this.sql.query(
      `UPDATE orders SET receipt_confirmed = true, release_minor = $2 WHERE order_id = $1 RETURNING ${ORDER_COLUMNS}`,
      [orderId, releaseMinor],
    );
    if (!rows[0]) throw new Error(`order ${orderId} vanished`);
    return orderOf(rows[0]);
  }

  async addRefunded(orderId: string, amountMinor: bigint): Promise<void> {
    await this.sql.query('UPDATE orders SET refunded_minor = refunded_minor + $2 WHERE order_id = $1', [
      orderId,
      amountMinor,
    ]);
  }

  async markReleasePosted(orderId: string): Promise<void> {
    await this.sql.query('UPDATE orders SET release_posted = true WHERE order_id = $1', [orderId]);
  }
}

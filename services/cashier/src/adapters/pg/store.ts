/**
 * The cashier's Postgres store. Every state change is one transaction with a
 * guard on the state it leaves (`WHERE state = $from`), so concurrent drivers
 * (the Pay call, the channel event consumer, the recovery worker, another
 * replica) apply each transition at most once. Events are written to the
 * outbox in the transaction of the change they report.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { inTransaction, sqlState, writeOutbox, type EventNaming } from '@paycore/platform';
import {
  MerchantRegistered,
  PaymentClosed,
  PaymentSucceeded,
  RefundSucceeded,
} from '@paycore/proto/paycore/cashier/v1/events';
import { CashierError } from '../../domain/errors';
import type {
  PartStateName,
  PaymentStateName,
  PlannedPart,
  RiskLimits,
  WithdrawalStateName,
} from '../../domain/model';
import { checkRisk, chinaDay, minuteBucket } from '../../domain/risk';
import { orderStateAfterRefund } from '../../domain/states';
import type {
  CouponRecord,
  ExceptionRecord,
  MerchantRecord,
  NotificationRecord,
  OrderRecord,
  PaymentRecord,
  RefundRecord,
  WithdrawalRecord,
} from '../../application/records';
import { toMerchant, toOrder, toPayment, toRefund } from '../grpc/mapping';
import {
  COUPON_COLUMNS,
  couponOf,
  EXCEPTION_COLUMNS,
  exceptionOf,
  MERCHANT_COLUMNS,
  merchantOf,
  ORDER_COLUMNS,
  orderOf,
  PART_COLUMNS,
  partOf,
  PAYMENT_COLUMNS,
  paymentOf,
  REFUND_COLUMNS,
  REFUND_PART_COLUMNS,
  refundOf,
  refundPartOf,
  WITHDRAWAL_COLUMNS,
  withdrawalOf,
  type Row,
} from './rows';

const UNIQUE_VIOLATION = '23505';
/** Rows a recovery or notifier pass looks at, at most. */
export const SCAN_BATCH_MAX = 50;

export interface NewOrder {
  /** Chosen by the caller when it must know the id before the insert (top-ups); random otherwise. */
  readonly orderId?: string;
  readonly kind: OrderRecord['kind'];
  readonly merchantId: string | null;
  readonly merchantOrderNo: string | null;
  readonly payerId: string | null;
  readonly topUpTarget: OrderRecord['topUpTarget'];
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly product: string;
  readonly bizMode: OrderRecord['bizMode'];
  readonly orderCode: string;
  readonly subject: string;
  readonly expireAt: Date;
  readonly notifyUrl: string;
  readonly requestHash: string;
}

export interface NewPayment {
  readonly orderId: string;
  readonly requestId: string;
  readonly requestHash: string;
  readonly payerId: string;
  readonly parts: readonly (PlannedPart & { readonly channelNo: string | null; readonly bizCode: string })[];
  readonly limits: RiskLimits;
  readonly merchantId: string | null;
  readonly nowMs: number;
}

export interface NewRefund {
  readonly orderId: string;
  readonly merchantRefundNo: string;
  readonly requestHash: string;
  readonly amountMinor: bigint;
  readonly reason: string;
  /** Splits the amount over the parts (allocateRefundAlongPath), given paid and refunded per part. */
  readonly allocate: (parts: readonly { paidMinor: bigint; refundedMinor: bigint }[]) => bigint[];
  readonly refundCodeOf: (partBizCode: string) => string;
  readonly refundBizCode: string;
}

export class PgCashierStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly naming: EventNaming,
  ) {}

  /**
   * Rows of a statement. TypeORM answers UPDATE and DELETE with [rows, rowCount]
   * instead of rows, so that shape is unwrapped here, once, for every caller.
   */
  private async query<T = Row>(sql: string, params: unknown[] = [], m?: EntityManager): Promise<T[]> {
    const result: unknown = await (m ?? this.dataSource.manager).query(sql, params);
    if (
      Array.isArray(result) &&
      result.length === 2 &&
      Array.isArray(result[0]) &&
      typeof result[1] === 'number'
    ) {
      return result[0] as T[];
    }
    return result as T[];
  }

  private tx<T>(name: string, fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return inTransaction(this.dataSource, fn, { isolation: 'READ COMMITTED', name: `cashier.${name}` });
  }

  // ---------------------------------------------------------------- accounts

  async accountId(key: string): Promise<string | undefined> {
    const rows = await this.query<{ account_id: string }>(
      'SELECT account_id FROM ledger_accounts WHERE account_key = $1',
      [key],
    );
    return rows[0]?.account_id;
  }

  async saveAccountId(key: string, accountId: string): Promise<void> {
    await this.query(
      'INSERT INTO ledger_accounts (account_key, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [key, accountId],
    );
  }

  // --------------------------------------------------------------- merchants

  async merchant(merchantId: string): Promise<MerchantRecord | undefined> {
    const rows = await this.query(`SELECT ${MERCHANT_COLUMNS} FROM merchants WHERE merchant_id = $1`, [
      merchantId,
    ]);
    return rows[0] ? merchantOf(rows[0]) : undefined;
  }

  /** Inserts the merchant and its event; an existing merchant is returned as it is. */
  async insertMerchant(
    m: Omit<MerchantRecord, 'createdAt'>,
  ): Promise<{ merchant: MerchantRecord; created: boolean }> {
    return this.tx('register-merchant', async (tx) => {
      const rows = await this.query(
        `INSERT INTO merchants (merchant_id, name, notify_key, per_txn_max_minor, merchant_daily_max_minor,
           payer_daily_max_minor, payer_per_minute_max, settlement_account_id, escrow_account_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (merchant_id) DO NOTHING
         RETURNING ${MERCHANT_COLUMNS}`,
        [
          m.merchantId,
          m.name,
          m.notifyKey,
          m.limits.perTransactionMaxMinor.toString(),
          m.limits.merchantDailyMaxMinor.toString(),
          m.limits.payerDailyMaxMinor.toString(),
          m.limits.payerPaymentsPerMinuteMax,
          m.settlementAccountId,
          m.escrowAccountId,
        ],
        tx,
      );
      const inserted = rows[0];
      if (inserted === undefined) {
        const existing = await this.query(
          `SELECT ${MERCHANT_COLUMNS} FROM merchants WHERE merchant_id = $1`,
          [m.merchantId],
          tx,
        );
        if (!existing[0]) throw new Error('merchant vanished after a conflicting insert');
        return { merchant: merchantOf(existing[0]), created: false };
      }
      const merchant = merchantOf(inserted);
      await writeOutbox(tx, {
        subject: this.naming.subject('cashier', 'merchant_registered'),
        payload: MerchantRegistered.encode({
          merchant: toMerchant(merchant),
          currency: 'CNY',
          openingBalance: { amountMinor: 0n, currency: 'CNY' },
          registeredAt: merchant.createdAt,
        }).finish(),
      });
      return { merchant, created: true };
    });
  }

  // ------------------------------------------------------------------ orders

  async order(orderId: string, m?: EntityManager): Promise<OrderRecord | undefined> {
    const rows = await this.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1`, [orderId], m);
    return rows[0] ? orderOf(rows[0]) : undefined;
  }

  async orderByMerchantNo(merchantId: string, merchantOrderNo: string): Promise<OrderRecord | undefined> {
    const rows = await this.query(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE merchant_id = $1 AND merchant_order_no = $2`,
      [merchantId, merchantOrderNo],
    );
    return rows[0] ? orderOf(rows[0]) : undefined;
  }

  /** Inserts the order, or returns the one the merchant's order number already names. */
  async insertOrder(o: NewOrder): Promise<{ order: OrderRecord; created: boolean }> {
    const rows = await this.query(
      `INSERT INTO orders (order_id, kind, merchant_id, merchant_order_no, payer_id, top_up_target, amount_minor,
         currency, product, biz_mode, order_code, biz_code, subject, state, expire_at, notify_url, request_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, 'WAIT_PAY', $13, $14, $15)
       ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING RETURNING ${ORDER_COLUMNS}`,
      [
        o.orderId ?? randomUUID(),
        o.kind,
        o.merchantId,
        o.merchantOrderNo,
        o.payerId,
        o.topUpTarget,
        o.amountMinor.toString(),
        o.currency,
        o.product,
        o.bizMode,
        o.orderCode,
        o.subject,
        o.expireAt,
        o.notifyUrl,
        o.requestHash,
      ],
    );
    if (rows[0]) return { order: orderOf(rows[0]), created: true };
    if (o.merchantId === null || o.merchantOrderNo === null)
      throw new Error('order insert conflicted without a merchant key');
    const existing = await this.orderByMerchantNo(o.merchantId, o.merchantOrderNo);
    if (!existing) throw new Error('order vanished after a conflicting insert');
    return { order: existing, created: false };
  }

  /** Orders still unpaid past their expiry. */
  async expiredOrders(now: Date): Promise<string[]> {
    const rows = await this.query<{ order_id: string }>(
      `SELECT order_id::text FROM orders WHERE state = 'WAIT_PAY' AND expire_at <= $1 ORDER BY expire_at LIMIT ${SCAN_BATCH_MAX}`,
      [now],
    );
    return rows.map((r) => r.order_id);
  }

  /** WAIT_PAY -> CLOSED with its event, only when no payment is in flight. */
  async closeOrder(
    orderId: string,
    cause: 'CLOSED_BY_MERCHANT' | 'EXPIRED',
  ): Promise<OrderRecord | 'IN_FLIGHT' | undefined> {
    return this.tx('close-order', async (tx) => {
      const locked = await this.query(
        `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1 FOR UPDATE`,
        [orderId],
        tx,
      );
      const order = locked[0] ? orderOf(locked[0]) : undefined;
      if (!order) return undefined;
      if (order.state !== 'WAIT_PAY') return order;
      const inFlight = await this.query(
        `SELECT 1 FROM payments WHERE order_id = $1 AND state NOT IN ('SUCCEEDED', 'FAILED')`,
        [orderId],
        tx,
      );
      if (inFlight.length > 0) return 'IN_FLIGHT';
      const rows = await this.query(
        `UPDATE orders SET state = 'CLOSED', close_cause = $2, closed_at = now() WHERE order_id = $1 AND state = 'WAIT_PAY'
         RETURNING ${ORDER_COLUMNS}`,
        [orderId, cause],
        tx,
      );
      if (!rows[0]) throw new Error('order changed under its lock');
      const closed = orderOf(rows[0]);
      if (closed.kind === 'PAYMENT') {
        await writeOutbox(tx, {
          subject: this.naming.subject('cashier', 'payment_closed'),
          payload: PaymentClosed.encode({ order: toOrder(closed), cause, bizCode: closed.bizCode }).finish(),
          headers: { 'Biz-Context': closed.bizCode },
        });
      }
      return closed;
    });
  }

  // ---------------------------------------------------------------- payments

  private async partsOf(
    paymentIds: readonly string[],
    m?: EntityManager,
  ): Promise<Map<string, ReturnType<typeof partOf>[]>> {
    const byPayment = new Map<string, ReturnType<typeof partOf>[]>();
    if (paymentIds.length === 0) return byPayment;
    const rows = await this.query(
      `SELECT ${PART_COLUMNS} FROM payment_parts WHERE payment_id = ANY($1::uuid[]) ORDER BY payment_id, part_no`,
      [paymentIds],
      m,
    );
    for (const row of rows) {
      const id = String(row['payment_id']);
      const list = byPayment.get(id) ?? [];
      list.push(partOf(row));
      byPayment.set(id, list);
    }
    return byPayment;
  }

  private async paymentsWhere(where: string, params: unknown[], m?: EntityManager): Promise<PaymentRecord[]> {
    const rows = await this.query(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE ${where}`, params, m);
    const parts = await this.partsOf(
      rows.map((r) => String(r['payment_id'])),
      m,
    );
    return rows.map((r) => paymentOf(r, parts.get(String(r['payment_id'])) ?? []));
  }

  async payment(paymentId: string, m?: EntityManager): Promise<PaymentRecord | undefined> {
    return (await this.paymentsWhere('payment_id = $1', [paymentId], m))[0];
  }

  async paymentsOfOrder(orderId: string): Promise<PaymentRecord[]> {
    return this.paymentsWhere('order_id = $1 ORDER BY created_at, payment_id', [orderId]);
  }

  async paymentByRequest(orderId: string, requestId: string): Promise<PaymentRecord | undefined> {
    return (await this.paymentsWhere('order_id = $1 AND request_id = $2', [orderId, requestId]))[0];
  }

  async inFlightPayment(orderId: string): Promise<PaymentRecord | undefined> {
    return (await this.paymentsWhere(`order_id = $1 AND state NOT IN ('SUCCEEDED', 'FAILED')`, [orderId]))[0];
  }

  /** Payments not final and not touched for `idleMs`, without an open exception. */
  async idlePayments(idleMs: number): Promise<PaymentRecord[]> {
    return this.paymentsWhere(
      `state NOT IN ('SUCCEEDED', 'FAILED') AND updated_at <= now() - ($1 || ' milliseconds')::interval
       AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.flow_kind = 'PAYMENT' AND e.flow_id = payments.payment_id::text AND e.state = 'OPEN')
       ORDER BY updated_at LIMIT ${SCAN_BATCH_MAX}`,
      [String(idleMs)],
    );
  }

  async paymentIdByTxn(txnId: string, m?: EntityManager): Promise<string | undefined> {
    const rows = await this.query<{ payment_id: string }>(
      'SELECT payment_id::text FROM payment_parts WHERE channel_txn_id = $1',
      [txnId],
      m,
    );
    return rows[0]?.payment_id;
  }

  /**
   * Records a new payment (TRYING) with its parts under the order's lock:
   * the order must still be payable, risk limits are checked and counted,
   * the coupon (if any) is reserved. The partial unique index allows one
   * payment in flight per order, so a concurrent Pay loses here.
   */
  // eslint-disable-next-line max-lines-per-function -- legacy store method, being split by aggregate onto the unit of work
  async startPayment(p: NewPayment): Promise<PaymentRecord> {
    try {
      // eslint-disable-next-line max-lines-per-function -- legacy store method, being split by aggregate onto the unit of work
      return await this.tx('start-payment', async (tx) => {
        const locked = await this.query(
          `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1 FOR UPDATE`,
          [p.orderId],
          tx,
        );
        const order = locked[0] ? orderOf(locked[0]) : undefined;
        if (!order)
          throw new CashierError('ORDER_NOT_FOUND', `order ${p.orderId} not found`, { field: 'order_id' });
        if (order.state !== 'WAIT_PAY') {
          throw new CashierError('ORDER_NOT_PAYABLE', `order is ${order.state}`, {
            metadata: { order_state: order.state },
          });
        }
        const inFlight = await this.query<{ payment_id: string; state: string }>(
          `SELECT payment_id::text, state FROM payments WHERE order_id = $1 AND state NOT IN ('SUCCEEDED', 'FAILED')`,
          [p.orderId],
          tx,
        );
        if (inFlight[0]) throw inFlightError(inFlight[0].payment_id, inFlight[0].state);
        const amountMinor = order.amountMinor;
        const day = chinaDay(p.nowMs);
        const minute = minuteBucket(p.nowMs);
        const usage = await this.riskUsage(tx, p.merchantId, p.payerId, day, minute);
        const refusal = checkRisk(p.limits, usage, amountMinor);
        if (refusal) throw refusal;
        await this.countRisk(tx, p.merchantId, p.payerId, day, minute, amountMinor, 1);
        const paymentId = randomUUID();
        await this.query(
          `INSERT INTO payments (payment_id, order_id, request_id, request_hash, payer_id, amount_minor, state, risk_day, risk_merchant_id)
           VALUES ($1, $2, $3, $4, $5, $6, 'TRYING', $7, $8)`,
          [
            paymentId,
            p.orderId,
            p.requestId,
            p.requestHash,
            p.payerId,
            amountMinor.toString(),
            day,
            p.merchantId,
          ],
          tx,
        );
        for (const part of p.parts) {
          if (part.couponId !== undefined) {
            const reserved = await this.query(
              `UPDATE coupons SET state = 'RESERVED', payment_id = $2
                WHERE coupon_id = $1 AND state = 'AVAILABLE' AND payer_id = $3 AND expire_at > now() AND amount_minor >= $4
                RETURNING coupon_id`,
              [part.couponId, paymentId, p.payerId, part.amountMinor.toString()],
              tx,
            );
            if (reserved.length === 0) {
              throw new CashierError(
                'COUPON_NOT_AVAILABLE',
                `coupon ${part.couponId} is not available for this part`,
                {
                  field: `parts[${part.index}].coupon_id`,
                },
              );
            }
          }
          await this.query(
            `INSERT INTO payment_parts (payment_id, part_no, kind, amount_minor, pay_channel, channel_no, coupon_id, biz_code, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'PLANNED')`,
            [
              paymentId,
              part.index,
              part.kind,
              part.amountMinor.toString(),
              part.payChannel,
              part.channelNo,
              part.couponId ?? null,
              part.bizCode,
            ],
            tx,
          );
        }
        const created = await this.payment(paymentId, tx);
        if (!created) throw new Error('payment vanished after insert');
        return created;
      });
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) {
        // Lost a race: another Pay on the order inserted first (in flight, or the same request id).
        const replay = await this.paymentByRequest(p.orderId, p.requestId);
        if (replay) return replay;
        const other = await this.inFlightPayment(p.orderId);
        throw inFlightError(other?.paymentId ?? '', other?.state ?? 'UNKNOWN');
      }
      throw err;
    }
  }

  private async riskUsage(
    tx: EntityManager,
    merchantId: string | null,
    payerId: string,
    day: string,
    minute: string,
  ) {
    const params = [
      `merchant:${merchantId ?? '-'}`,
      `payer:${payerId}`,
      day,
      `payer-minute:${payerId}`,
      minute,
    ];
    // The rows are created first so that FOR UPDATE has something to lock: two first payments of a
    // day must not both read zero. Locks are taken in key order, one global order, against deadlocks.
    await this.query(
      `INSERT INTO risk_counters (counter_key, bucket) VALUES ($1, $3), ($2, $3), ($4, $5) ON CONFLICT DO NOTHING`,
      params,
      tx,
    );
    const rows = await this.query<{
      counter_key: string;
      bucket: string;
      amount_minor: string;
      count: number;
    }>(
      `SELECT counter_key, bucket, amount_minor::text, count FROM risk_counters
        WHERE (counter_key, bucket) IN (($1, $3), ($2, $3), ($4, $5)) ORDER BY counter_key, bucket FOR UPDATE`,
      params,
      tx,
    );
    const find = (key: string) => rows.find((r) => r.counter_key === key);
    return {
      merchantDailyMinor: BigInt(find(`merchant:${merchantId ?? '-'}`)?.amount_minor ?? '0'),
      payerDailyMinor: BigInt(find(`payer:${payerId}`)?.amount_minor ?? '0'),
      payerPaymentsThisMinute: find(`payer-minute:${payerId}`)?.count ?? 0,
    };
  }

  private async countRisk(
    tx: EntityManager,
    merchantId: string | null,
    payerId: string,
    day: string,
    minute: string | null,
    amountMinor: bigint,
    count: number,
  ): Promise<void> {
    const counters: [string, string][] = [
      [`merchant:${merchantId ?? '-'}`, day],
      [`payer:${payerId}`, day],
    ];
    if (minute !== null) counters.push([`payer-minute:${payerId}`, minute]);
    for (const [key, bucket] of counters) {
      await this.query(
        `INSERT INTO risk_counters (counter_key, bucket, amount_minor, count) VALUES ($1, $2, $3, $4)
         ON CONFLICT (counter_key, bucket) DO UPDATE
           SET amount_minor = risk_counters.amount_minor + EXCLUDED.amount_minor, count = risk_counters.count + EXCLUDED.count`,
        [key, bucket, amountMinor.toString(), count],
        tx,
      );
    }
  }

  /** Moves a payment between non-final states; false when another driver moved it first. */
  async movePayment(
    paymentId: string,
    from: readonly PaymentStateName[],
    to: 'PROCESSING' | 'CONFIRMING' | 'CANCELLING',
    failure?: { reason: string; message: string },
    m?: EntityManager,
  ): Promise<boolean> {
    const rows = await this.query(
      `UPDATE payments SET state = $3, updated_at = now(),
              failure_reason = COALESCE($4, failure_reason), failure_message = COALESCE($5, failure_message)
        WHERE payment_id = $1 AND state = ANY($2::text[]) RETURNING payment_id`,
      [paymentId, from, to, failure?.reason ?? null, failure?.message.slice(0, 512) ?? null],
      m,
    );
    return rows.length > 0;
  }

  /** Records the intent to close a waiting payment's channel part (the reason it will fail with). */
  async markAbandoned(paymentId: string): Promise<void> {
    await this.query(
      `UPDATE payments SET failure_reason = 'ABANDONED', updated_at = now() WHERE payment_id = $1 AND state = 'PROCESSING'`,
      [paymentId],
    );
  }

  async touchPayment(paymentId: string): Promise<void> {
    await this.query('UPDATE payments SET updated_at = now() WHERE payment_id = $1', [paymentId]);
  }

  async setPartState(paymentId: string, partNo: number, state: PartStateName): Promise<void> {
    await this.query('UPDATE payment_parts SET state = $3 WHERE payment_id = $1 AND part_no = $2', [
      paymentId,
      partNo,
      state,
    ]);
  }

  async recordChannelTxn(paymentId: string, partNo: number, txnId: string, payUrl: string): Promise<void> {
    await this.tx('record-channel-txn', async (tx) => {
      await this.query(
        'UPDATE payment_parts SET channel_txn_id = $3 WHERE payment_id = $1 AND part_no = $2 AND channel_txn_id IS NULL',
        [paymentId, partNo, txnId],
        tx,
      );
      await this.query(
        'UPDATE payments SET pay_url = $2, updated_at = now() WHERE payment_id = $1',
        [paymentId, payUrl],
        tx,
      );
    });
  }

  /**
   * CONFIRMING -> SUCCEEDED: the order is paid (its code becomes the paying
   * part's), the coupon used, the event and the merchant notification
   * written, all in one transaction.
   */
  async finishSucceeded(
    paymentId: string,
    orderCodeAfter: (p: PaymentRecord) => string,
    notifyBody: (o: OrderRecord, p: PaymentRecord) => string,
  ): Promise<void> {
    await this.tx('payment-succeeded', async (tx) => {
      const done = await this.query(
        `UPDATE payments SET state = 'SUCCEEDED', updated_at = now(), finished_at = now()
          WHERE payment_id = $1 AND state = 'CONFIRMING' RETURNING order_id::text`,
        [paymentId],
        tx,
      );
      const orderId = done[0]?.['order_id'];
      if (typeof orderId !== 'string') return;
      const payment = await this.payment(paymentId, tx);
      if (!payment) throw new Error('payment vanished');
      const bizCode = orderCodeAfter(payment);
      const rows = await this.query(
        `UPDATE orders SET state = 'PAID', paid_payment_id = $2, paid_at = now(), biz_code = $3
          WHERE order_id = $1 AND state = 'WAIT_PAY' RETURNING ${ORDER_COLUMNS}`,
        [orderId, paymentId, bizCode],
        tx,
      );
      // The order's close path refuses while a payment is in flight, so a paid payment always finds it unpaid.
      if (!rows[0]) throw new Error(`order ${orderId} was not WAIT_PAY when payment ${paymentId} succeeded`);
      const order = orderOf(rows[0]);
      await this.query(
        `UPDATE coupons SET state = 'USED' WHERE payment_id = $1 AND state = 'RESERVED'`,
        [paymentId],
        tx,
      );
      if (order.kind === 'PAYMENT') {
        await writeOutbox(tx, {
          subject: this.naming.subject('cashier', 'payment_succeeded'),
          payload: PaymentSucceeded.encode({
            order: toOrder(order),
            payment: toPayment(payment, order.currency),
            bizCode,
          }).finish(),
          headers: { 'Biz-Context': bizCode },
        });
      }
      if (order.notifyUrl !== '' && order.merchantId !== null) {
        await this.query(
          `INSERT INTO notifications (notification_id, order_id, merchant_id, url, body, state, next_attempt_at, biz_code)
           VALUES ($1, $2, $3, $4, $5, 'PENDING', now(), $6) ON CONFLICT (order_id) DO NOTHING`,
          [randomUUID(), orderId, order.merchantId, order.notifyUrl, notifyBody(order, payment), bizCode],
          tx,
        );
      }
    });
  }

  /** CANCELLING -> FAILED: the coupon is released and the risk counters given back. */
  async finishFailed(paymentId: string): Promise<void> {
    await this.tx('payment-failed', async (tx) => {
      const done = await this.query<{
        payer_id: string;
        risk_day: string;
        risk_merchant_id: string | null;
        amount_minor: string;
      }>(
        `UPDATE payments SET state = 'FAILED', updated_at = now(), finished_at = now()
          WHERE payment_id = $1 AND state = 'CANCELLING' RETURNING payer_id, risk_day, risk_merchant_id, amount_minor::text`,
        [paymentId],
        tx,
      );
      const row = done[0];
      if (!row) return;
      await this.query(
        `UPDATE coupons SET state = 'AVAILABLE', payment_id = NULL WHERE payment_id = $1 AND state = 'RESERVED'`,
        [paymentId],
        tx,
      );
      // Velocity counts attempts, so only the amounts are given back.
      await this.countRisk(
        tx,
        row.risk_merchant_id,
        row.payer_id,
        row.risk_day,
        null,
        -BigInt(row.amount_minor),
        0,
      );
    });
  }

  // ----------------------------------------------------------------- refunds

  private async refundsWhere(where: string, params: unknown[], m?: EntityManager): Promise<RefundRecord[]> {
    const rows = await this.query(`SELECT ${REFUND_COLUMNS} FROM refunds WHERE ${where}`, params, m);
    const ids = rows.map((r) => String(r['refund_id']));
    const partRows =
      ids.length === 0
        ? []
        : await this.query(
            `SELECT ${REFUND_PART_COLUMNS} FROM refund_parts WHERE refund_id = ANY($1::uuid[]) ORDER BY refund_id, part_no`,
            [ids],
            m,
          );
    return rows.map((r) =>
      refundOf(
        r,
        partRows.filter((p) => String(p['refund_id']) === String(r['refund_id'])).map(refundPartOf),
      ),
    );
  }

  async refund(refundId: string, m?: EntityManager): Promise<RefundRecord | undefined> {
    return (await this.refundsWhere('refund_id = $1', [refundId], m))[0];
  }

  async refundByMerchantNo(merchantId: string, merchantRefundNo: string): Promise<RefundRecord | undefined> {
    return (
      await this.refundsWhere('merchant_id = $1 AND merchant_refund_no = $2', [merchantId, merchantRefundNo])
    )[0];
  }

  async refundsOfOrder(orderId: string): Promise<RefundRecord[]> {
    return this.refundsWhere('order_id = $1 ORDER BY created_at, refund_id', [orderId]);
  }

  async idleRefunds(idleMs: number): Promise<RefundRecord[]> {
    return this.refundsWhere(
      `state = 'PROCESSING' AND updated_at <= now() - ($1 || ' milliseconds')::interval
       AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.flow_kind = 'REFUND' AND e.flow_id = refunds.refund_id::text AND e.state = 'OPEN')
       ORDER BY updated_at LIMIT ${SCAN_BATCH_MAX}`,
      [String(idleMs)],
    );
  }

  async refundIdByTxn(txnId: string, m?: EntityManager): Promise<string | undefined> {
    const rows = await this.query<{ refund_id: string }>(
      'SELECT refund_id::text FROM refund_parts WHERE channel_txn_id = $1',
      [txnId],
      m,
    );
    return rows[0]?.refund_id;
  }

  /**
   * Records a refund (PROCESSING) under the order's lock, allocating it over
   * the paid payment's parts; the parts' refunded amounts count it at once,
   * so concurrent refunds never exceed what a part paid.
   */
  // eslint-disable-next-line max-lines-per-function -- legacy store method, being split by aggregate onto the unit of work
  async startRefund(r: NewRefund): Promise<RefundRecord> {
    try {
      return await this.tx('start-refund', async (tx) => {
        const locked = await this.query(
          `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1 FOR UPDATE`,
          [r.orderId],
          tx,
        );
        const order = locked[0] ? orderOf(locked[0]) : undefined;
        if (!order)
          throw new CashierError('ORDER_NOT_FOUND', `order ${r.orderId} not found`, { field: 'order_id' });
        if (
          order.state !== 'PAID' ||
          order.paidPaymentId === null ||
          order.merchantId === null ||
          order.kind !== 'PAYMENT'
        ) {
          throw new CashierError(
            'ORDER_NOT_PAID',
            `order is ${order.state}; only a paid payment order can be refunded`,
            {
              metadata: { order_state: order.state },
            },
          );
        }
        const payment = await this.payment(order.paidPaymentId, tx);
        if (!payment) throw new Error('paid payment vanished');
        const split = r.allocate(
          payment.parts.map((p) => ({ paidMinor: p.amountMinor, refundedMinor: p.refundedMinor })),
        );
        const refundId = randomUUID();
        await this.query(
          `INSERT INTO refunds (refund_id, order_id, payment_id, merchant_id, merchant_refund_no, request_hash, amount_minor,
             currency, state, reason, biz_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'PROCESSING', $9, $10)`,
          [
            refundId,
            order.orderId,
            payment.paymentId,
            order.merchantId,
            r.merchantRefundNo,
            r.requestHash,
            r.amountMinor.toString(),
            order.currency,
            r.reason,
            r.refundBizCode,
          ],
          tx,
        );
        for (const [i, part] of payment.parts.entries()) {
          const amount = split[i] ?? 0n;
          if (amount === 0n) continue;
          await this.query(
            `INSERT INTO refund_parts (refund_id, part_no, kind, amount_minor, biz_code) VALUES ($1, $2, $3, $4, $5)`,
            [refundId, part.partNo, part.kind, amount.toString(), r.refundCodeOf(part.bizCode)],
            tx,
          );
          await this.query(
            'UPDATE payment_parts SET refunded_minor = refunded_minor + $3 WHERE payment_id = $1 AND part_no = $2',
            [payment.paymentId, part.partNo, amount.toString()],
            tx,
          );
        }
        const created = await this.refund(refundId, tx);
        if (!created) throw new Error('refund vanished after insert');
        return created;
      });
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) {
        const order = await this.order(r.orderId);
        const existing = order?.merchantId
          ? await this.refundByMerchantNo(order.merchantId, r.merchantRefundNo)
          : undefined;
        if (existing) return existing;
      }
      throw err;
    }
  }

  async recordRefundTxn(
    refundId: string,
    partNo: number,
    txnId: string,
    state: 'PENDING' | 'SUCCESS' | 'FAIL',
  ): Promise<void> {
    await this.query(
      `UPDATE refund_parts SET channel_txn_id = COALESCE(channel_txn_id, $3), channel_state = $4
        WHERE refund_id = $1 AND part_no = $2 AND channel_state IN ('NONE', 'PENDING')`,
      [refundId, partNo, txnId, state],
    );
    await this.query('UPDATE refunds SET updated_at = now() WHERE refund_id = $1', [refundId]);
  }

  async setRefundChannelState(txnId: string, state: 'SUCCESS' | 'FAIL', m?: EntityManager): Promise<void> {
    await this.query(
      `UPDATE refund_parts SET channel_state = $2 WHERE channel_txn_id = $1 AND channel_state IN ('NONE', 'PENDING')`,
      [txnId, state],
      m,
    );
  }

  async markRefundPartDone(refundId: string, partNo: number): Promise<void> {
    await this.query('UPDATE refund_parts SET done = true WHERE refund_id = $1 AND part_no = $2', [
      refundId,
      partNo,
    ]);
  }

  async touchRefund(refundId: string): Promise<void> {
    await this.query('UPDATE refunds SET updated_at = now() WHERE refund_id = $1', [refundId]);
  }

  /** PROCESSING -> SUCCEEDED: the order's refunded amount grows (REFUNDED when whole), with the event. */
  async finishRefundSucceeded(refundId: string): Promise<void> {
    await this.tx('refund-succeeded', async (tx) => {
      const done = await this.query(
        `UPDATE refunds SET state = 'SUCCEEDED', updated_at = now(), finished_at = now()
          WHERE refund_id = $1 AND state = 'PROCESSING' RETURNING order_id::text, amount_minor::text`,
        [refundId],
        tx,
      );
      const row = done[0];
      if (!row) return;
      const orderId = String(row['order_id']);
      const locked = await this.query(
        `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1 FOR UPDATE`,
        [orderId],
        tx,
      );
      const order = locked[0] ? orderOf(locked[0]) : undefined;
      if (!order) throw new Error('order vanished');
      const refunded = order.refundedMinor + BigInt(String(row['amount_minor']));
      await this.query(
        'UPDATE orders SET refunded_minor = $2, state = $3 WHERE order_id = $1',
        [orderId, refunded.toString(), orderStateAfterRefund(order.amountMinor, refunded)],
        tx,
      );
      const refund = await this.refund(refundId, tx);
      if (!refund) throw new Error('refund vanished');
      await writeOutbox(tx, {
        subject: this.naming.subject('cashier', 'refund_succeeded'),
        payload: RefundSucceeded.encode({
          refund: toRefund(refund),
          merchantId: refund.merchantId,
          bizCode: refund.bizCode,
        }).finish(),
        headers: { 'Biz-Context': refund.bizCode },
      });
    });
  }

  /** PROCESSING -> FAILED (the channel refused): the parts' refundable amounts come back. */
  async finishRefundFailed(refundId: string, reason: string): Promise<void> {
    await this.tx('refund-failed', async (tx) => {
      const done = await this.query(
        `UPDATE refunds SET state = 'FAILED', failure_reason = $2, updated_at = now(), finished_at = now()
          WHERE refund_id = $1 AND state = 'PROCESSING' RETURNING payment_id::text`,
        [refundId, reason],
        tx,
      );
      const paymentId = done[0]?.['payment_id'];
      if (typeof paymentId !== 'string') return;
      await this.query(
        `UPDATE payment_parts pp SET refunded_minor = pp.refunded_minor - rp.amount_minor
           FROM refund_parts rp WHERE rp.refund_id = $1 AND pp.payment_id = $2 AND pp.part_no = rp.part_no`,
        [refundId, paymentId],
        tx,
      );
    });
  }

  async processingRefundCount(orderId: string): Promise<number> {
    const rows = await this.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM refunds WHERE order_id = $1 AND state = 'PROCESSING'`,
      [orderId],
    );
    return Number(rows[0]?.n ?? '0');
  }

  // ---------------------------------------------------------- escrow release

  /** Marks an escrow order's receipt confirmed (refused while a refund is in flight); returns it. */
  async confirmReceipt(orderId: string): Promise<OrderRecord> {
    return this.tx('confirm-receipt', async (tx) => {
      const locked = await this.query(
        `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1 FOR UPDATE`,
        [orderId],
        tx,
      );
      const order = locked[0] ? orderOf(locked[0]) : undefined;
      if (!order)
        throw new CashierError('ORDER_NOT_FOUND', `order ${orderId} not found`, { field: 'order_id' });
      if (order.bizMode !== 'ESCROW')
        throw new CashierError('NOT_ESCROW', 'the order is not an escrow order');
      if (order.receiptConfirmed) return order;
      if (order.state !== 'PAID' && order.state !== 'REFUNDED') {
        throw new CashierError('ORDER_NOT_PAID', `order is ${order.state}`, {
          metadata: { order_state: order.state },
        });
      }
      const busy = await this.query(
        `SELECT 1 FROM refunds WHERE order_id = $1 AND state = 'PROCESSING'`,
        [orderId],
        tx,
      );
      if (busy.length > 0)
        throw new CashierError('REFUND_IN_PROGRESS', 'a refund of the order is in progress');
      const rows = await this.query(
        `UPDATE orders SET receipt_confirmed = true WHERE order_id = $1 RETURNING ${ORDER_COLUMNS}`,
        [orderId],
        tx,
      );
      if (!rows[0]) throw new Error('order vanished');
      return orderOf(rows[0]);
    });
  }

  async markReleasePosted(orderId: string): Promise<void> {
    await this.query('UPDATE orders SET release_posted = true WHERE order_id = $1', [orderId]);
  }

  async unpostedReleases(): Promise<string[]> {
    const rows = await this.query<{ order_id: string }>(
      `SELECT order_id::text FROM orders WHERE receipt_confirmed AND NOT release_posted LIMIT ${SCAN_BATCH_MAX}`,
    );
    return rows.map((r) => r.order_id);
  }

  // ------------------------------------------------------------- withdrawals

  async withdrawal(withdrawalId: string): Promise<WithdrawalRecord | undefined> {
    const rows = await this.query(`SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals WHERE withdrawal_id = $1`, [
      withdrawalId,
    ]);
    return rows[0] ? withdrawalOf(rows[0]) : undefined;
  }

  async withdrawalByRequest(requestId: string): Promise<WithdrawalRecord | undefined> {
    const rows = await this.query(`SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals WHERE request_id = $1`, [
      requestId,
    ]);
    return rows[0] ? withdrawalOf(rows[0]) : undefined;
  }

  async withdrawalIdByTxn(txnId: string, m?: EntityManager): Promise<string | undefined> {
    const rows = await this.query<{ withdrawal_id: string }>(
      'SELECT withdrawal_id::text FROM withdrawals WHERE channel_txn_id = $1',
      [txnId],
      m,
    );
    return rows[0]?.withdrawal_id;
  }

  async insertWithdrawal(
    w: Omit<
      WithdrawalRecord,
      'withdrawalId' | 'state' | 'channelTxnId' | 'failureReason' | 'createdAt' | 'updatedAt' | 'finishedAt'
    >,
  ): Promise<WithdrawalRecord> {
    const rows = await this.query(
      `INSERT INTO withdrawals (withdrawal_id, request_id, request_hash, payer_id, amount_minor, currency, account_no,
         account_name, bank_code, state, channel_no, biz_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'TRYING', $10, $11)
       ON CONFLICT (request_id) DO NOTHING RETURNING ${WITHDRAWAL_COLUMNS}`,
      [
        randomUUID(),
        w.requestId,
        w.requestHash,
        w.payerId,
        w.amountMinor.toString(),
        w.currency,
        w.accountNo,
        w.accountName,
        w.bankCode,
        w.channelNo,
        w.bizCode,
      ],
    );
    if (rows[0]) return withdrawalOf(rows[0]);
    const existing = await this.withdrawalByRequest(w.requestId);
    if (!existing) throw new Error('withdrawal vanished after a conflicting insert');
    return existing;
  }

  async moveWithdrawal(
    withdrawalId: string,
    from: readonly WithdrawalStateName[],
    to: WithdrawalStateName,
    failureReason?: string,
    m?: EntityManager,
  ): Promise<boolean> {
    const final = to === 'SUCCEEDED' || to === 'FAILED';
    const rows = await this.query(
      `UPDATE withdrawals SET state = $3, updated_at = now(), failure_reason = COALESCE($4, failure_reason)
              ${final ? ', finished_at = now()' : ''}
        WHERE withdrawal_id = $1 AND state = ANY($2::text[]) RETURNING withdrawal_id`,
      [withdrawalId, from, to, failureReason ?? null],
      m,
    );
    return rows.length > 0;
  }

  async recordPayoutTxn(withdrawalId: string, txnId: string): Promise<void> {
    await this.query(
      'UPDATE withdrawals SET channel_txn_id = COALESCE(channel_txn_id, $2), updated_at = now() WHERE withdrawal_id = $1',
      [withdrawalId, txnId],
    );
  }

  async touchWithdrawal(withdrawalId: string): Promise<void> {
    await this.query('UPDATE withdrawals SET updated_at = now() WHERE withdrawal_id = $1', [withdrawalId]);
  }

  async idleWithdrawals(idleMs: number): Promise<WithdrawalRecord[]> {
    const rows = await this.query(
      `SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals
        WHERE state NOT IN ('SUCCEEDED', 'FAILED') AND updated_at <= now() - ($1 || ' milliseconds')::interval
          AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.flow_kind = 'WITHDRAWAL' AND e.flow_id = withdrawals.withdrawal_id::text AND e.state = 'OPEN')
        ORDER BY updated_at LIMIT ${SCAN_BATCH_MAX}`,
      [String(idleMs)],
    );
    return rows.map(withdrawalOf);
  }

  // ----------------------------------------------------------------- coupons

  async insertCoupon(c: {
    requestId: string;
    requestHash: string;
    payerId: string;
    amountMinor: bigint;
    currency: string;
    expireAt: Date;
  }): Promise<CouponRecord> {
    const rows = await this.query(
      `INSERT INTO coupons (coupon_id, request_id, request_hash, payer_id, amount_minor, currency, state, expire_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'AVAILABLE', $7) ON CONFLICT (request_id) DO NOTHING RETURNING ${COUPON_COLUMNS}`,
      [randomUUID(), c.requestId, c.requestHash, c.payerId, c.amountMinor.toString(), c.currency, c.expireAt],
    );
    if (rows[0]) return couponOf(rows[0]);
    const existing = await this.query(`SELECT ${COUPON_COLUMNS} FROM coupons WHERE request_id = $1`, [
      c.requestId,
    ]);
    if (!existing[0]) throw new Error('coupon vanished after a conflicting insert');
    return couponOf(existing[0]);
  }

  async coupon(couponId: string): Promise<CouponRecord | undefined> {
    const rows = await this.query(`SELECT ${COUPON_COLUMNS} FROM coupons WHERE coupon_id = $1`, [couponId]);
    return rows[0] ? couponOf(rows[0]) : undefined;
  }

  async availableCoupons(payerId: string): Promise<CouponRecord[]> {
    const rows = await this.query(
      `SELECT ${COUPON_COLUMNS} FROM coupons WHERE payer_id = $1 AND state = 'AVAILABLE' AND expire_at > now()
        ORDER BY expire_at LIMIT 100`,
      [payerId],
    );
    return rows.map(couponOf);
  }

  // ----------------------------------------------------------- notifications

  /** Claims due notifications: each is leased for `leaseMs` so another worker skips it meanwhile. */
  async claimNotifications(limit: number, leaseMs: number): Promise<NotificationRecord[]> {
    const rows = await this.query(
      `UPDATE notifications n SET next_attempt_at = now() + ($2 || ' milliseconds')::interval
         FROM merchants m
        WHERE n.merchant_id = m.merchant_id AND n.notification_id IN (
          SELECT notification_id FROM notifications WHERE state = 'PENDING' AND next_attempt_at <= now()
           ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING n.notification_id::text, n.order_id::text, n.merchant_id, n.url, n.body, n.attempts, n.biz_code, m.notify_key`,
      [limit, String(leaseMs)],
    );
    return rows.map((r) => ({
      notificationId: String(r['notification_id']),
      orderId: String(r['order_id']),
      merchantId: String(r['merchant_id']),
      url: String(r['url']),
      body: String(r['body']),
      attempts: Number(r['attempts']),
      bizCode: String(r['biz_code']),
      notifyKey: String(r['notify_key']),
    }));
  }

  async recordNotification(
    notificationId: string,
    outcome: { delivered: boolean; status: number | null; error: string; nextDelayMs: number | undefined },
  ): Promise<void> {
    const state = outcome.delivered ? 'DELIVERED' : outcome.nextDelayMs === undefined ? 'GAVE_UP' : 'PENDING';
    await this.query(
      `UPDATE notifications SET attempts = attempts + 1, state = $2, last_status = $3, last_error = $4,
              next_attempt_at = now() + ($5 || ' milliseconds')::interval,
              delivered_at = CASE WHEN $2 = 'DELIVERED' THEN now() ELSE delivered_at END
        WHERE notification_id = $1`,
      [notificationId, state, outcome.status, outcome.error.slice(0, 512), String(outcome.nextDelayMs ?? 0)],
    );
  }

  // -------------------------------------------------------------- exceptions

  async openException(e: {
    flowKind: ExceptionRecord['flowKind'];
    flowId: string;
    bizCode: string;
    detail: string;
  }): Promise<boolean> {
    const rows = await this.query(
      `INSERT INTO exceptions (exception_id, flow_kind, flow_id, biz_code, detail, state) VALUES ($1, $2, $3, $4, $5, 'OPEN')
       ON CONFLICT (flow_kind, flow_id) DO NOTHING RETURNING exception_id`,
      [randomUUID(), e.flowKind, e.flowId, e.bizCode, e.detail.slice(0, 1000)],
    );
    return rows.length > 0;
  }

  async exceptions(includeResolved: boolean, limit: number): Promise<ExceptionRecord[]> {
    const rows = await this.query(
      `SELECT ${EXCEPTION_COLUMNS} FROM exceptions ${includeResolved ? '' : `WHERE state = 'OPEN'`}
        ORDER BY created_at, exception_id LIMIT $1`,
      [limit],
    );
    return rows.map(exceptionOf);
  }

  async exception(exceptionId: string): Promise<ExceptionRecord | undefined> {
    const rows = await this.query(`SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE exception_id = $1`, [
      exceptionId,
    ]);
    return rows[0] ? exceptionOf(rows[0]) : undefined;
  }

  /**
   * Records the operator's decision and applies it to the flow, in one
   * transaction: a payment or withdrawal moves to CONFIRMING / CANCELLING, a
   * refund's channel part to SUCCESS / FAIL. The drivers do the rest.
   */
  async resolveException(
    exceptionId: string,
    resolution: 'SUCCEEDED' | 'FAILED',
    operator: string,
    reason: string,
  ): Promise<ExceptionRecord> {
    return this.tx('resolve-exception', async (tx) => {
      const rows = await this.query(
        `SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE exception_id = $1 FOR UPDATE`,
        [exceptionId],
        tx,
      );
      const current = rows[0] ? exceptionOf(rows[0]) : undefined;
      if (!current)
        throw new CashierError('EXCEPTION_NOT_FOUND', `exception ${exceptionId} not found`, {
          field: 'exception_id',
        });
      if (current.state === 'RESOLVED') {
        if (current.resolution === resolution) return current;
        throw new CashierError(
          'EXCEPTION_ALREADY_RESOLVED',
          `exception was resolved as ${current.resolution ?? ''}`,
        );
      }
      const succeeded = resolution === 'SUCCEEDED';
      if (current.flowKind === 'PAYMENT') {
        await this.movePayment(
          current.flowId,
          ['TRYING', 'PROCESSING'],
          succeeded ? 'CONFIRMING' : 'CANCELLING',
          succeeded ? undefined : { reason: 'RESOLVED_FAILED', message: reason },
          tx,
        );
      } else if (current.flowKind === 'WITHDRAWAL') {
        await this.moveWithdrawal(
          current.flowId,
          ['PROCESSING'],
          succeeded ? 'CONFIRMING' : 'CANCELLING',
          succeeded ? undefined : 'RESOLVED_FAILED',
          tx,
        );
      } else {
        await this.query(
          `UPDATE refund_parts SET channel_state = $2 WHERE refund_id = $1 AND kind = 'CHANNEL' AND channel_state IN ('NONE', 'PENDING')`,
          [current.flowId, succeeded ? 'SUCCESS' : 'FAIL'],
          tx,
        );
      }
      const updated = await this.query(
        `UPDATE exceptions SET state = 'RESOLVED', resolution = $2, operator = $3, reason = $4, resolved_at = now()
          WHERE exception_id = $1 RETURNING ${EXCEPTION_COLUMNS}`,
        [exceptionId, resolution, operator, reason],
        tx,
      );
      if (!updated[0]) throw new Error('exception vanished');
      return exceptionOf(updated[0]);
    });
  }

  // ------------------------------------------------------------- idempotency

  /** The resource a request id already produced for an RPC, checking the payload hash. */
  async idempotent(rpc: string, requestId: string, requestHash: string): Promise<string | undefined> {
    const rows = await this.query<{ request_hash: string; resource_id: string }>(
      'SELECT request_hash, resource_id FROM idempotency WHERE rpc = $1 AND request_id = $2',
      [rpc, requestId],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.request_hash !== requestHash) {
      throw new CashierError(
        'IDEMPOTENCY_KEY_REUSED',
        `request_id ${requestId} was used with another payload`,
        {
          field: 'request_id',
        },
      );
    }
    return row.resource_id;
  }

  async remember(rpc: string, requestId: string, requestHash: string, resourceId: string): Promise<void> {
    await this.query(
      'INSERT INTO idempotency (rpc, request_id, request_hash, resource_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [rpc, requestId, requestHash, resourceId],
    );
  }
}

function inFlightError(paymentId: string, state: string): CashierError {
  return new CashierError('PAYMENT_IN_FLIGHT', `payment ${paymentId} of the order is ${state}`, {
    metadata: { payment_id: paymentId, payment_state: state },
  });
}

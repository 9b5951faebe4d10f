/**
 * Payments and their parts. A payment's state and each part's state change
 * only through the domain tables (PAYMENT_TRANSITIONS, PART_TRANSITIONS); the
 * partial unique indexes allow one payment in flight and one success per
 * order, so a concurrent start loses at the insert.
 */
import { fromStatesOf } from '@paycore/platform/domain';
import { SQL_NOW, type SqlTx } from '@paycore/platform';
import type { PartStateName, PaymentStateName } from '../../domain/model';
import { PART_TRANSITIONS } from '../../domain/states';
import type { Moved, NewPayment, PaymentChange, PaymentRepo } from '../../application/ports';
import type { PaymentRecord } from '../../application/records';
import { PART_COLUMNS, partOf, PAYMENT_COLUMNS, paymentOf } from './rows';
import { PAYMENT_NOT_FINAL, PAYMENTS, type Queryable } from './sql';

/** Payments matching `where` with their parts, in one statement. */
export async function selectPayments(
  q: Queryable,
  where: string,
  params: readonly unknown[],
): Promise<PaymentRecord[]> {
  const rows = await q.query(
    `SELECT ${PAYMENT_COLUMNS},
       (SELECT coalesce(json_agg(pp ORDER BY pp.part_no), '[]'::json) FROM (
          SELECT ${PART_COLUMNS} FROM payment_parts WHERE payment_parts.payment_id = payments.payment_id) pp) AS parts
     FROM payments WHERE ${where}`,
    params,
  );
  return rows.map((r) => paymentOf(r, (r['parts'] as Record<string, unknown>[]).map(partOf)));
}

export class PgPayments implements PaymentRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(p: NewPayment): Promise<PaymentRecord> {
    const initial: PaymentStateName = 'TRYING';
    const planned: PartStateName = 'PLANNED';
    // One statement: the payment and all its parts.
    const rows = await this.sql.query(
      `WITH payment AS (
         INSERT INTO payments (payment_id, order_id, request_id, request_hash, payer_id, amount_minor, state,
           risk_day, risk_merchant_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${PAYMENT_COLUMNS}
       ), parts AS (
         INSERT INTO payment_parts (payment_id, part_no, kind, amount_minor, pay_channel, channel_no, coupon_id,
           biz_code, state, sv_asset, sv_quantity, sv_consumption_type)
         SELECT $1, p.part_no, p.kind, p.amount_minor, p.pay_channel, p.channel_no, p.coupon_id, p.biz_code, $10,
             p.sv_asset, p.sv_quantity, p.sv_consumption_type
           FROM jsonb_to_recordset($11::jsonb) AS p(part_no int, kind text, amount_minor bigint, pay_channel text,
             channel_no text, coupon_id uuid, biz_code text, sv_asset text, sv_quantity bigint,
             sv_consumption_type text)
         RETURNING ${PART_COLUMNS}
       )
       SELECT payment.*, (SELECT json_agg(parts ORDER BY parts.part_no) FROM parts) AS parts FROM payment`,
      [
        p.paymentId,
        p.orderId,
        p.requestId,
        p.requestHash,
        p.payerId,
        p.amountMinor,
        initial,
        p.riskDay,
        p.riskMerchantId,
        planned,
        JSON.stringify(
          p.parts.map((part) => ({
            part_no: part.index,
            kind: part.kind,
            amount_minor: part.amountMinor.toString(),
            pay_channel: part.payChannel,
            channel_no: part.channelNo,
            coupon_id: part.couponId ?? null,
            biz_code: part.bizCode,
            sv_asset: part.storedValue?.asset ?? null,
            sv_quantity: part.storedValue?.quantity.toString() ?? null,
            sv_consumption_type: part.storedValue?.consumptionType ?? null,
          })),
        ),
      ],
    );
    const row = rows[0];
    if (!row) throw new Error(`payment ${p.paymentId} was not inserted`);
    return paymentOf(row, (row['parts'] as Record<string, unknown>[]).map(partOf));
  }

  async byId(paymentId: string): Promise<PaymentRecord | undefined> {
    return (await selectPayments(this.sql, 'payment_id = $1', [paymentId]))[0];
  }

  async inFlightOf(orderId: string): Promise<{ paymentId: string; state: PaymentStateName } | undefined> {
    const rows = await this.sql.query<{ payment_id: string; state: PaymentStateName }>(
      `SELECT payment_id::text, state FROM payments WHERE order_id = $1 AND ${PAYMENT_NOT_FINAL}`,
      [orderId],
    );
    const row = rows[0];
    return row ? { paymentId: row.payment_id, state: row.state } : undefined;
  }

  moveTo(paymentId: string, to: PaymentStateName, set: PaymentChange = {}): Promise<Moved<PaymentStateName>> {
    const columns: Record<string, unknown> = { updated_at: SQL_NOW };
    if (set.failureReason !== undefined) columns['failure_reason'] = set.failureReason;
    if (set.failureMessage !== undefined) columns['failure_message'] = set.failureMessage.slice(0, 512);
    if (set.finished !== undefined) columns['finished_at'] = set.finished === true ? SQL_NOW : set.finished;
    return this.sql.transition(PAYMENTS, paymentId, to, columns);
  }

  /** A part's state: a guarded update whose from-states come out of PART_TRANSITIONS. */
  async movePart(paymentId: string, partNo: number, to: PartStateName): Promise<boolean> {
    const rows = await this.sql.query(
      `UPDATE payment_parts SET state = $3 WHERE payment_id = $1 AND part_no = $2 AND state = ANY($4::text[])
       RETURNING part_no`,
      [paymentId, partNo, to, fromStatesOf(PART_TRANSITIONS, to)],
    );
    return rows.length > 0;
  }

  async recordChannelTxn(paymentId: string, partNo: number, txnId: string, payUrl: string): Promise<void> {
    await this.sql.query(
      `WITH part AS (
         UPDATE payment_parts SET channel_txn_id = $3
          WHERE payment_id = $1 AND part_no = $2 AND channel_txn_id IS NULL RETURNING 1)
       UPDATE payments SET pay_url = $4, updated_at = now() WHERE payment_id = $1`,
      [paymentId, partNo, txnId, payUrl],
    );
  }

  async nextCloseAttempt(paymentId: string): Promise<number> {
    const rows = await this.sql.query<{ close_attempts: number }>(
      `UPDATE payments SET close_attempts = close_attempts + 1, updated_at = now() WHERE payment_id = $1
       RETURNING close_attempts`,
      [paymentId],
    );
    const row = rows[0];
    if (!row) throw new Error(`payment ${paymentId} vanished`);
    return row.close_attempts;
  }

  async markAbandoned(paymentId: string): Promise<void> {
    await this.sql.query(
      `UPDATE payments SET failure_reason = 'ABANDONED', updated_at = now() WHERE payment_id = $1 AND ${PAYMENT_NOT_FINAL}`,
      [paymentId],
    );
  }

  async touch(paymentId: string): Promise<void> {
    await this.sql.query('UPDATE payments SET updated_at = now() WHERE payment_id = $1', [paymentId]);
  }

  async addPartRefunded(paymentId: string, partNo: number, deltaMinor: bigint): Promise<void> {
    await this.sql.query(
      'UPDATE payment_parts SET refunded_minor = refunded_minor + $3 WHERE payment_id = $1 AND part_no = $2',
      [paymentId, partNo, deltaMinor],
    );
  }

  async idByTxn(txnId: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ payment_id: string }>(
      'SELECT payment_id::text FROM payment_parts WHERE channel_txn_id = $1',
      [txnId],
    );
    return rows[0]?.payment_id;
  }
}

/** Refunds and their parts; the channel part's progress changes only through REFUND_CHANNEL_TRANSITIONS. */
import { fromStatesOf } from '@paycore/platform/domain';
import { SQL_NOW, type SqlTx } from '@paycore/platform';
import type { RefundStateName } from '../../domain/model';
import { REFUND_CHANNEL_TRANSITIONS, type RefundChannelStateName } from '../../domain/states';
import type { Moved, NewRefund, RefundRepo } from '../../application/ports';
import type { RefundRecord } from '../../application/records';
import { REFUND_COLUMNS, REFUND_PART_COLUMNS, refundOf, refundPartOf } from './rows';
import { REFUND_NOT_FINAL, REFUNDS, type Queryable } from './sql';

export async function selectRefunds(
  q: Queryable,
  where: string,
  params: readonly unknown[],
): Promise<RefundRecord[]> {
  const rows = await q.query(
    `SELECT ${REFUND_COLUMNS},
       (SELECT coalesce(json_agg(rp ORDER BY rp.part_no), '[]'::json) FROM (
          SELECT ${REFUND_PART_COLUMNS} FROM refund_parts WHERE refund_parts.refund_id = refunds.refund_id) rp) AS parts
     FROM refunds WHERE ${where}`,
    params,
  );
  return rows.map((r) => refundOf(r, (r['parts'] as Record<string, unknown>[]).map(refundPartOf)));
}

export class PgRefunds implements RefundRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(r: NewRefund): Promise<RefundRecord | undefined> {
    const initial: RefundStateName = 'PROCESSING';
    const none: RefundChannelStateName = 'NONE';
    const rows = await this.sql.query<{ refund_id: string }>(
      `WITH refund AS (
         INSERT INTO refunds (refund_id, order_id, payment_id, merchant_id, merchant_refund_no, request_hash,
           amount_minor, currency, state, reason, biz_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (merchant_id, merchant_refund_no) DO NOTHING RETURNING refund_id
       ), parts AS (
         INSERT INTO refund_parts (refund_id, part_no, kind, amount_minor, biz_code, channel_state, sv_quantity)
         SELECT refund.refund_id, p.part_no, p.kind, p.amount_minor, p.biz_code, $12, p.sv_quantity
           FROM refund, jsonb_to_recordset($13::jsonb) AS p(part_no int, kind text, amount_minor bigint, biz_code text,
             sv_quantity bigint)
         RETURNING 1
       )
       SELECT refund_id::text FROM refund`,
      [
        r.refundId,
        r.orderId,
        r.paymentId,
        r.merchantId,
        r.merchantRefundNo,
        r.requestHash,
        r.amountMinor,
        r.currency,
        initial,
        r.reason,
        r.bizCode,
        none,
        JSON.stringify(
          r.parts.map((p) => ({
            part_no: p.partNo,
            kind: p.kind,
            amount_minor: p.amountMinor.toString(),
            biz_code: p.bizCode,
            sv_quantity: p.storedValueQuantity?.toString() ?? null,
          })),
        ),
      ],
    );
    if (rows.length === 0) return undefined;
    return this.byId(r.refundId);
  }

  async byId(refundId: string): Promise<RefundRecord | undefined> {
    return (await selectRefunds(this.sql, 'refund_id = $1', [refundId]))[0];
  }

  async byMerchantNo(merchantId: string, merchantRefundNo: string): Promise<RefundRecord | undefined> {
    return (
      await selectRefunds(this.sql, 'merchant_id = $1 AND merchant_refund_no = $2', [
        merchantId,
        merchantRefundNo,
      ])
    )[0];
  }

  async processingOf(orderId: string): Promise<number> {
    const rows = await this.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM refunds WHERE order_id = $1 AND ${REFUND_NOT_FINAL}`,
      [orderId],
    );
    return rows[0]?.n ?? 0;
  }

  moveTo(refundId: string, to: RefundStateName, failureReason?: string): Promise<Moved<RefundStateName>> {
    const columns: Record<string, unknown> = { updated_at: SQL_NOW, finished_at: SQL_NOW };
    if (failureReason !== undefined) columns['failure_reason'] = failureReason;
    return this.sql.transition(REFUNDS, refundId, to, columns);
  }

  async moveChannel(
    refundId: string,
    partNo: number,
    to: RefundChannelStateName,
    txnId?: string,
  ): Promise<boolean> {
    const rows = await this.sql.query(
      `WITH part AS (
         UPDATE refund_parts SET channel_state = $3, channel_txn_id = COALESCE(channel_txn_id, $5)
          WHERE refund_id = $1 AND part_no = $2 AND channel_state = ANY($4::text[]) RETURNING 1)
       UPDATE refunds SET updated_at = now() WHERE refund_id = $1 AND EXISTS (SELECT 1 FROM part)
       RETURNING 1`,
      [refundId, partNo, to, fromStatesOf(REFUND_CHANNEL_TRANSITIONS, to), txnId ?? null],
    );
    return rows.length > 0;
  }

  async byTxn(txnId: string): Promise<{ refundId: string; partNo: number } | undefined> {
    const rows = await this.sql.query<{ refund_id: string; part_no: number }>(
      'SELECT refund_id::text, part_no FROM refund_parts WHERE channel_txn_id = $1',
      [txnId],
    );
    const row = rows[0];
    return row ? { refundId: row.refund_id, partNo: row.part_no } : undefined;
  }

  async markPartDone(refundId: string, partNo: number): Promise<void> {
    await this.sql.query('UPDATE refund_parts SET done = true WHERE refund_id = $1 AND part_no = $2', [
      refundId,
      partNo,
    ]);
  }

  async touch(refundId: string): Promise<void> {
    await this.sql.query('UPDATE refunds SET updated_at = now() WHERE refund_id = $1', [refundId]);
  }
}

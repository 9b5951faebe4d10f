/** Coupons: issue, reads and the lifecycle of COUPON_TRANSITIONS (rules are the application's). */
import type { SqlTx } from '@paycore/platform';
import type { CouponStateName } from '../../domain/states';
import type { CouponRepo, Moved } from '../../application/ports';
import type { CouponRecord } from '../../application/records';
import { COUPON_COLUMNS, couponOf } from './rows';
import { COUPONS } from './sql';

export class PgCoupons implements CouponRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(c: Omit<CouponRecord, 'state' | 'paymentId'> & { requestId: string }): Promise<CouponRecord> {
    const initial: CouponStateName = 'AVAILABLE';
    const rows = await this.sql.query(
      `INSERT INTO coupons (coupon_id, request_id, request_hash, payer_id, amount_minor, currency, state, expire_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COUPON_COLUMNS}`,
      [c.couponId, c.requestId, c.requestHash, c.payerId, c.amountMinor, c.currency, initial, c.expireAt],
    );
    if (!rows[0]) throw new Error('coupon was not inserted');
    return couponOf(rows[0]);
  }

  async byId(couponId: string, lock?: 'FOR UPDATE'): Promise<CouponRecord | undefined> {
    const rows = await this.sql.query(
      `SELECT ${COUPON_COLUMNS} FROM coupons WHERE coupon_id = $1 ${lock ?? ''}`,
      [couponId],
    );
    return rows[0] ? couponOf(rows[0]) : undefined;
  }

  moveTo(couponId: string, to: CouponStateName, paymentId: string | null): Promise<Moved<CouponStateName>> {
    return this.sql.transition(COUPONS, couponId, to, { payment_id: paymentId });
  }
}

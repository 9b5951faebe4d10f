/** The coupon rules of a payment part (pure): whose it is, whether it is still usable, whether it covers the part. */
import { CashierError } from './errors';
import type { CouponStateName } from './states';

export interface CouponFacts {
  readonly payerId: string;
  readonly amountMinor: bigint;
  readonly state: CouponStateName;
  readonly expireAt: Date;
}

/** Undefined when the coupon may be reserved for the part; otherwise the refusal. */
export function couponRefusal(
  coupon: CouponFacts | undefined,
  part: { payerId: string; amountMinor: bigint; index: number; couponId: string },
  nowMs: number,
): CashierError | undefined {
  const field = `parts[${part.index}].coupon_id`;
  if (coupon === undefined || coupon.payerId !== part.payerId) {
    return new CashierError(
      'COUPON_NOT_FOUND',
      `coupon ${part.couponId.slice(0, 64)} not found for this payer`,
      {
        field,
      },
    );
  }
  if (
    coupon.state !== 'AVAILABLE' ||
    coupon.expireAt.getTime() <= nowMs ||
    coupon.amountMinor < part.amountMinor
  ) {
    return new CashierError(
      'COUPON_NOT_AVAILABLE',
      `coupon ${part.couponId} is not available for this part`,
      {
        field,
        metadata: { coupon_state: coupon.state },
      },
    );
  }
  return undefined;
}

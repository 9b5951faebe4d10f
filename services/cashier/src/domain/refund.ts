/**
 * Refunds along the original path. The amount is split across the paid
 * payment's parts by `allocateRefund` from @paycore/money — the one
 * allocation function — weighted by what each part still has refundable, so
 * partial refunds that add up to the total return every part exactly.
 * Refunds in flight count as refunded: two concurrent refunds can never
 * together exceed what a part paid.
 */
import { allocateRefund } from '@paycore/money';
import { CashierError } from './errors';

export interface RefundablePart {
  readonly paidMinor: bigint;
  /** Succeeded plus in-flight refunds of this part. */
  readonly refundedMinor: bigint;
}

export function refundableMinor(parts: readonly RefundablePart[]): bigint {
  return parts.reduce((acc, p) => acc + p.paidMinor - p.refundedMinor, 0n);
}

/** The refund per part, in part order, summing to `amountMinor`. */
export function allocateRefundAlongPath(parts: readonly RefundablePart[], amountMinor: bigint): bigint[] {
  if (amountMinor <= 0n) {
    throw new CashierError('AMOUNT_OUT_OF_RANGE', 'amount must be positive', { field: 'amount' });
  }
  const left = refundableMinor(parts);
  if (amountMinor > left) {
    throw new CashierError(
      'REFUND_EXCEEDS_PAID',
      `refund ${amountMinor} exceeds the ${left} still refundable`,
      {
        field: 'amount',
        metadata: { refundable_minor: left.toString() },
      },
    );
  }
  return allocateRefund(
    parts.map((p) => p.paidMinor),
    parts.map((p) => p.refundedMinor),
    amountMinor,
  );
}

/**
 * The units a refund of `refundMinor` returns of a lot-spending part: counted
 * cumulatively (units due after it minus units due before it, each rounded
 * down), so refunds adding up to the part's amount return every unit. The
 * part's refunded amount is read under the order's lock.
 */
export function unitsToRefund(
  part: { amountMinor: bigint; refundedMinor: bigint },
  quantity: bigint,
  refundMinor: bigint,
): bigint {
  const due = (minor: bigint): bigint => (minor * quantity) / part.amountMinor;
  return due(part.refundedMinor + refundMinor) - due(part.refundedMinor);
}

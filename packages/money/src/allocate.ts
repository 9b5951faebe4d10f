/**
 * The one allocation function of paycore (DESIGN.md §4): combined payment
 * parts, proportional refunds and profit sharing all split amounts here, so
 * every split in the platform has the same guarantees.
 *
 * Method: largest remainder (Hamilton). Part i gets floor(total * w_i / W);
 * the units left over (fewer than the number of parts) go one each to the
 * parts with the largest remainders, the earlier index winning ties. So:
 * - the parts always sum exactly to the total;
 * - no part is negative, and a zero weight always gets 0;
 * - each part is within 1 minor unit of its exact share total * w_i / W;
 * - the result depends only on the inputs (no floats, no sort instability).
 */
import { assertInt64, money, type Money } from './money';
import { MoneyError, MoneyErrorReason } from './errors';

/** Bounds the work per call; no payment or sharing rule has this many parts. */
export const ALLOCATION_PARTS_MAX = 10_000;

function invalid(message: string, field: string): MoneyError {
  return new MoneyError(MoneyErrorReason.INVALID_ALLOCATION, message, field);
}

function checkWeights(weights: readonly bigint[]): bigint {
  if (weights.length === 0) throw invalid('at least one weight is required', 'weights');
  if (weights.length > ALLOCATION_PARTS_MAX) {
    throw invalid(`at most ${ALLOCATION_PARTS_MAX} weights are allowed`, 'weights');
  }
  let weightSum = 0n;
  for (const [index, weight] of weights.entries()) {
    if (weight < 0n) throw invalid(`weight ${index} is negative (${weight})`, `weights[${index}]`);
    assertInt64(weight, `weights[${index}]`);
    weightSum += weight;
  }
  if (weightSum === 0n) throw invalid('weights must not all be zero', 'weights');
  return weightSum;
}

/**
 * Splits `total` (>= 0, int64) in proportion to `weights` (>= 0, not all zero).
 *
 * A negative total is rejected rather than split by its magnitude: every
 * caller (payment parts, refunds, shares) splits a non-negative amount, and a
 * negative one there is a bug to surface, not to round around.
 */
export function allocate(total: bigint, weights: readonly bigint[]): bigint[] {
  if (total < 0n) throw invalid(`cannot allocate a negative total (${total})`, 'total');
  assertInt64(total, 'total');
  const weightSum = checkWeights(weights);

  const parts: bigint[] = [];
  const remainders: bigint[] = [];
  let allocated = 0n;
  for (const weight of weights) {
    const scaled = total * weight;
    const part = scaled / weightSum;
    parts.push(part);
    remainders.push(scaled % weightSum);
    allocated += part;
  }

  // leftover * W = sum of remainders, each < W, so leftover < number of parts with
  // a non-zero remainder: units only ever go to positive weights.
  const leftover = Number(total - allocated);
  const order = weights.map((_, index) => index);
  order.sort((a, b) => {
    const ra = remainders[a] ?? 0n;
    const rb = remainders[b] ?? 0n;
    if (ra !== rb) return ra > rb ? -1 : 1;
    return a - b;
  });
  for (const index of order.slice(0, leftover)) {
    parts[index] = (parts[index] ?? 0n) + 1n;
  }
  return parts;
}

/** `allocate` for a Money total; every part carries the total's currency. */
export function allocateMoney(total: Money, weights: readonly bigint[]): Money[] {
  return allocate(total.amountMinor, weights).map((part) => money(part, total.currency));
}

/**
 * Splits a refund across the parts of the original payment (balance, coupon,
 * channel…) in proportion to what each part still has refundable.
 *
 * Why the remaining amounts and not the original parts: splitting each partial
 * refund by the original ratio rounds every time, and the roundings do not
 * cancel, so after several partial refunds summing to the full amount a 3.00
 * coupon can come back as 2.91 (or 3.01, more than it paid). Weighting by
 * paid - refunded instead means the last refund, whose amount equals the whole
 * remainder, returns exactly what every part still has: a full refund always
 * returns each part exactly, and no part is ever refunded beyond what it paid
 * (floor(R*r_i/W) + 1 <= r_i whenever R <= W and the share is fractional).
 *
 * @param paidParts what each part paid (>= 0)
 * @param refundedParts what each part has been refunded so far (0..paid)
 * @param refundAmount the new refund (0..sum of remaining)
 * @returns the refund per part, same order, summing to refundAmount
 */
export function allocateRefund(
  paidParts: readonly bigint[],
  refundedParts: readonly bigint[],
  refundAmount: bigint,
): bigint[] {
  if (paidParts.length !== refundedParts.length) {
    throw invalid(
      `paid parts (${paidParts.length}) and refunded parts (${refundedParts.length}) differ in length`,
      'refundedParts',
    );
  }
  if (refundAmount < 0n) throw invalid(`refund amount ${refundAmount} is negative`, 'refundAmount');
  const remaining = paidParts.map((paid, index) => {
    const refunded = refundedParts[index] ?? 0n;
    if (paid < 0n) throw invalid(`paid part ${index} is negative (${paid})`, `paidParts[${index}]`);
    if (refunded < 0n || refunded > paid) {
      throw invalid(`refunded part ${index} (${refunded}) is outside 0..${paid}`, `refundedParts[${index}]`);
    }
    return paid - refunded;
  });
  const remainingTotal = remaining.reduce((acc, value) => acc + value, 0n);
  if (refundAmount > remainingTotal) {
    throw new MoneyError(
      MoneyErrorReason.REFUND_EXCEEDS_PAID,
      `refund ${refundAmount} exceeds the ${remainingTotal} still refundable`,
      'refundAmount',
    );
  }
  // Nothing to split (and all-zero weights would be rejected): a zero refund is zero everywhere.
  if (refundAmount === 0n) return remaining.map(() => 0n);
  return allocate(refundAmount, remaining);
}

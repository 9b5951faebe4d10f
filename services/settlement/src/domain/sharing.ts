/**
 * Profit sharing (分账). Pure.
 *
 * A split divides a payment's base (amount − fee − refunds so far) among the
 * merchant's receivers: fixed receivers first (in order, each capped at what
 * is left), then the rest by ratio, the merchant keeping the remainder of
 * the ratios. The rest is divided by @paycore/money's allocate, so the parts
 * (the merchant's included) always sum exactly to the base.
 *
 * A refund after a split claws back along the same shares: the base the
 * refund removes is split over what each receiver still holds with
 * allocateRefund, so a full refund claws back every share exactly.
 */
import assert from 'node:assert/strict';
import { allocate, allocateRefund } from '@paycore/money';
import Decimal from 'decimal.js';
import { invalidField, SettlementError } from './errors';

export type ShareKindName = 'RATIO' | 'FIXED';

export interface Receiver {
  readonly receiverId: string;
  readonly kind: ShareKindName;
  /** RATIO: plain decimal in (0, 1]. */
  readonly ratio: string;
  /** FIXED: > 0. */
  readonly fixedMinor: bigint;
}

export interface Share {
  readonly receiverId: string;
  readonly amountMinor: bigint;
}

export const RECEIVERS_MAX = 50;
/** Ratios are weights in units of 10^-18, exact for every ratio we accept. */
const RATIO_SCALE_DIGITS = 18;
const RATIO_ONE = 10n ** BigInt(RATIO_SCALE_DIGITS);
const RATIO_PATTERN = /^(0|1)(\.\d{1,18})?$/;
const RECEIVER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

function ratioWeight(ratio: string): bigint {
  // Decimal only parses the checked string into an exact scaled integer.
  return BigInt(new Decimal(ratio).times(RATIO_ONE.toString()).toFixed(0, Decimal.ROUND_DOWN));
}

/** Refuses receivers that cannot be split, naming the field. */
export function validateReceivers(merchantId: string, receivers: readonly Receiver[]): void {
  if (receivers.length > RECEIVERS_MAX) throw invalidField('receivers', `at most ${RECEIVERS_MAX}`);
  let ratioSum = 0n;
  const seen = new Set<string>();
  receivers.forEach((r, index) => {
    const field = `receivers[${index}]`;
    if (!RECEIVER_ID_PATTERN.test(r.receiverId))
      throw invalidField(`${field}.receiver_id`, '1..64 of [A-Za-z0-9_.:-]');
    if (r.receiverId === merchantId)
      throw invalidField(`${field}.receiver_id`, 'the merchant keeps the remainder itself');
    if (seen.has(r.receiverId)) throw invalidField(`${field}.receiver_id`, 'listed twice');
    seen.add(r.receiverId);
    if (r.kind === 'RATIO') {
      if (!RATIO_PATTERN.test(r.ratio) || ratioWeight(r.ratio) === 0n || ratioWeight(r.ratio) > RATIO_ONE) {
        throw invalidField(`${field}.ratio`, 'a plain decimal in (0, 1]');
      }
      ratioSum += ratioWeight(r.ratio);
    } else if (r.fixedMinor <= 0n) {
      throw invalidField(`${field}.fixed_minor`, 'must be positive');
    }
  });
  if (ratioSum > RATIO_ONE) {
    throw new SettlementError('SHARES_EXCEED_WHOLE', 'share ratios add up to more than 1', {
      field: 'receivers',
    });
  }
}

/**
 * Splits `baseMinor` (>= 0): returns one share per receiver (same order)
 * plus the merchant's own last, summing to the base.
 */
export function split(merchantId: string, baseMinor: bigint, receivers: readonly Receiver[]): Share[] {
  assert.ok(baseMinor >= 0n, 'a split base is never negative');
  let left = baseMinor;
  const fixed = new Map<string, bigint>();
  for (const r of receivers) {
    if (r.kind !== 'FIXED') continue;
    const part = r.fixedMinor < left ? r.fixedMinor : left;
    fixed.set(r.receiverId, part);
    left -= part;
  }
  const ratioReceivers = receivers.filter((r) => r.kind === 'RATIO');
  const weights = ratioReceivers.map((r) => ratioWeight(r.ratio));
  const merchantWeight = RATIO_ONE - weights.reduce((a, w) => a + w, 0n);
  const parts =
    left === 0n ? [...weights, merchantWeight].map(() => 0n) : allocate(left, [...weights, merchantWeight]);
  const byRatio = new Map(ratioReceivers.map((r, i) => [r.receiverId, parts[i] ?? 0n]));
  const shares: Share[] = receivers.map((r) => ({
    receiverId: r.receiverId,
    amountMinor: (r.kind === 'FIXED' ? fixed.get(r.receiverId) : byRatio.get(r.receiverId)) ?? 0n,
  }));
  shares.push({ receiverId: merchantId, amountMinor: parts[parts.length - 1] ?? 0n });
  const total = shares.reduce((a, s) => a + s.amountMinor, 0n);
  assert.equal(total, baseMinor, 'shares sum to the base');
  return shares;
}

/**
 * What a refund claws back from each share (same order as `shares`), given
 * what was clawed back before. `baseRefundMinor` is the part of the base the
 * refund removes (refund − fee returned), capped at what the shares still hold.
 */
export function clawBack(
  shares: readonly bigint[],
  clawedBack: readonly bigint[],
  baseRefundMinor: bigint,
): bigint[] {
  const held = shares.reduce((a, s) => a + s, 0n) - clawedBack.reduce((a, s) => a + s, 0n);
  const amount = baseRefundMinor < held ? baseRefundMinor : held;
  return allocateRefund(shares, clawedBack, amount < 0n ? 0n : amount);
}

/**
 * Stored-value lots: the pure rules.
 *
 * A purchase creates a lot: a quantity of an asset (coins, package units; in
 * the asset's own minor units) bought for a paid amount (in the contract
 * currency's minor units). Every unit of a lot is in exactly one bucket —
 * available, held (by a consumption try), frozen, consumed or expired — and
 * each bucket carries a quantity and a value, so that at every moment
 *
 *   Σ bucket quantities = lot quantity   and   Σ bucket values = paid amount.
 *
 * A lot's fair value per unit is paid / quantity, a decimal rounded to
 * FAIR_VALUE_DECIMALS places with ROUND_HALF_UP (both recorded on the lot); a
 * promotional lot has fair value 0. When units move from one bucket to
 * another, the value that moves with them is `round(units × fair value)`
 * (half up), except that moving every unit a bucket holds moves all of its
 * value: the rounding residual stays on the lot and its last units carry it,
 * so the lot's value is exhausted exactly. Because every operation only moves
 * (quantity, value) pairs between buckets, recognised revenue (consumed) +
 * breakage (expired) + remaining value (available + held + frozen) equals the
 * paid amount to the minor unit.
 *
 * Consumption draws from the payer's usable lots earliest expiry first, ties
 * promotional before paid, then oldest. A package lot serves one consumption
 * type; a coin lot (no type) serves every type.
 */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import {
  InsufficientStoredValueError,
  LotNotExpiredError,
  LotQuantityExceededError,
  RefundExceedsConsumptionError,
} from './stored-value-errors';

export type LotCategory = 'PAID' | 'PROMOTIONAL';
export type LotState = 'ACTIVE' | 'EXPIRED';
export type Bucket = 'available' | 'held' | 'frozen' | 'consumed' | 'expired';
export const BUCKETS: readonly Bucket[] = ['available', 'held', 'frozen', 'consumed', 'expired'];

/** A lot expires to EXPIRED; an operator's reactivation brings it back (the table is in states.ts). */
export { LOT_TRANSITIONS } from './states';

/** Places of the fair value per unit, in currency minor units per asset minor unit. */
export const FAIR_VALUE_DECIMALS = 8;
export const FAIR_VALUE_ROUNDING = 'ROUND_HALF_UP' as const;
/** Lots one consumption may span; more is refused as INSUFFICIENT (the payer must consolidate). */
export const DRAW_LOTS_MAX = 64;

/** Enough significant digits for int64 × int64 with FAIR_VALUE_DECIMALS places. */
const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP });

/** A quantity with the value it carries. */
export interface Portion {
  readonly quantity: bigint;
  readonly valueMinor: bigint;
}
export const EMPTY: Portion = { quantity: 0n, valueMinor: 0n };

export interface Lot {
  readonly lotId: string;
  readonly contractId: string;
  readonly ownerId: string;
  readonly asset: string;
  readonly currency: string;
  readonly category: LotCategory;
  /** The one consumption type a package serves; null for coins, which serve every type. */
  readonly consumptionType: string | null;
  readonly quantity: bigint;
  readonly paidMinor: bigint;
  /** Decimal text, FAIR_VALUE_DECIMALS places, rounded with FAIR_VALUE_ROUNDING. */
  readonly fairValuePerUnit: string;
  /** paid − round(quantity × fair value): what the lot's last units carry beyond their fair value. */
  readonly residualMinor: bigint;
  readonly effectiveAt: Date;
  readonly expiresAt: Date;
  /** Creation order (oldest first among equals). */
  readonly createdSeq: bigint;
  readonly state: LotState;
  readonly available: Portion;
  readonly held: Portion;
  readonly frozen: Portion;
  readonly consumed: Portion;
  readonly expired: Portion;
}

export interface NewLot {
  readonly lotId: string;
  readonly contractId: string;
  readonly ownerId: string;
  readonly asset: string;
  readonly currency: string;
  readonly category: LotCategory;
  readonly consumptionType: string | null;
  readonly quantity: bigint;
  readonly paidMinor: bigint;
  readonly effectiveAt: Date;
  readonly expiresAt: Date;
  readonly createdSeq: bigint;
}

export function fairValueOf(paidMinor: bigint, quantity: bigint): { perUnit: string; residualMinor: bigint } {
  assert.ok(quantity > 0n, 'a lot has at least one unit');
  assert.ok(paidMinor >= 0n, 'a paid amount is not negative');
  const perUnit = new D(paidMinor.toString())
    .div(quantity.toString())
    .toDecimalPlaces(FAIR_VALUE_DECIMALS, Decimal.ROUND_HALF_UP);
  const residualMinor = paidMinor - roundedValue(quantity, perUnit.toFixed(FAIR_VALUE_DECIMALS));
  return { perUnit: perUnit.toFixed(FAIR_VALUE_DECIMALS), residualMinor };
}

/** round(quantity × fair value), half up, in minor units. */
function roundedValue(quantity: bigint, perUnit: string): bigint {
  return BigInt(new D(quantity.toString()).mul(perUnit).toDecimalPlaces(0, Decimal.ROUND_HALF_UP).toFixed(0));
}

export function createLot(input: NewLot): Lot {
  assert.ok(input.expiresAt.getTime() > input.effectiveAt.getTime(), 'a lot expires after it takes effect');
  assert.ok(input.category === 'PAID' || input.paidMinor === 0n, 'a promotional lot is free (fair value 0)');
  const { perUnit, residualMinor } = fairValueOf(input.paidMinor, input.quantity);
  const lot: Lot = {
    ...input,
    fairValuePerUnit: perUnit,
    residualMinor,
    state: 'ACTIVE',
    available: { quantity: input.quantity, valueMinor: input.paidMinor },
    held: EMPTY,
    frozen: EMPTY,
    consumed: EMPTY,
    expired: EMPTY,
  };
  assertConserved(lot);
  return lot;
}

/** The lot invariant: buckets partition the quantity and the paid amount. */
export function assertConserved(lot: Lot): void {
  let quantity = 0n;
  let value = 0n;
  for (const bucket of BUCKETS) {
    const part = lot[bucket];
    assert.ok(part.quantity >= 0n && part.valueMinor >= 0n, `lot ${lot.lotId}: ${bucket} is negative`);
    assert.ok(
      part.quantity > 0n || part.valueMinor === 0n,
      `lot ${lot.lotId}: ${bucket} has value without units`,
    );
    quantity += part.quantity;
    value += part.valueMinor;
  }
  assert.equal(quantity, lot.quantity, `lot ${lot.lotId}: buckets do not sum to its quantity`);
  assert.equal(value, lot.paidMinor, `lot ${lot.lotId}: buckets do not sum to its paid amount`);
}

/**
 * The value that `quantity` units take out of `from`: all of it when they
 * are all its units, otherwise their fair value, never more than it holds.
 */
export function valueOfUnits(lot: Pick<Lot, 'fairValuePerUnit'>, from: Portion, quantity: bigint): bigint {
  assert.ok(quantity > 0n && quantity <= from.quantity, 'units taken from a bucket that holds them');
  if (quantity === from.quantity) return from.valueMinor;
  const value = roundedValue(quantity, lot.fairValuePerUnit);
  return value < from.valueMinor ? value : from.valueMinor;
}

function minus(a: Portion, b: Portion): Portion {
  return { quantity: a.quantity - b.quantity, valueMinor: a.valueMinor - b.valueMinor };
}
function plus(a: Portion, b: Portion): Portion {
  return { quantity: a.quantity + b.quantity, valueMinor: a.valueMinor + b.valueMinor };
}

/** Moves an exact portion between buckets (confirm, cancel, refund of a recorded draw). */
export function movePortion(lot: Lot, from: Bucket, to: Bucket, part: Portion): Lot {
  assert.notEqual(from, to, 'a move changes bucket');
  const source = minus(lot[from], part);
  assert.ok(
    source.quantity >= 0n && source.valueMinor >= 0n,
    `lot ${lot.lotId}: ${from} cannot give ${part.quantity}`,
  );
  assert.ok(
    source.quantity > 0n || source.valueMinor === 0n,
    `lot ${lot.lotId}: ${from} would keep value without units`,
  );
  const moved: Lot = { ...lot, [from]: source, [to]: plus(lot[to], part) };
  assertConserved(moved);
  return moved;
}

/** Moves `quantity` units, with the value valueOfUnits gives them. */
export function moveUnits(lot: Lot, from: Bucket, to: Bucket, quantity: bigint): { lot: Lot; part: Portion } {
  const part = { quantity, valueMinor: valueOfUnits(lot, lot[from], quantity) };
  return { lot: movePortion(lot, from, to, part), part };
}

/** Where units released from a hold or a freeze go: back to available, or to expired if the lot expired meanwhile. */
export function releaseTarget(lot: Pick<Lot, 'state'>): Bucket {
  return lot.state === 'EXPIRED' ? 'expired' : 'available';
}

export function servesType(lot: Pick<Lot, 'consumptionType'>, consumptionType: string): boolean {
  return lot.consumptionType === null || lot.consumptionType === consumptionType;
}

export function isUsable(lot: Lot, asset: string, consumptionType: string, now: Date): boolean {
  return (
    lot.state === 'ACTIVE' &&
    lot.asset === asset &&
    servesType(lot, consumptionType) &&
    lot.effectiveAt.getTime() <= now.getTime() &&
    now.getTime() < lot.expiresAt.getTime() &&
    lot.available.quantity > 0n
  );
}

/** Earliest expiry first; ties promotional before paid; then oldest; then lot id. */
export function compareForConsumption(a: Lot, b: Lot): number {
  const expiry = a.expiresAt.getTime() - b.expiresAt.getTime();
  if (expiry !== 0) return expiry;
  if (a.category !== b.category) return a.category === 'PROMOTIONAL' ? -1 : 1;
  if (a.createdSeq !== b.createdSeq) return a.createdSeq < b.createdSeq ? -1 : 1;
  return a.lotId < b.lotId ? -1 : a.lotId > b.lotId ? 1 : 0;
}

/** One lot's share of a consumption. */
export interface Draw {
  readonly lotId: string;
  readonly quantity: bigint;
  readonly valueMinor: bigint;
}

/**
 * Which lots a consumption of `quantity` units draws from, in order, each at
 * its own fair value. Refuses (typed) when the usable lots hold too little.
 */
export function planConsumption(
  lots: readonly Lot[],
  request: { asset: string; consumptionType: string; quantity: bigint; now: Date },
): Draw[] {
  assert.ok(request.quantity > 0n, 'a consumption takes at least one unit');
  const usable = lots
    .filter((lot) => isUsable(lot, request.asset, request.consumptionType, request.now))
    .sort(compareForConsumption);
  const draws: Draw[] = [];
  let left = request.quantity;
  for (const lot of usable) {
    if (left === 0n) break;
    if (draws.length === DRAW_LOTS_MAX) break;
    const quantity = lot.available.quantity < left ? lot.available.quantity : left;
    draws.push({ lotId: lot.lotId, quantity, valueMinor: valueOfUnits(lot, lot.available, quantity) });
    left -= quantity;
  }
  if (left > 0n) {
    const usableQuantity = request.quantity - left;
    throw new InsufficientStoredValueError(
      `${request.quantity} units of ${request.asset} asked for ${request.consumptionType}; usable lots hold ${usableQuantity}`,
      {
        field: 'quantity',
        metadata: {
          asset: request.asset,
          usable: usableQuantity.toString(),
          lots_max: String(DRAW_LOTS_MAX),
        },
      },
    );
  }
  return draws;
}

/** A recorded draw with what has been refunded of it. */
export interface RecordedDraw extends Draw {
  readonly refunded: Portion;
}

/**
 * The portions a refund of `quantity` units returns, per draw: the last drawn
 * lot first (so the lots drawn first stay consumed), each draw's value
 * exhausted exactly when all its units come back.
 */
export function planRefund(
  lots: ReadonlyMap<string, Pick<Lot, 'fairValuePerUnit'>>,
  draws: readonly RecordedDraw[],
  quantity: bigint,
): { index: number; part: Portion }[] {
  assert.ok(quantity > 0n, 'a refund returns at least one unit');
  const refundable = draws.reduce((sum, d) => sum + d.quantity - d.refunded.quantity, 0n);
  if (quantity > refundable) {
    throw new RefundExceedsConsumptionError(`refund of ${quantity} units; ${refundable} are refundable`, {
      field: 'quantity',
      metadata: { refundable: refundable.toString() },
    });
  }
  const parts: { index: number; part: Portion }[] = [];
  let left = quantity;
  for (let index = draws.length - 1; index >= 0 && left > 0n; index--) {
    const draw = draws[index];
    assert.ok(draw !== undefined);
    const remaining = minus(draw, draw.refunded);
    if (remaining.quantity === 0n) continue;
    const lot = lots.get(draw.lotId);
    assert.ok(lot !== undefined, `lot ${draw.lotId} of a draw is loaded`);
    const units = remaining.quantity < left ? remaining.quantity : left;
    parts.push({ index, part: { quantity: units, valueMinor: valueOfUnits(lot, remaining, units) } });
    left -= units;
  }
  return parts;
}

/** Expiry: the remaining available units become breakage. Held and frozen units follow on release. */
export function expireLot(lot: Lot): { lot: Lot; part: Portion } {
  assert.equal(lot.state, 'ACTIVE', 'only an active lot expires');
  const part = lot.available;
  const moved: Lot = {
    ...lot,
    state: 'EXPIRED',
    available: EMPTY,
    expired: plus(lot.expired, part),
  };
  assertConserved(moved);
  return { lot: moved, part };
}

/** Reactivation reverses expiry: every expired unit is available again until the new expiry. */
export function reactivateLot(lot: Lot, expiresAt: Date): { lot: Lot; part: Portion } {
  if (lot.state !== 'EXPIRED') {
    throw new LotNotExpiredError(`lot ${lot.lotId} is ${lot.state}`, {
      field: 'lot_id',
      metadata: { lot_id: lot.lotId, state: lot.state },
    });
  }
  assert.ok(
    expiresAt.getTime() > lot.effectiveAt.getTime(),
    'a reactivated lot expires after it took effect',
  );
  const part = lot.expired;
  const moved: Lot = {
    ...lot,
    state: 'ACTIVE',
    expiresAt,
    expired: EMPTY,
    available: plus(lot.available, part),
  };
  assertConserved(moved);
  return { lot: moved, part };
}

/** Freeze (e.g. under dispute): available units become frozen. */
export function freezeUnits(lot: Lot, quantity: bigint): { lot: Lot; part: Portion } {
  if (quantity <= 0n || quantity > lot.available.quantity) {
    throw new LotQuantityExceededError(`lot ${lot.lotId} has ${lot.available.quantity} available units`, {
      field: 'quantity',
      metadata: { lot_id: lot.lotId, available: lot.available.quantity.toString() },
    });
  }
  return moveUnits(lot, 'available', 'frozen', quantity);
}

/** Unfreeze: frozen units go back to available, or to expired if the lot expired while they were frozen. */
export function unfreezeUnits(lot: Lot, quantity: bigint): { lot: Lot; part: Portion } {
  if (quantity <= 0n || quantity > lot.frozen.quantity) {
    throw new LotQuantityExceededError(`lot ${lot.lotId} has ${lot.frozen.quantity} frozen units`, {
      field: 'quantity',
      metadata: { lot_id: lot.lotId, frozen: lot.frozen.quantity.toString() },
    });
  }
  return moveUnits(lot, 'frozen', releaseTarget(lot), quantity);
}

/** Σ of one bucket over lots. */
export function totalOf(lots: Iterable<Lot>, bucket: Bucket): Portion {
  let total = EMPTY;
  for (const lot of lots) total = plus(total, lot[bucket]);
  return total;
}

/** Remaining (not yet revenue or breakage): available + held + frozen. */
export function remainingOf(lot: Lot): Portion {
  return plus(plus(lot.available, lot.held), lot.frozen);
}

/**
 * Fees: amount (minor units) x rate (decimal string) -> fee (minor units).
 *
 * decimal.js is used only here, for the rate, and through a private clone so
 * that no other code's Decimal configuration can change our results (nor ours
 * theirs). The rounding mode is a required argument, never a default, because
 * it is part of the fee rule (DESIGN.md §4: recorded on the rule, 四舍五入 =
 * ROUND_HALF_UP by default at the rule level, not here).
 *
 * Exactness: the amount has at most 19 significant digits and the rate at
 * most 19 (one integer digit, up to 18 fraction digits), so their product has
 * at most 38 digits and is exact at precision 40; the only rounding is the
 * one the caller names, to whole minor units.
 */
import Decimal from 'decimal.js';
import { MoneyError, MoneyErrorReason } from './errors';
import { assertInt64, INT64_MAX } from './money';

const FeeDecimal = Decimal.clone({
  precision: 40,
  rounding: Decimal.ROUND_HALF_UP,
  toExpNeg: -60,
  toExpPos: 60,
  modulo: Decimal.ROUND_DOWN,
  crypto: false,
});

/** Rounding modes by name, mapped to decimal.js constants. */
const ROUNDING_MODE_CONSTANTS = {
  /** Away from zero. */
  ROUND_UP: Decimal.ROUND_UP,
  /** Towards zero (truncate). */
  ROUND_DOWN: Decimal.ROUND_DOWN,
  /** Towards +infinity. */
  ROUND_CEIL: Decimal.ROUND_CEIL,
  /** Towards -infinity. */
  ROUND_FLOOR: Decimal.ROUND_FLOOR,
  /** Nearest, ties away from zero (四舍五入). */
  ROUND_HALF_UP: Decimal.ROUND_HALF_UP,
  /** Nearest, ties towards zero. */
  ROUND_HALF_DOWN: Decimal.ROUND_HALF_DOWN,
  /** Nearest, ties to even (banker's rounding). */
  ROUND_HALF_EVEN: Decimal.ROUND_HALF_EVEN,
  /** Nearest, ties towards +infinity. */
  ROUND_HALF_CEIL: Decimal.ROUND_HALF_CEIL,
  /** Nearest, ties towards -infinity. */
  ROUND_HALF_FLOOR: Decimal.ROUND_HALF_FLOOR,
} as const;

export type RoundingMode = keyof typeof ROUNDING_MODE_CONSTANTS;

export const ROUNDING_MODES = Object.freeze(Object.keys(ROUNDING_MODE_CONSTANTS)) as readonly RoundingMode[];

/** For fee rules read from storage or requests, where the mode arrives as a string. */
export function isRoundingMode(value: string): value is RoundingMode {
  return Object.prototype.hasOwnProperty.call(ROUNDING_MODE_CONSTANTS, value);
}

// A rate is 0..1 written plainly: "0", "1", "0.006", at most 18 fraction digits.
const RATE_PATTERN = /^(0|1)(?:\.([0-9]{1,18}))?$/;

/** Checks a rate string and returns it as a Decimal of the private clone. */
function parseRate(rate: string): Decimal {
  const match = rate.length <= 20 ? RATE_PATTERN.exec(rate) : null;
  const value = match === null ? null : new FeeDecimal(rate);
  if (value === null || value.greaterThan(1)) {
    throw new MoneyError(
      MoneyErrorReason.INVALID_RATE,
      `rate "${rate.slice(0, 20)}" must be a plain decimal between 0 and 1 with at most 18 fraction digits`,
      'rate',
    );
  }
  return value;
}

/** For fee rules at the edge: throws INVALID_RATE unless `rate` is usable by computeFee. */
export function assertValidRate(rate: string): string {
  parseRate(rate);
  return rate;
}

export interface FeeBounds {
  /** The fee is raised to at least this (>= 0). */
  readonly minFeeMinor?: bigint;
  /** The fee is capped at this (>= minFeeMinor). */
  readonly maxFeeMinor?: bigint;
}

function checkBound(value: bigint | undefined, field: string): void {
  if (value === undefined) return;
  if (value < 0n || value > INT64_MAX) {
    throw new MoneyError(
      MoneyErrorReason.INVALID_RATE,
      `${field} ${value} must be within 0..int64 max`,
      field,
    );
  }
}

/**
 * fee = round(amount * rate, rounding) then clamped to [minFeeMinor, maxFeeMinor].
 *
 * The amount must be >= 0: a fee is computed on a gross amount, and a fee
 * returned on refund is computed on the refund amount and negated by the
 * caller, which keeps rounding direction rules in one place. The bounds
 * clamp the rounded fee as given; the minimum applies even to a zero amount,
 * so callers that charge nothing on nothing must not call this for zero.
 */
export function computeFee(
  amount: bigint,
  rate: string,
  rounding: RoundingMode,
  options: FeeBounds = {},
): bigint {
  if (amount < 0n) {
    throw new MoneyError(MoneyErrorReason.AMOUNT_OUT_OF_RANGE, `fee base ${amount} is negative`, 'amount');
  }
  assertInt64(amount, 'amount');
  if (!isRoundingMode(rounding)) {
    throw new MoneyError(
      MoneyErrorReason.INVALID_RATE,
      `unknown rounding mode "${String(rounding)}"`,
      'rounding',
    );
  }
  const rateValue = parseRate(rate);
  const { minFeeMinor, maxFeeMinor } = options;
  checkBound(minFeeMinor, 'minFeeMinor');
  checkBound(maxFeeMinor, 'maxFeeMinor');
  if (minFeeMinor !== undefined && maxFeeMinor !== undefined && minFeeMinor > maxFeeMinor) {
    throw new MoneyError(
      MoneyErrorReason.INVALID_RATE,
      `minFeeMinor ${minFeeMinor} exceeds maxFeeMinor ${maxFeeMinor}`,
      'minFeeMinor',
    );
  }
  const exact = new FeeDecimal(amount.toString()).times(rateValue);
  let fee = BigInt(exact.toDecimalPlaces(0, ROUNDING_MODE_CONSTANTS[rounding]).toFixed());
  if (minFeeMinor !== undefined && fee < minFeeMinor) fee = minFeeMinor;
  if (maxFeeMinor !== undefined && fee > maxFeeMinor) fee = maxFeeMinor;
  return fee;
}

/**
 * Money: an immutable amount in minor units (bigint) with its currency code.
 *
 * A JS number never holds money: amounts are bigint end to end (proto int64,
 * Postgres bigint). Every operation that produces an amount checks it against
 * the int64 range, because that is what the wire and the database can hold; a
 * value that fits here always fits there.
 */
import { currencyScale } from './currency';
import { MoneyError, MoneyErrorReason } from './errors';

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export interface Money {
  readonly amountMinor: bigint;
  readonly currency: string;
}

/** Throws AMOUNT_OUT_OF_RANGE unless `value` fits in a signed 64-bit integer. */
export function assertInt64(value: bigint, field = 'amountMinor'): bigint {
  if (value < INT64_MIN || value > INT64_MAX) {
    throw new MoneyError(
      MoneyErrorReason.AMOUNT_OUT_OF_RANGE,
      `amount ${value} is outside the int64 range`,
      field,
    );
  }
  return value;
}

/** Builds a frozen Money after checking the currency is known and the amount fits int64. */
export function money(amountMinor: bigint, currency: string): Money {
  currencyScale(currency);
  assertInt64(amountMinor);
  return Object.freeze({ amountMinor, currency });
}

export function zero(currency: string): Money {
  return money(0n, currency);
}

// A minor-unit string as it comes from proto JSON or pg: optional '-', no leading zeros.
const MINOR_PATTERN = /^-?(0|[1-9][0-9]*)$/;
// 19 digits plus a sign covers int64; anything longer is rejected before BigInt sees it.
const MINOR_TEXT_LENGTH_MAX = 20;

/** Money from minor units given as bigint or as a plain integer string ("-1234"). */
export function fromMinor(value: bigint | string, currency: string): Money {
  if (typeof value === 'string') {
    if (value.length > MINOR_TEXT_LENGTH_MAX || !MINOR_PATTERN.test(value)) {
      throw new MoneyError(
        MoneyErrorReason.INVALID_AMOUNT,
        `"${value.slice(0, MINOR_TEXT_LENGTH_MAX)}" is not an integer amount in minor units`,
        'amountMinor',
      );
    }
    return money(BigInt(value), currency);
  }
  return money(value, currency);
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw new MoneyError(
      MoneyErrorReason.CURRENCY_MISMATCH,
      `cannot combine ${a.currency} with ${b.currency}`,
      'currency',
    );
  }
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amountMinor + b.amountMinor, a.currency);
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amountMinor - b.amountMinor, a.currency);
}

/** Fails for INT64_MIN, whose negation does not fit. */
export function negate(a: Money): Money {
  return money(-a.amountMinor, a.currency);
}

export function compare(a: Money, b: Money): -1 | 0 | 1 {
  sameCurrency(a, b);
  if (a.amountMinor < b.amountMinor) return -1;
  return a.amountMinor > b.amountMinor ? 1 : 0;
}

export function equals(a: Money, b: Money): boolean {
  return a.currency === b.currency && a.amountMinor === b.amountMinor;
}

export function isZero(a: Money): boolean {
  return a.amountMinor === 0n;
}

export function isPositive(a: Money): boolean {
  return a.amountMinor > 0n;
}

export function isNegative(a: Money): boolean {
  return a.amountMinor < 0n;
}

/**
 * Sum of a list, all in `currency` (needed so that an empty list has one).
 * Bigint is exact, so only the final total is range-checked: a list whose
 * running total leaves int64 but comes back is still a valid sum.
 */
export function sum(list: readonly Money[], currency: string): Money {
  currencyScale(currency);
  let total = 0n;
  for (const item of list) {
    if (item.currency !== currency) {
      throw new MoneyError(
        MoneyErrorReason.CURRENCY_MISMATCH,
        `cannot sum ${item.currency} into ${currency}`,
        'currency',
      );
    }
    total += item.amountMinor;
  }
  return money(total, currency);
}

// Longest decimal text worth looking at: sign, 19 digits, point, up to 18 fraction digits.
const DECIMAL_TEXT_LENGTH_MAX = 40;
const DECIMAL_PATTERN = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * Parses a decimal string in major units ("12.34") into minor units without
 * floats. Accepted: optional '-', integer part without leading zeros, optional
 * '.' followed by 1..scale digits. Rejected: '+', exponents, spaces, "", ".5",
 * "1.", more fraction digits than the scale (never silently rounded). "-0"
 * and "-0.00" are accepted and mean zero (bigint has no negative zero).
 */
export function parseMoney(text: string, currency: string): Money {
  const scale = currencyScale(currency);
  const match = text.length <= DECIMAL_TEXT_LENGTH_MAX ? DECIMAL_PATTERN.exec(text) : null;
  const invalid = (why: string): MoneyError =>
    new MoneyError(
      MoneyErrorReason.INVALID_AMOUNT,
      `"${text.slice(0, DECIMAL_TEXT_LENGTH_MAX)}" is not a valid ${currency} amount: ${why}`,
      'amount',
    );
  if (match === null) throw invalid('expected digits with an optional "-" and "." fraction');
  const [, sign = '', whole = '', fraction = ''] = match;
  if (fraction.length > scale) throw invalid(`at most ${scale} fraction digits`);
  const magnitude = BigInt(whole + fraction.padEnd(scale, '0'));
  return money(sign === '-' ? -magnitude : magnitude, currency);
}

export interface FormatOptions {
  /** Appends " CNY" (the currency code) after the number. */
  readonly withCode?: boolean;
}

/** Formats with exactly `scale` fraction digits ("12.30", "-0.05", "1500" for JPY). */
export function formatMoney(m: Money, options: FormatOptions = {}): string {
  const scale = currencyScale(m.currency);
  const negative = m.amountMinor < 0n;
  const digits = (negative ? -m.amountMinor : m.amountMinor).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  const number = `${negative ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
  return options.withCode === true ? `${number} ${m.currency}` : number;
}

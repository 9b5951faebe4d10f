/**
 * Money helpers: amounts are bigint minor units (分 for CNY) with an ISO 4217
 * code, never JS numbers. Re-exported from @paycore/money (bundled into the
 * built package), plus `cny()` and `moneyOf()` to build the proto `Money`.
 */
import { formatMoney, parseMoney } from '@paycore/money';
import type { Money as ProtoMoney } from '@paycore/proto/paycore/common/v1/money';

export {
  add,
  allocate,
  allocateMoney,
  compare,
  currencyScale,
  equals,
  formatMoney,
  isKnownCurrency,
  isNegative,
  isPositive,
  isZero,
  money,
  MoneyError,
  MoneyErrorReason,
  negate,
  parseMoney,
  subtract,
  sum,
  zero,
} from '@paycore/money';
export type { Money } from '@paycore/money';
export type { ProtoMoney };

/** A proto Money in CNY from minor units (fen). */
export function cny(amountMinor: bigint): ProtoMoney {
  return { amountMinor, currency: 'CNY' };
}

/** A proto Money from a decimal string in major units, e.g. moneyOf('12.34', 'CNY') → 1234n fen. */
export function moneyOf(decimal: string, currency: string): ProtoMoney {
  const parsed = parseMoney(decimal, currency);
  return { amountMinor: parsed.amountMinor, currency: parsed.currency };
}

/** "12.34 CNY" from a proto Money. */
export function showMoney(value: ProtoMoney | undefined): string {
  if (value === undefined) return '-';
  return `${formatMoney({ amountMinor: value.amountMinor, currency: value.currency })} ${value.currency}`;
}

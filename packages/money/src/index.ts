/**
 * @paycore/money — amounts as bigint minor units, the currency registry,
 * decimal parsing and formatting without floats, the one allocation function
 * (largest remainder), fee computation with an explicit rounding mode, and
 * debit / credit with normal-side arithmetic.
 * Pure: no I/O, no framework.
 */
export { MoneyError, MoneyErrorReason } from './errors';
export { currencyScale, isKnownCurrency, registerAsset, REGISTERED_ASSETS_MAX, SCALE_MAX } from './currency';
export {
  add,
  assertInt64,
  compare,
  equals,
  formatMoney,
  fromMinor,
  INT64_MAX,
  INT64_MIN,
  isNegative,
  isPositive,
  isZero,
  money,
  negate,
  parseMoney,
  subtract,
  sum,
  zero,
} from './money';
export type { FormatOptions, Money } from './money';
export { allocate, allocateMoney, allocateRefund, ALLOCATION_PARTS_MAX } from './allocate';
export { assertValidRate, computeFee, isRoundingMode, ROUNDING_MODES } from './fee';
export type { FeeBounds, RoundingMode } from './fee';
export {
  balanceDebitPositive,
  debitPositive,
  entryFor,
  increases,
  isSide,
  opposite,
  signedEffect,
  SIDES,
} from './side';
export type { Side } from './side';

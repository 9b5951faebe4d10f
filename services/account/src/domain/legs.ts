/**
 * Shape rules of a transfer's legs that need no account: counts, amounts,
 * duplicates and balance per currency. Rules that need the accounts (currency
 * of the account, status, overdraft) live in posting.ts.
 */
import { debitPositive, INT64_MAX, isKnownCurrency } from '@paycore/money';
import {
  AmountOutOfRangeError,
  DuplicateAccountError,
  InvalidFieldError,
  TooFewLegsError,
  TooManyLegsError,
  UnbalancedTransferError,
  UnknownCurrencyError,
} from './errors';
import type { Leg } from './types';

/** A transfer moves money between at least two accounts. */
export const LEGS_MIN = 2;
/** Bounds the rows one transfer locks and writes. */
export const LEGS_MAX = 64;
/** Account ids are UUID text; anything longer is malformed before we look it up. */
export const ACCOUNT_ID_LENGTH_MAX = 64;

/**
 * Checks every rule that can be checked without reading accounts; throws the
 * first failure. An account may appear in at most one leg: a transfer that
 * debits and credits the same account is meaningless, and one leg per account
 * keeps each account's entries of a transfer to exactly one.
 */
export function validateLegs(legs: readonly Leg[], field = 'legs'): void {
  if (legs.length < LEGS_MIN) {
    throw new TooFewLegsError(`a transfer needs at least ${LEGS_MIN} legs, got ${legs.length}`, { field });
  }
  if (legs.length > LEGS_MAX) {
    throw new TooManyLegsError(`a transfer has at most ${LEGS_MAX} legs, got ${legs.length}`, { field });
  }
  const seen = new Set<string>();
  legs.forEach((leg, index) => {
    const at = `${field}[${index}]`;
    if (leg.accountId.length === 0 || leg.accountId.length > ACCOUNT_ID_LENGTH_MAX) {
      throw new InvalidFieldError(`${at}.account_id must be 1 to ${ACCOUNT_ID_LENGTH_MAX} characters`, {
        field: `${at}.account_id`,
      });
    }
    if (leg.amountMinor <= 0n || leg.amountMinor > INT64_MAX) {
      throw new AmountOutOfRangeError(
        `${at}.amount must be between 1 and ${INT64_MAX}, got ${leg.amountMinor}`,
        {
          field: `${at}.amount`,
        },
      );
    }
    if (!isKnownCurrency(leg.currency)) {
      throw new UnknownCurrencyError(`${at}.amount.currency "${leg.currency.slice(0, 16)}" is not known`, {
        field: `${at}.amount.currency`,
      });
    }
    if (seen.has(leg.accountId)) {
      throw new DuplicateAccountError(`account ${leg.accountId} appears in more than one leg`, {
        field: `${at}.account_id`,
      });
    }
    seen.add(leg.accountId);
  });
  assertBalanced(legs, field);
}

/**
 * Sum of debits equals sum of credits in every currency. Sums are exact
 * bigints (64 legs of at most int64 each cannot lose precision), so there is
 * no overflow to guard here.
 */
export function assertBalanced(legs: readonly Leg[], field = 'legs'): void {
  for (const [currency, net] of netByCurrency(legs)) {
    if (net !== 0n) {
      throw new UnbalancedTransferError(
        `debits and credits differ by ${net < 0n ? -net : net} minor units of ${currency}`,
        { field, metadata: { currency, difference_minor: net.toString() } },
      );
    }
  }
}

/** Debits minus credits per currency; all zero for a balanced leg list. */
export function netByCurrency(legs: readonly Leg[]): Map<string, bigint> {
  const net = new Map<string, bigint>();
  for (const leg of legs) {
    net.set(leg.currency, (net.get(leg.currency) ?? 0n) + debitPositive(leg.side, leg.amountMinor));
  }
  return net;
}

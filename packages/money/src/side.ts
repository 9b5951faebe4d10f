/**
 * Debit and credit (借 / 贷), and normal-side arithmetic.
 *
 * Every paycore balance is kept on its account's (or subject's) normal side,
 * as a number that is positive in the ordinary case: a leg on the normal side
 * increases it, a leg on the other side decreases it. A debit increases a
 * debit-normal account (an asset: bank deposits, channel pending-clearing)
 * and decreases a credit-normal one (a liability: a customer's or merchant's
 * balance). Summing across accounts needs one sign convention, debit-positive:
 * a balanced transfer's legs then sum to zero, and per currency the
 * debit-positive sum of all balances is zero.
 *
 * Amounts here are entry amounts, never negative (the sign is the side);
 * a negative one is a programmer error and asserts.
 */
import assert from 'node:assert/strict';

export type Side = 'DEBIT' | 'CREDIT';

export const SIDES: readonly Side[] = Object.freeze(['DEBIT', 'CREDIT'] as const);

export function isSide(value: string): value is Side {
  return value === 'DEBIT' || value === 'CREDIT';
}

/** The other side: DEBIT ⇄ CREDIT. */
export function opposite(side: Side): Side {
  return side === 'DEBIT' ? 'CREDIT' : 'DEBIT';
}

/** Whether a leg on `side` increases a balance kept on `normalSide`. */
export function increases(normalSide: Side, side: Side): boolean {
  return side === normalSide;
}

/**
 * The signed effect of one entry on a balance kept on `normalSide`:
 * +amount when the entry is on the normal side, −amount otherwise.
 */
export function signedEffect(normalSide: Side, side: Side, amountMinor: bigint): bigint {
  assert.ok(amountMinor >= 0n, `an entry amount is never negative, got ${amountMinor}`);
  return increases(normalSide, side) ? amountMinor : -amountMinor;
}

/** One entry as a debit-positive amount: +amount for a debit, −amount for a credit. */
export function debitPositive(side: Side, amountMinor: bigint): bigint {
  return signedEffect('DEBIT', side, amountMinor);
}

/**
 * A balance kept on `normalSide` as a debit-positive amount: itself for a
 * debit-normal account, negated for a credit-normal one. Signed balances
 * (an overdraft) pass through with their sign.
 */
export function balanceDebitPositive(normalSide: Side, balanceMinor: bigint): bigint {
  return normalSide === 'DEBIT' ? balanceMinor : -balanceMinor;
}

/**
 * The entry that moves a balance kept on `normalSide` by `deltaMinor`
 * (positive: increase). Zero has no entry.
 */
export function entryFor(
  normalSide: Side,
  deltaMinor: bigint,
): { readonly side: Side; readonly amountMinor: bigint } | null {
  if (deltaMinor === 0n) return null;
  return deltaMinor > 0n
    ? { side: normalSide, amountMinor: deltaMinor }
    : { side: opposite(normalSide), amountMinor: -deltaMinor };
}

/**
 * Daily caps of routes and refund headroom of payments: the arithmetic the
 * store used to do in SQL, decided here over values the caller read under a
 * row lock (so concurrent reservations cannot overshoot). Amounts are bigint
 * minor units.
 */
import type { TxnState } from './txn';

/** The usage after reserving `amount`, or undefined when that would pass the cap (0n = no cap). */
export function reserveUnderCap(used: bigint, amount: bigint, cap: bigint): bigint | undefined {
  if (cap === 0n) return used + amount;
  return used + amount <= cap ? used + amount : undefined;
}

/** The usage after giving `amount` back (never below zero: a counter reset by hand stays at 0). */
export function releaseFromCap(used: bigint, amount: bigint): bigint {
  return used > amount ? used - amount : 0n;
}

/** Refund amounts of one payment, summed per state. */
export type RefundSums = ReadonlyMap<TxnState, bigint>;

/** What is already refunded or may still be: every refund that has not FAILed counts. */
export function refundedSoFar(sums: RefundSums): bigint {
  let total = 0n;
  for (const [state, amount] of sums) if (state !== 'FAIL') total += amount;
  return total;
}

export function refundFits(paid: bigint, sums: RefundSums, amount: bigint): boolean {
  return refundedSoFar(sums) + amount <= paid;
}

/**
 * Settlement batches: one per (merchant, settlement date). Pure.
 *
 * The transition table is the specification of a batch's life; the pg
 * adapter moves batches only through it (a guarded UPDATE whose allowed
 * "from" states come from this table), so a replica that resumes a batch
 * after another crashed can never move it backwards or twice.
 *
 *   CREATED ──post──▶ POSTED ──payout──▶ PAYING ──success──▶ PAID
 *                        │                  │ fail (funds back in payable)
 *                        └─nothing to pay─▶ CARRIED      ▼
 *                                         PAYOUT_FAILED ──retry──▶ PAYING
 *                                                 └─attempts spent──▶ EXCEPTION
 */
import assert from 'node:assert/strict';
import { computeFee } from '@paycore/money';
import { finalStatesOf, type TransitionTable } from '@paycore/platform/domain';

export type BatchStateName =
  'CREATED' | 'POSTED' | 'PAYING' | 'PAID' | 'CARRIED' | 'PAYOUT_FAILED' | 'EXCEPTION';

export const BATCH_TRANSITIONS: TransitionTable<BatchStateName> = {
  CREATED: ['POSTED'],
  POSTED: ['PAYING', 'CARRIED'],
  PAYING: ['PAID', 'PAYOUT_FAILED'],
  PAYOUT_FAILED: ['PAYING', 'EXCEPTION'],
  PAID: [],
  CARRIED: [],
  EXCEPTION: [],
};

const FINAL_STATES: ReadonlySet<BatchStateName> = new Set(finalStatesOf(BATCH_TRANSITIONS));

export function isFinal(state: BatchStateName): boolean {
  return FINAL_STATES.has(state);
}

/** What a batch's items add up to (refunds positive; fees and shares net of what refunds returned). */
export interface BatchTotals {
  readonly itemCount: bigint;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  readonly feesMinor: bigint;
  readonly sharesMinor: bigint;
}

export function itemsNet(t: BatchTotals): bigint {
  return t.grossMinor - t.refundsMinor - t.feesMinor - t.sharesMinor;
}

export interface PayoutDecision {
  readonly payoutMinor: bigint;
  readonly carriedOutMinor: bigint;
}

/**
 * What is paid out and what is carried forward. Available = carried in +
 * the items' net. Below the minimum (or not positive: a negative net is a
 * debit the next cycle pays off) nothing is paid and everything is carried;
 * otherwise the D0 risk hold (rate of the available, rounded up) stays
 * behind and the rest is paid.
 */
export function decidePayout(
  carriedInMinor: bigint,
  totals: BatchTotals,
  minimumPayoutMinor: bigint,
  holdRate: string,
): PayoutDecision {
  const available = carriedInMinor + itemsNet(totals);
  if (available <= 0n || available < minimumPayoutMinor) {
    return { payoutMinor: 0n, carriedOutMinor: available };
  }
  const hold = holdRate === '0' ? 0n : computeFee(available, holdRate, 'ROUND_UP');
  const decision = { payoutMinor: available - hold, carriedOutMinor: hold };
  assert.equal(
    decision.payoutMinor + decision.carriedOutMinor,
    available,
    'nothing lost between payout and carry',
  );
  return decision;
}

export type Side = 'DEBIT' | 'CREDIT';

export interface PostingLeg {
  /** Named account, resolved to an id by the application. */
  readonly account: AccountName;
  readonly side: Side;
  readonly amountMinor: bigint;
}

export type AccountName =
  | { readonly kind: 'MERCHANT_PENDING'; readonly ownerId: string }
  | { readonly kind: 'PAYABLE'; readonly ownerId: string }
  | { readonly kind: 'FEE_INCOME' }
  | { readonly kind: 'CHANNEL_FEE_COST'; readonly channelNo: string }
  | { readonly kind: 'CHANNEL_CLEARING'; readonly channelNo: string }
  | { readonly kind: 'DEPOSIT'; readonly subject: string }
  | { readonly kind: 'TRANSIT'; readonly subject: string };

/** A leg crediting `creditMinor` (negative: debiting its opposite); none for 0. */
export function leg(account: AccountName, creditMinor: bigint): PostingLeg | undefined {
  if (creditMinor === 0n) return undefined;
  return creditMinor > 0n
    ? { account, side: 'CREDIT', amountMinor: creditMinor }
    : { account, side: 'DEBIT', amountMinor: -creditMinor };
}

/**
 * The settlement posting of a batch: Dr merchant pending settlement (what
 * the items moved there), Cr fee income, Cr each receiver's payable, Cr the
 * merchant's payable with the rest. Signed amounts flip sides (a day of
 * refunds above sales). The legs balance by construction; asserted.
 */
export function settlementLegs(
  merchantId: string,
  totals: BatchTotals,
  receiverShares: ReadonlyMap<string, bigint>,
): PostingLeg[] {
  const pendingDebit = totals.grossMinor - totals.refundsMinor;
  const sharesTotal = [...receiverShares.values()].reduce((a, s) => a + s, 0n);
  assert.equal(sharesTotal, totals.sharesMinor, 'receiver shares add up to the batch shares');
  const legs = [
    leg({ kind: 'MERCHANT_PENDING', ownerId: merchantId }, -pendingDebit),
    leg({ kind: 'FEE_INCOME' }, totals.feesMinor),
    ...[...receiverShares.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([receiverId, amount]) => leg({ kind: 'PAYABLE', ownerId: receiverId }, amount)),
    leg({ kind: 'PAYABLE', ownerId: merchantId }, itemsNet(totals)),
  ].filter((l): l is PostingLeg => l !== undefined);
  assertBalanced(legs);
  return legs;
}

export function assertBalanced(legs: readonly PostingLeg[]): void {
  const debit = legs.filter((l) => l.side === 'DEBIT').reduce((a, l) => a + l.amountMinor, 0n);
  const credit = legs.filter((l) => l.side === 'CREDIT').reduce((a, l) => a + l.amountMinor, 0n);
  assert.equal(debit, credit, 'a posting balances');
}

/** Payout in flight: Dr merchant payable / Cr the payout bank's pending clearing; a failure reverses it. */
export function payoutLegs(
  merchantId: string,
  payoutChannelNo: string,
  amountMinor: bigint,
  reverse: boolean,
): PostingLeg[] {
  assert.ok(amountMinor > 0n, 'a payout is positive');
  const payable: AccountName = { kind: 'PAYABLE', ownerId: merchantId };
  const clearing: AccountName = { kind: 'CHANNEL_CLEARING', channelNo: payoutChannelNo };
  return [
    { account: reverse ? clearing : payable, side: 'DEBIT', amountMinor },
    { account: reverse ? payable : clearing, side: 'CREDIT', amountMinor },
  ];
}

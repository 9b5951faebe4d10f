/**
 * The cashier's transition tables: the specification of every entity's life.
 * Production code changes a state only through these tables (the pg
 * adapters' `sql.transition(…)` reads the allowed `from` states out of
 * them), so the table is what a reviewer reads to know what can happen, and
 * a race between the Pay call, the channel event consumer, the recovery
 * worker and another replica applies each transition at most once.
 *
 * Payments: TRYING (reserve internal parts) → PROCESSING (channel part) →
 * CONFIRMING (confirm every part) → SUCCEEDED; or CANCELLING → FAILED. An
 * operator's FAILED decision may also cancel a CONFIRMING payment whose
 * channel did not take the money (confirmed internal parts are reversed).
 */
import { canTransition, finalStatesOf, statesOf, type TransitionTable } from '@paycore/platform/domain';
import type {
  OrderStateName,
  PartStateName,
  PaymentStateName,
  RefundStateName,
  WithdrawalStateName,
} from './model';

export const ORDER_TRANSITIONS: TransitionTable<OrderStateName> = {
  WAIT_PAY: ['PAID', 'CLOSED'],
  PAID: ['REFUNDED'],
  CLOSED: [],
  REFUNDED: [],
};

export const PAYMENT_TRANSITIONS: TransitionTable<PaymentStateName> = {
  TRYING: ['PROCESSING', 'CONFIRMING', 'CANCELLING'],
  PROCESSING: ['CONFIRMING', 'CANCELLING'],
  CONFIRMING: ['SUCCEEDED', 'CANCELLING'],
  CANCELLING: ['FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

/** A part of a payment: reserved (TRIED), then CONFIRMED or CANCELLED; a confirmed part is reversed on an operator's FAILED. */
export const PART_TRANSITIONS: TransitionTable<PartStateName> = {
  PLANNED: ['TRIED', 'CONFIRMED', 'CANCELLED'],
  TRIED: ['CONFIRMED', 'CANCELLED'],
  CONFIRMED: ['CANCELLED'],
  CANCELLED: [],
};

export const REFUND_TRANSITIONS: TransitionTable<RefundStateName> = {
  PROCESSING: ['SUCCEEDED', 'FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

export type RefundChannelStateName = 'NONE' | 'PENDING' | 'SUCCESS' | 'FAIL';
/** The channel part of a refund: asked (PENDING), then the channel's (or an operator's) outcome. */
export const REFUND_CHANNEL_TRANSITIONS: TransitionTable<RefundChannelStateName> = {
  NONE: ['PENDING', 'SUCCESS', 'FAIL'],
  PENDING: ['SUCCESS', 'FAIL'],
  SUCCESS: [],
  FAIL: [],
};

export const WITHDRAWAL_TRANSITIONS: TransitionTable<WithdrawalStateName> = {
  TRYING: ['PROCESSING', 'CANCELLING'],
  PROCESSING: ['CONFIRMING', 'CANCELLING'],
  CONFIRMING: ['SUCCEEDED'],
  CANCELLING: ['FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

export type CouponStateName = 'AVAILABLE' | 'RESERVED' | 'USED';
/** Reserved by a starting payment; used when it succeeds, available again when it fails. */
export const COUPON_TRANSITIONS: TransitionTable<CouponStateName> = {
  AVAILABLE: ['RESERVED'],
  RESERVED: ['USED', 'AVAILABLE'],
  USED: [],
};

export type NotificationStateName = 'PENDING' | 'DELIVERED' | 'GAVE_UP';
export const NOTIFICATION_TRANSITIONS: TransitionTable<NotificationStateName> = {
  PENDING: ['DELIVERED', 'GAVE_UP'],
  DELIVERED: [],
  GAVE_UP: [],
};

export type ExceptionStateName = 'OPEN' | 'RESOLVED';
/** One OPEN exception per flow at a time; a flow may get a new one after an earlier one was resolved. */
export const EXCEPTION_TRANSITIONS: TransitionTable<ExceptionStateName> = {
  OPEN: ['RESOLVED'],
  RESOLVED: [],
};

export const canOrder = (from: OrderStateName, to: OrderStateName): boolean =>
  canTransition(ORDER_TRANSITIONS, from, to);
export const canPayment = (from: PaymentStateName, to: PaymentStateName): boolean =>
  canTransition(PAYMENT_TRANSITIONS, from, to);
export const canRefund = (from: RefundStateName, to: RefundStateName): boolean =>
  canTransition(REFUND_TRANSITIONS, from, to);
export const canWithdrawal = (from: WithdrawalStateName, to: WithdrawalStateName): boolean =>
  canTransition(WITHDRAWAL_TRANSITIONS, from, to);

export const FINAL_PAYMENT_STATES = finalStatesOf(PAYMENT_TRANSITIONS);
export const FINAL_WITHDRAWAL_STATES = finalStatesOf(WITHDRAWAL_TRANSITIONS);
export const isFinalPayment = (state: PaymentStateName): boolean => FINAL_PAYMENT_STATES.includes(state);
export const isFinalWithdrawal = (state: WithdrawalStateName): boolean =>
  FINAL_WITHDRAWAL_STATES.includes(state);

/** States that are not final: the flows the recovery worker resumes. */
export function openStatesOf<S extends string>(table: TransitionTable<S>): S[] {
  return statesOf(table).filter((state) => table[state].length > 0);
}

/** What a channel transaction's state means for the flow waiting on it. */
export type ChannelDecision = 'CONFIRM' | 'CANCEL' | 'WAIT';

export function decideFromChannel(
  state: 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'CLOSED' | 'UNKNOWN',
): ChannelDecision {
  if (state === 'SUCCESS') return 'CONFIRM';
  if (state === 'FAIL' || state === 'CLOSED') return 'CANCEL';
  return 'WAIT';
}

/** The order's state after a refund succeeded, given what is refunded in total. */
export function orderStateAfterRefund(paidMinor: bigint, refundedMinor: bigint): OrderStateName {
  return refundedMinor >= paidMinor ? 'REFUNDED' : 'PAID';
}

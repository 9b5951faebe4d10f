/**
 * State machines of orders, payments, refunds and withdrawals, as tables of
 * allowed transitions. Stores update states with `WHERE state = <from>`, so
 * the table plus that guard make every transition happen at most once, even
 * when the Pay call, the channel event consumer and the recovery worker race.
 */
import type { OrderStateName, PaymentStateName, RefundStateName, WithdrawalStateName } from './model';

const ORDER: Readonly<Record<OrderStateName, readonly OrderStateName[]>> = {
  WAIT_PAY: ['PAID', 'CLOSED'],
  PAID: ['REFUNDED'],
  CLOSED: [],
  REFUNDED: [],
};

const PAYMENT: Readonly<Record<PaymentStateName, readonly PaymentStateName[]>> = {
  TRYING: ['PROCESSING', 'CONFIRMING', 'CANCELLING'],
  PROCESSING: ['CONFIRMING', 'CANCELLING'],
  CONFIRMING: ['SUCCEEDED'],
  CANCELLING: ['FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

const REFUND: Readonly<Record<RefundStateName, readonly RefundStateName[]>> = {
  PROCESSING: ['SUCCEEDED', 'FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

const WITHDRAWAL: Readonly<Record<WithdrawalStateName, readonly WithdrawalStateName[]>> = {
  TRYING: ['PROCESSING', 'CANCELLING'],
  PROCESSING: ['CONFIRMING', 'CANCELLING'],
  CONFIRMING: ['SUCCEEDED'],
  CANCELLING: ['FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

export const canOrder = (from: OrderStateName, to: OrderStateName): boolean => ORDER[from].includes(to);
export const canPayment = (from: PaymentStateName, to: PaymentStateName): boolean =>
  PAYMENT[from].includes(to);
export const canRefund = (from: RefundStateName, to: RefundStateName): boolean => REFUND[from].includes(to);
export const canWithdrawal = (from: WithdrawalStateName, to: WithdrawalStateName): boolean =>
  WITHDRAWAL[from].includes(to);

export const isFinalPayment = (state: PaymentStateName): boolean => PAYMENT[state].length === 0;
export const isFinalWithdrawal = (state: WithdrawalStateName): boolean => WITHDRAWAL[state].length === 0;

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

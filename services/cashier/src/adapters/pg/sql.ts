/**
 * What the cashier's pg repositories share: the entities whose states the
 * unit of work changes (each names its domain transition table), a reader for
 * statements outside a transaction, and state lists rendered from the domain
 * tables (so that no SQL names a state by hand, and partial indexes whose
 * predicates list the final states still match).
 */
import type { EntityStates } from '@paycore/platform';
import { finalStatesOf, type TransitionTable } from '@paycore/platform/domain';
import type {
  OrderStateName,
  PaymentStateName,
  RefundStateName,
  WithdrawalStateName,
} from '../../domain/model';
import {
  COUPON_TRANSITIONS,
  EXCEPTION_TRANSITIONS,
  NOTIFICATION_TRANSITIONS,
  ORDER_TRANSITIONS,
  PAYMENT_TRANSITIONS,
  REFUND_TRANSITIONS,
  WITHDRAWAL_TRANSITIONS,
  type CouponStateName,
  type ExceptionStateName,
  type NotificationStateName,
} from '../../domain/states';

export { poolReader, type Queryable } from '@paycore/platform';

const entity = <S extends string>(
  name: string,
  table: string,
  idColumn: string,
  transitions: TransitionTable<S>,
  reported: Pick<EntityStates<S>, 'amountColumn' | 'currencyColumn'> = {},
): EntityStates<S> => ({ name, table, idColumn, stateColumn: 'state', transitions, ...reported });

/** The money columns each state change reports on its span (`paycore trace` shows them). */
const AMOUNT_AND_CURRENCY = { amountColumn: 'amount_minor', currencyColumn: 'currency' } as const;

export const ORDERS = entity<OrderStateName>(
  'order',
  'orders',
  'order_id',
  ORDER_TRANSITIONS,
  AMOUNT_AND_CURRENCY,
);
// payments carry no currency of their own: the order's.
export const PAYMENTS = entity<PaymentStateName>('payment', 'payments', 'payment_id', PAYMENT_TRANSITIONS, {
  amountColumn: 'amount_minor',
});
export const REFUNDS = entity<RefundStateName>(
  'refund',
  'refunds',
  'refund_id',
  REFUND_TRANSITIONS,
  AMOUNT_AND_CURRENCY,
);
export const WITHDRAWALS = entity<WithdrawalStateName>(
  'withdrawal',
  'withdrawals',
  'withdrawal_id',
  WITHDRAWAL_TRANSITIONS,
  AMOUNT_AND_CURRENCY,
);
export const COUPONS = entity<CouponStateName>('coupon', 'coupons', 'coupon_id', COUPON_TRANSITIONS);
export const NOTIFICATIONS = entity<NotificationStateName>(
  'notification',
  'notifications',
  'notification_id',
  NOTIFICATION_TRANSITIONS,
);
export const EXCEPTIONS = entity<ExceptionStateName>(
  'exception',
  'exceptions',
  'exception_id',
  EXCEPTION_TRANSITIONS,
);

/** `('A', 'B')` of states taken from a domain table (identifiers checked), for predicates of partial indexes. */
export function stateList(states: readonly string[]): string {
  for (const s of states) if (!/^[A-Z_]+$/.test(s)) throw new Error(`state ${s} is not a plain name`);
  return `(${states.map((s) => `'${s}'`).join(', ')})`;
}

/** Payments not in a final state, the predicate rendered from the table (matches the partial indexes). */
export const PAYMENT_NOT_FINAL = `state NOT IN ${stateList(finalStatesOf(PAYMENT_TRANSITIONS))}`;
export const WITHDRAWAL_NOT_FINAL = `state NOT IN ${stateList(finalStatesOf(WITHDRAWAL_TRANSITIONS))}`;
export const REFUND_NOT_FINAL = `state NOT IN ${stateList(finalStatesOf(REFUND_TRANSITIONS))}`;
